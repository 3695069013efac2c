"""One write = one commit, or nothing.

``GitStore.transaction(...)`` takes the repository's write lock, reads the branch head, and
yields a ``Transaction`` that records file writes and deletions. On a clean exit it makes exactly
one commit through git's plumbing and moves the branch with a compare-and-swap; on an exception
it leaves no trace.

How "no trace" holds at every step:

1. Blobs, trees and the commit are written (by gitdb, GitPython's object database) into a
   quarantine directory inside ``.git/objects``, as git's own ``receive-pack`` does. Only the
   trees on a changed path are rewritten. A failure here deletes the quarantine: the
   repository never saw the objects.
2. If the branch is checked out, ``git status`` limited to the touched paths checks that the
   work tree has no local change to any of them.
3. The objects move into the object store (renames within one file system); the names that
   were not there before are remembered.
4. ``git update-ref <branch> <new> <old>`` moves the branch only if it still points at the
   commit the write was based on. If it fails, the objects moved in step 3 are removed again.
5. The checked-out work tree and index follow: the index entries of the changed paths are set
   and those files written from the index (``git checkout-index``), or removed. If that fails,
   the branch is moved back and the objects removed.

Nothing shells out through a shell, and every path has been checked by the caller.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitdb import IStream, LooseObjectDB

from cms.errors import CMSError, NotFound
from cms.storage.git import LRU, Identity, TreeEntry

if TYPE_CHECKING:
    from cms.storage.git import GitStore


class GitFailure(CMSError):
    """A git command failed while writing; nothing was changed."""

    status = 500


class WorkTreeConflict(CMSError):
    """The checked-out work tree has local edits to a file the write touches."""

    status = 409


class BranchMoved(CMSError):
    """The branch moved while the write was being made; nothing was changed."""

    status = 409


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str
    paths: tuple[str, ...]


@dataclass
class Transaction:
    """The changes of one write, against the branch head ``base``."""

    store: GitStore
    branch: str
    base: str
    message: str = ""
    changes: dict[str, bytes | None] = field(default_factory=dict)
    result: Commit | None = None

    def read(self, path: str) -> TreeEntry | None:
        """The file at ``path`` as this write sees it (its own changes first)."""
        if path in self.changes:
            data = self.changes[path]
            return None if data is None else TreeEntry(path, "")
        return self.store.blob_at(self.base, path)

    def write(self, path: str, data: bytes) -> None:
        self.changes[path] = data

    def delete(self, path: str) -> None:
        self.changes[path] = None


class Writer:
    """Makes the commit of a Transaction (see the module's docstring for the steps)."""

    def __init__(self, store: GitStore) -> None:
        self.store = store
        self.root = store.path
        self.objects = store.objects_dir

    def _git(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            env={**os.environ, **(env or {}), "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
        if check and result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise GitFailure(f"git {args[0]} failed: {message}")
        return result.stdout.decode("utf-8", "surrogateescape")

    def commit(
        self, tx: Transaction, message: str, author: Identity, committer: Identity
    ) -> Commit:
        quarantine = Path(tempfile.mkdtemp(prefix="incoming-cms-", dir=self.objects))
        try:
            objects = LooseObjectDB(str(quarantine))
            blobs = {
                path: _store(objects, b"blob", data)
                for path, data in tx.changes.items()
                if data is not None
            }
            changes = {path: blobs.get(path) for path in tx.changes}
            base_tree = self.store.repo.commit(tx.base).tree.binsha
            modes: dict[str, int] = {}
            encoded = {p.encode("utf-8", "surrogateescape"): b for p, b in changes.items()}
            tree = self._tree(base_tree, encoded, objects, modes=modes)
            if tree is None:  # the change removed every file
                tree = bytes.fromhex(_store(objects, b"tree", b""))
            new = _store(
                objects, b"commit", _commit_object(tree, tx.base, author, committer, message)
            )
            checked_out = self.store.checked_out_branch() == tx.branch
            if checked_out:
                self._check_work_tree(tx)
            moved = self._migrate(quarantine)
        finally:
            shutil.rmtree(quarantine, ignore_errors=True)
        try:
            self._git("update-ref", f"refs/heads/{tx.branch}", new, tx.base)
        except GitFailure:
            self._remove(moved)
            raise BranchMoved(
                f"branch {tx.branch!r} moved while this write was made; nothing was written"
            ) from None
        if checked_out:
            try:
                self._update_work_tree(changes, modes)
            except CMSError:
                self._git("update-ref", f"refs/heads/{tx.branch}", tx.base, new, check=False)
                self._remove(moved)
                raise
        return Commit(new, tx.base, tuple(tx.changes))

    # -- trees ----------------------------------------------------------------------------------

    def _tree(
        self,
        tree: bytes | None,
        changes: dict[bytes, str | None],
        objects: LooseObjectDB,
        prefix: bytes = b"",
        modes: dict[str, int] | None = None,
    ) -> bytes | None:
        """The id of ``tree`` with ``changes`` (path → blob sha, or None to delete) applied;
        None when the result is empty. Only the trees on a changed path are read and written:
        a one-file change in a folder of 10,000 files rewrites two trees. The mode each
        written path ends up with is put in ``modes``."""
        entries = dict(self._entries(tree)) if tree else {}
        here: dict[bytes, str | None] = {}
        below: dict[bytes, dict[bytes, str | None]] = {}
        for path, blob in changes.items():
            head, _, rest = path.partition(b"/")
            if rest:
                below.setdefault(head, {})[rest] = blob
            else:
                here[head] = blob
        for name, blob in here.items():
            if blob is None:
                entries.pop(name, None)
                continue
            mode = entries[name][0] if name in entries else BLOB_MODE
            mode = BLOB_MODE if mode == TREE_MODE else mode
            entries[name] = (mode, bytes.fromhex(blob))
            if modes is not None:
                modes[(prefix + name).decode("utf-8", "surrogateescape")] = int(mode, 8)
        for name, sub_changes in below.items():
            current = entries.get(name)
            sub_tree = current[1] if current and current[0] == TREE_MODE else None
            new_sub = self._tree(sub_tree, sub_changes, objects, prefix + name + b"/", modes)
            if new_sub is None:
                entries.pop(name, None)
            else:
                entries[name] = (TREE_MODE, new_sub)
        if not entries:
            return None
        known = self._entries(tree) if tree else {}
        if any(name not in known for name in here) or any(name not in known for name in below):
            entries = dict(sorted(entries.items(), key=_tree_order))  # new names: sort again
        new = bytes.fromhex(_store(objects, b"tree", serialize_tree(entries)))
        _PARSED.put(new, entries)
        return new

    def _entries(self, tree: bytes) -> dict[bytes, tuple[bytes, bytes]]:
        """A tree's entries in git's order; the large ones the last writes read or made are
        kept parsed, so consecutive edits of one big folder do not parse it again."""
        cached = _PARSED.get(tree)
        if cached is None:
            cached = _PARSED.put(tree, parse_tree(self.store.repo.odb.stream(tree).read()))
        return cached

    # -- objects --------------------------------------------------------------------------------

    def _migrate(self, quarantine: Path) -> list[Path]:
        """Move the quarantined loose objects into the object store; the ones that were new."""
        moved: list[Path] = []
        for folder in sorted(quarantine.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            target_folder = self.objects / folder.name
            target_folder.mkdir(exist_ok=True)
            for item in folder.iterdir():
                target = target_folder / item.name
                if target.exists():
                    continue
                os.replace(item, target)
                moved.append(target)
        return moved

    @staticmethod
    def _remove(paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    # -- the work tree --------------------------------------------------------------------------

    def _check_work_tree(self, tx: Transaction) -> None:
        """No local change (staged, unstaged, or an untracked file in the way) to any file this
        write touches. ``git status`` is limited to the tracked ones and takes no lock; a path
        the branch does not have yet must simply not exist in the work tree."""
        tracked = [path for path in tx.changes if self.store.blob_at(tx.base, path) is not None]
        dirty = [path for path in tx.changes if path not in tracked and self._exists(path)]
        if tracked:
            status = self._git(
                "--no-optional-locks",
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=no",
                "--",
                *tracked,
                check=False,
            )
            dirty += [record[3:] for record in status.split("\0") if len(record) > 3]
        if dirty:
            raise WorkTreeConflict(
                "the checked-out work tree has uncommitted changes to the files this write "
                "touches; commit or discard them first",
                {"paths": sorted(set(dirty))},
            )

    def _exists(self, path: str) -> bool:
        return os.path.lexists(self.root / path)

    def _update_work_tree(self, changes: dict[str, str | None], modes: dict[str, int]) -> None:
        """Set the index entries of the changed paths, then write those files from the index
        (smudge filters and line endings applied as a checkout would) or remove them."""
        listing = "".join(
            f"{modes.get(path, 0o100644):o} {blob} 0\t{path}\0"
            if blob
            else f"0 {'0' * 40}\t{path}\0"
            for path, blob in changes.items()
        )
        try:
            self._git("update-index", "-z", "--index-info", stdin=listing.encode())
            written = [path for path, blob in changes.items() if blob]
            if written:
                self._git("checkout-index", "-f", "-q", "--", *written)
        except GitFailure as exc:
            raise WorkTreeConflict(
                "the checked-out work tree could not take this write; nothing was written",
                {"git": exc.message},
            ) from None
        for path, blob in changes.items():
            if blob is None:
                target = self.root / path
                target.unlink(missing_ok=True)
                _remove_empty_parents(target.parent, self.root)


BLOB_MODE = b"100644"
TREE_MODE = b"40000"


def parse_tree(data: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """A raw git tree object as {name: (mode, binary sha)}, in the tree's order."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[position:space], data[nul + 1 : nul + 21])
        position = nul + 21
    return entries


def _tree_order(item: tuple[bytes, tuple[bytes, bytes]]) -> bytes:
    """Git's order of tree entries: names as bytes, a tree's name as if it ended with '/'."""
    name, (mode, _) = item
    return name + b"/" if mode == TREE_MODE else name


def serialize_tree(entries: dict[bytes, tuple[bytes, bytes]]) -> bytes:
    """A raw git tree object from entries already in git's order."""
    return b"".join(mode + b" " + name + b"\0" + sha for name, (mode, sha) in entries.items())


# Parsed trees by id (immutable, so safe to share): few, since only the trees on the paths of
# recent writes are kept.
_PARSED: LRU[bytes, dict[bytes, tuple[bytes, bytes]]] = LRU(64)


def _store(objects: LooseObjectDB, kind: bytes, data: bytes) -> str:
    return objects.store(IStream(kind, len(data), io.BytesIO(data))).hexsha.decode()


def _person(identity: Identity, when: int, offset: str) -> str:
    name = " ".join(identity.name.replace("<", "").replace(">", "").split()) or "unknown"
    email = "".join(identity.email.replace("<", "").replace(">", "").split())
    return f"{name} <{email}> {when} {offset}"


def _commit_object(
    tree: bytes, parent: str, author: Identity, committer: Identity, message: str
) -> bytes:
    when = int(time.time())
    seconds = time.localtime(when).tm_gmtoff
    sign = "-" if seconds < 0 else "+"
    offset = f"{sign}{abs(seconds) // 3600:02d}{abs(seconds) % 3600 // 60:02d}"
    text = (
        f"tree {tree.hex()}\nparent {parent}\n"
        f"author {_person(author, when, offset)}\n"
        f"committer {_person(committer, when, offset)}\n\n"
        f"{message.rstrip()}\n"
    )
    return text.encode("utf-8")


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


@contextmanager
def transaction(
    store: GitStore,
    branch: str,
    message: str,
    author: Identity,
    committer: Identity,
) -> Iterator[Transaction]:
    """Hold the write lock, yield a Transaction on the branch head, commit it on a clean exit.

    The commit made is left on the transaction as ``tx.result`` (None when nothing changed);
    ``tx.message`` may be set inside the block, once the change is known.
    """
    with store.write_lock.hold():
        try:
            base = store.resolve_branch(branch)
        except NotFound:
            raise NotFound(f"no branch named {branch!r}", {"branch": branch}) from None
        tx = Transaction(store, branch, base, message)
        yield tx
        if tx.changes:
            if not tx.message.strip():
                raise ValueError("a commit needs a message")
            tx.result = Writer(store).commit(tx, tx.message, author, committer)
