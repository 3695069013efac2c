"""Git tree objects, and the files that differ between two commits read from their trees.

``git diff-tree -r`` reads every tree it compares in full: a folder collection of 100,000
files is one tree object of about 5 MB, and a one-file commit costs git two of them (60-90
ms). ``Trees`` keeps the large trees a diff has read in memory, with the offsets of some of
their entries, so the next diff reads only the new tree and parses only what differs: two
trees are walked side by side in git's order, as git does, but every run of bytes they have
in common is stepped over at once (found by comparing bytes, not entries).

A diff that would read more than ``MAX_ENTRIES`` entries gives up (None), and the caller asks
git instead: so many changes cost git no more than they would cost us.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cms.storage.lru import LRU

ENTRY = re.compile(rb"([0-7]+) ([^\0]+)\0(.{20})", re.S)
STRIDE = 64
STRIDE_ENTRIES = re.compile(rb"(?:[0-7]+ [^\0]+\0.{20}){%d}" % STRIDE, re.S)
LARGE = 64 << 10  # trees of this many bytes or more are kept in memory
FIRST_STEP = 256  # bytes compared first when looking for where two trees differ
MAX_ENTRIES = 4_000  # entries read in one diff before it gives up (and git does it)
TREE = b"40000"
ABSENT = "000000"
ZERO = "0" * 40

# (path, old mode, new mode, old sha, new sha, status) of one file, as `git diff-tree -r`
# prints them: the mode is ABSENT and the sha ZERO on the side the file is missing from.
Raw = tuple[str, str, str, str, str, str]
Entries = dict[bytes, tuple[bytes, bytes]]  # name → (mode, binary sha)
Pair = tuple[bytes, tuple[bytes, bytes] | None, tuple[bytes, bytes] | None]  # name, was, now


def parse_tree(data: bytes) -> Entries:
    """A raw git tree object as {name: (mode, binary sha)}, in the tree's order."""
    entries: Entries = {}
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[position:space], data[nul + 1 : nul + 21])
        position = nul + 21
    return entries


class TooLarge(Exception):
    """The diff reads more entries than it is worth: git should do it."""


@dataclass
class Tree:
    """A tree object's bytes, and the offsets of some of its entries (of every ``STRIDE``-th
    one, found when first needed, or given by a diff): where reading may start."""

    data: bytes
    marks: list[int] | None = field(default=None)

    def starts(self) -> list[int]:
        if self.marks is None:
            marks, position = [0], 0
            while (found := STRIDE_ENTRIES.match(self.data, position)) is not None:
                position = found.end()
                marks.append(position)
            self.marks = marks
        return self.marks

    def boundary(self, offset: int) -> int:
        """The start of the entry that holds the byte at ``offset`` (the end, past it)."""
        marks = self.starts()
        position = marks[bisect_right(marks, offset) - 1]
        while position < len(self.data):
            found = _entry(self.data, position)
            if found.end() > offset:
                break
            position = found.end()
        return position


def _entry(data: bytes, position: int) -> re.Match[bytes]:
    found = ENTRY.match(data, position)
    if found is None:
        raise ValueError("not a git tree object")
    return found


def _key(entry: re.Match[bytes]) -> bytes:
    """An entry's place in git's order of a tree: a folder sorts as its name and a slash."""
    return entry[2] + b"/" if entry[1] == TREE else entry[2]


def common_run(a: bytes, i: int, b: bytes, j: int) -> int:
    """How many bytes ``a`` from ``i`` and ``b`` from ``j`` have in common: a run that
    doubles while it holds, then halves to the first byte that differs (memcmp does the
    comparing, on a view of ``b``: nothing is copied; each byte of a long run is compared
    about three times)."""
    limit = min(len(a) - i, len(b) - j)
    view = memoryview(b)
    same, step = 0, FIRST_STEP
    while same < limit:
        step = min(step, limit - same)
        if not a.startswith(view[j + same : j + same + step], i + same):
            break
        same += step
        step *= 2
    else:
        return same
    while step > 1:  # the first difference is within the next `step` bytes
        half = step // 2
        if a.startswith(view[j + same : j + same + half], i + same):
            same += half
            step -= half
        else:
            step = half
    return same


def differing(old: Tree, new: Tree, budget: list[int]) -> Iterator[Pair]:
    """The entries of two trees that differ (name, old (mode, sha), new (mode, sha); None
    where missing), walked side by side in git's order; every run of bytes the two have in
    common is stepped over at once. ``budget``: how many more entries may be read (TooLarge
    past it). ``new`` gets its marks from ``old``'s."""
    a, b = old.data, new.data
    marks = old.starts()
    new_marks: list[int] = []
    i = j = 0  # where the next entry of a, and of b, starts
    while True:
        target = old.boundary(i + common_run(a, i, b, j))
        if target > i:  # the same entries, byte for byte, from i in a and from j in b
            skipped = marks[bisect_left(marks, i) : bisect_left(marks, target)]
            new_marks.extend(mark + j - i for mark in skipped)
            i, j = target, j + target - i
        if i >= len(a) and j >= len(b):
            break
        budget[0] -= 1
        if budget[0] < 0:
            raise TooLarge
        was = _entry(a, i) if i < len(a) else None
        now = _entry(b, j) if j < len(b) else None
        if was is not None and (now is None or _key(was) < _key(now)):
            yield was[2], (was[1], was[3]), None
            i = was.end()
        elif now is not None and (was is None or _key(now) < _key(was)):
            yield now[2], None, (now[1], now[3])
            new_marks.append(j)
            j = now.end()
        elif was is not None and now is not None:
            if (was[1], was[3]) != (now[1], now[3]):
                yield was[2], (was[1], was[3]), (now[1], now[3])
            new_marks.append(j)
            i, j = was.end(), now.end()
    if new.marks is None:
        new.marks = sorted({0, *new_marks})


class Trees:
    """Diffs of commits' trees, keeping the large trees read in memory (``budget`` bytes)."""

    def __init__(
        self, read: Callable[[str], bytes], budget: int = 48 << 20, large: int = LARGE
    ) -> None:
        self._read = read  # a tree object's bytes, by sha
        self.large = large
        self._kept: LRU[str, Tree] = LRU(64, max_bytes=budget, weigh=lambda t: len(t.data))
        self._latest: dict[bytes, str] = {}  # folder → its large tree read last

    def tree(self, sha: str) -> Tree:
        found = self._kept.get(sha)
        if found is None:
            found = Tree(self._read(sha))
            if len(found.data) >= self.large:
                self._kept.put(sha, found)
        return found

    def keep(self, root: str, folder: str) -> None:
        """Read ahead the tree of ``folder`` (a/b/c) under the tree ``root``, and the offsets
        a diff starts from, if it is large: the next diff from this commit reads only the new
        tree. A missing folder is nothing to read."""
        sha, prefix = root, b""
        for name in filter(None, folder.encode("utf-8", "surrogateescape").split(b"/")):
            found = parse_tree(self.tree(sha).data).get(name)
            if found is None or found[0] != TREE:
                return
            sha, prefix = found[1].hex(), prefix + name + b"/"
        tree = self.tree(sha)
        if len(tree.data) >= self.large:
            self._marked(prefix, tree)
            tree.starts()
            self._seen(prefix, sha)

    def _seen(self, prefix: bytes, sha: str) -> None:
        if len(self._latest) >= 256:
            self._latest.clear()
        self._latest[prefix] = sha

    def _marked(self, prefix: bytes, tree: Tree) -> None:
        """Give a large tree without marks the marks of the one last read at its place (a
        walk of what differs), instead of reading it all."""
        if tree.marks is not None or prefix not in self._latest:
            return
        last = self._kept.get(self._latest[prefix])
        if last is None or last.marks is None or last is tree:
            return
        try:
            for _ in differing(last, tree, [MAX_ENTRIES]):
                pass
        except TooLarge:
            pass  # too different: found by reading it all, when needed

    def diff(self, old: str, new: str) -> list[Raw] | None:
        """What ``git diff-tree -r --no-renames`` lists between two trees, in its order; None
        when that means reading more than ``MAX_ENTRIES`` entries here."""
        try:
            changes = list(self._diff(old, new, b"", [MAX_ENTRIES]))
        except TooLarge:
            return None
        return sorted(changes, key=lambda change: change[0].encode("utf-8", "surrogateescape"))

    def _diff(self, old: str, new: str, prefix: bytes, budget: list[int]) -> Iterator[Raw]:
        if old == new:
            return
        before, after = self.tree(old), self.tree(new)
        if len(before.data) >= self.large:
            self._marked(prefix, before)
        if len(after.data) >= self.large:
            self._seen(prefix, new)
        for name, was, now in differing(before, after, budget):
            path = prefix + name
            if was is not None and now is not None and was[0] == TREE == now[0]:
                yield from self._diff(was[1].hex(), now[1].hex(), path + b"/", budget)
                continue
            if was is not None and was[0] == TREE:
                yield from self._listed(was[1].hex(), path + b"/", budget, deleted=True)
                was = None
            if now is not None and now[0] == TREE:
                yield from self._listed(now[1].hex(), path + b"/", budget, deleted=False)
                now = None
            text = path.decode("utf-8", "surrogateescape")
            if was is not None and now is not None:
                status = "M" if _kind(was[0]) == _kind(now[0]) else "T"
                yield (text, _mode(was[0]), _mode(now[0]), was[1].hex(), now[1].hex(), status)
            elif now is not None:
                yield (text, ABSENT, _mode(now[0]), ZERO, now[1].hex(), "A")
            elif was is not None:
                yield (text, _mode(was[0]), ABSENT, was[1].hex(), ZERO, "D")

    def _listed(self, sha: str, prefix: bytes, budget: list[int], deleted: bool) -> Iterator[Raw]:
        """Every file under a tree, as deleted (or added)."""
        entries = parse_tree(self.tree(sha).data)
        budget[0] -= len(entries)
        if budget[0] < 0:
            raise TooLarge
        for name, (mode, blob) in entries.items():
            if mode == TREE:
                yield from self._listed(blob.hex(), prefix + name + b"/", budget, deleted)
                continue
            text = (prefix + name).decode("utf-8", "surrogateescape")
            if deleted:
                yield (text, _mode(mode), ABSENT, blob.hex(), ZERO, "D")
            else:
                yield (text, ABSENT, _mode(mode), ZERO, blob.hex(), "A")


def _mode(mode: bytes) -> str:
    return mode.decode("ascii").rjust(6, "0")


def _kind(mode: bytes) -> bytes:
    """A mode's type of file: a regular file whatever its permissions, a link, a submodule."""
    return b"100" if mode.startswith(b"100") else mode
