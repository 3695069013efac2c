"""One write = one commit, or nothing.

``GitStore.transaction(...)`` takes the repository's write lock (finishing or undoing a write
that was interrupted, see ``journal``), reads the branch head, and yields a ``Transaction`` that
records file writes and deletions. On a clean exit it makes exactly one commit through git's
plumbing and moves the branch with a compare-and-swap; on an exception it leaves no trace.

How "no trace" holds at every step:

1. Blobs, trees and the commit are written (by gitdb, GitPython's object database) into a
   quarantine directory inside ``.git/objects``, as git's own ``receive-pack`` does. Only the
   trees on a changed path are rewritten; a path through a symbolic link or a file is refused,
   and so is a name longer than the file system takes. A failure here deletes the quarantine:
   the repository never saw the objects.
2. If the branch is checked out, ``git status`` limited to the touched paths checks that the
   work tree has no local change to any of them, and no folder on their way is a symbolic link.
3. The objects move into the object store (renames within one file system). They are never
   removed again: until a ref names them they are unreachable, which is harmless (``git gc``
   prunes them), whereas removing an object that a reflog or the index names corrupts the
   repository.
4. A git lock file in the way that is not ours is a 503 naming it. The journal of the write is
   recorded, then ``git update-ref <branch> <new> <old>`` moves the branch only if it still
   points at the commit the write was based on.
5. The checked-out work tree and index follow (``worktree``): the index entries of the changed
   paths are set and those files written from the index, or removed. If that fails, the index
   entries and files go back to the old commit's, then the branch does.
6. The journal is removed. A process killed between 4 and 6 leaves it, and the next holder of
   the write lock completes or undoes the step.

No git hook runs (``command``), nothing shells out through a shell, and every path has been
checked by the caller.
"""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitdb import IStream, LooseObjectDB

from cms.errors import CMSError, Conflict, NotFound, Unprocessable
from cms.storage import command, faults
from cms.storage.git import Identity, TreeEntry
from cms.storage.journal import record
from cms.storage.lru import LRU
from cms.storage.remote import RemoteMoved, Update
from cms.storage.trees import parse_tree
from cms.storage.worktree import RepositoryLocked, State, WorkTree, existing, lock_files

if TYPE_CHECKING:
    from cms.storage.git import GitStore

log = logging.getLogger(__name__)


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

    def commit(
        self, tx: Transaction, message: str, author: Identity, committer: Identity
    ) -> Commit:
        for path in tx.changes:
            check_name_lengths(path)
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
            old: dict[str, State | None] = dict.fromkeys(tx.changes)
            encoded = {p.encode("utf-8", "surrogateescape"): b for p, b in changes.items()}
            tree = self._tree(base_tree, encoded, objects, modes=modes, old=old)
            if tree is None:  # the change removed every file
                tree = bytes.fromhex(_store(objects, b"tree", b""))
            new = _store(
                objects, b"commit", _commit_object(tree, tx.base, author, committer, message)
            )
            checked_out = self.store.checked_out_branch() == tx.branch
            if checked_out:
                self._check_work_tree(tx)
            self._migrate(quarantine)
        finally:
            shutil.rmtree(quarantine, ignore_errors=True)
        states = {
            path: State(modes.get(path, 0o100644), blob) if blob else None
            for path, blob in changes.items()
        }
        self._check_locks(tx.branch, checked_out)
        remote = self.store.remote
        if remote is not None:
            remote.push([Update.branch(tx.branch, tx.base, new)])
        try:
            self.move(tx.branch, tx.base, new, old, states, checked_out)
        except Exception:
            if remote is not None:
                # Rolled back here: take the commit back from the remote too (if nobody built
                # on it yet), so that "nothing was written" holds there as well.
                try:
                    remote.push([Update.branch(tx.branch, new, tx.base)])
                except CMSError as error:
                    log.error("could not take %s back from the remote: %s", new[:12], error)
            raise
        return Commit(new, tx.base, tuple(tx.changes))

    def advance(self, branch: str, old: str, new: str) -> None:
        """Move ``branch`` from ``old`` to ``new``, a commit already in the object store (one
        fetched from the remote), its work tree following the way a write's does: refused
        (WorkTreeConflict) if a local edit is in the way, journaled, rolled back on failure."""
        before, after = self._states(old, new)
        checked_out = self.store.checked_out_branch() == branch
        if checked_out:
            self._check_clean(old, list(after), [p for p, s in before.items() if s is not None])
        self._check_locks(branch, checked_out)
        self.move(branch, old, new, before, after, checked_out)

    def _states(
        self, old: str, new: str
    ) -> tuple[dict[str, State | None], dict[str, State | None]]:
        """What each path that differs between two commits holds in each."""
        listed = command.run(self.root, ["diff-tree", "-r", "-z", "--no-renames", old, new])
        if listed.returncode != 0:
            raise CMSError(f"git diff-tree failed: {command.stderr_text(listed)}")
        fields = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
        before: dict[str, State | None] = {}
        after: dict[str, State | None] = {}
        for position in range(0, len(fields) - 1, 2):
            old_mode, new_mode, old_sha, new_sha, _ = fields[position].lstrip(":").split(" ")
            path = fields[position + 1]
            before[path] = State(int(old_mode, 8), old_sha) if int(old_mode, 8) else None
            after[path] = State(int(new_mode, 8), new_sha) if int(new_mode, 8) else None
        return before, after

    def _check_locks(self, branch: str, checked_out: bool) -> None:
        here = self.store.head_branch() == branch
        held = existing(
            lock_files(self.store.git_dir, self.store.common_dir, branch, here, checked_out)
        )
        if held:
            raise RepositoryLocked(held[0], self.root)

    def move(
        self,
        branch: str,
        base: str,
        new: str,
        old: dict[str, State | None],
        states: dict[str, State | None],
        checked_out: bool,
    ) -> None:
        """Steps 4 to 6: journal, compare-and-swap of the branch, work tree, journal removed."""
        self.store.journal.write(record(branch, base, new, old, states, checked_out))
        faults.reached("before-ref")
        moved = command.run(self.root, ["update-ref", f"refs/heads/{branch}", new, base])
        if moved.returncode != 0:
            self.store.journal.clear()
            self._refused(branch, command.stderr_text(moved))
        faults.reached("after-ref")
        if checked_out:
            work_tree = WorkTree(self.root)
            try:
                faults.reached("work-tree")
                work_tree.apply(states, files=[p for p in states if _is_file(old, states, p)])
            except Exception as exc:
                self._roll_back(work_tree, branch, base, new, old)
                if isinstance(exc, CMSError):
                    raise WorkTreeConflict(
                        "the checked-out work tree could not take this write; nothing was written",
                        {"git": exc.message},
                    ) from None
                raise
        faults.reached("before-done")
        self.store.journal.clear()

    def _refused(self, branch: str, message: str) -> None:
        held = existing(lock_files(self.store.git_dir, self.store.common_dir, branch, True, True))
        if held:
            raise RepositoryLocked(held[0], self.root)
        raise BranchMoved(
            f"branch {branch!r} moved while this write was made; nothing was written",
            {"git": message} if "lock" in message else None,
        )

    def _roll_back(
        self, tree: WorkTree, branch: str, base: str, new: str, old: dict[str, State | None]
    ) -> None:
        """Put the index entries, files and branch back as they were before the write. The
        branch goes back even if the work tree cannot: a file left behind then shows as a local
        change, which later writes to it refuse (409) until a person looks at it."""
        try:
            tree.apply(old)
        finally:
            back = command.run(self.root, ["update-ref", f"refs/heads/{branch}", base, new])
            if back.returncode == 0:
                self.store.journal.clear()

    # -- trees ----------------------------------------------------------------------------------

    def _tree(
        self,
        tree: bytes | None,
        changes: dict[bytes, str | None],
        objects: LooseObjectDB,
        prefix: bytes = b"",
        modes: dict[str, int] | None = None,
        old: dict[str, State | None] | None = None,
    ) -> bytes | None:
        """The id of ``tree`` with ``changes`` (path → blob sha, or None to delete) applied;
        None when the result is empty. Only the trees on a changed path are read and written:
        a one-file change in a folder of 10,000 files rewrites two trees. The mode each
        written path ends up with is put in ``modes``, and what each changed path held before
        in ``old``. A path that goes through a symbolic link, a file or a submodule, or that
        would replace one, is refused."""
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
            path = (prefix + name).decode("utf-8", "surrogateescape")
            current = entries.get(name)
            if current is not None and current[0] not in FILE_MODES:
                raise _not_a_file(path, current[0])
            if old is not None and current is not None:
                old[path] = State(int(current[0], 8), current[1].hex())
            if blob is None:
                entries.pop(name, None)
                continue
            mode = current[0] if current is not None else BLOB_MODE
            entries[name] = (mode, bytes.fromhex(blob))
            if modes is not None:
                modes[path] = int(mode, 8)
        for name, sub_changes in below.items():
            current = entries.get(name)
            if current is not None and current[0] != TREE_MODE:
                path = (prefix + name).decode("utf-8", "surrogateescape")
                raise _not_a_file(path, current[0])
            sub_tree = current[1] if current else None
            new_sub = self._tree(sub_tree, sub_changes, objects, prefix + name + b"/", modes, old)
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

    def _migrate(self, quarantine: Path) -> None:
        """Move the quarantined loose objects into the object store."""
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

    # -- the work tree --------------------------------------------------------------------------

    def _check_work_tree(self, tx: Transaction) -> None:
        self._check_clean(tx.base, list(tx.changes))

    def _check_clean(self, base: str, paths: list[str], tracked: list[str] | None = None) -> None:
        """No local change (staged, unstaged, or an untracked file in the way) to any of
        ``paths``. ``git status`` is limited to the tracked ones and takes no lock; a path
        ``base`` does not have must simply not exist in the work tree."""
        tree = WorkTree(self.root)
        linked = {path: tree.link_in_path(path) for path in paths}
        if any(linked.values()):
            raise WorkTreeConflict(
                "a folder on the way to a file this write touches is a symbolic link in the "
                "work tree; nothing was written",
                {"paths": sorted(p for p, link in linked.items() if link)},
            )
        if tracked is None:
            tracked = [path for path in paths if self.store.blob_at(base, path) is not None]
        dirty = [path for path in paths if path not in tracked and self._exists(path)]
        if tracked:
            status = command.run(
                self.root,
                [
                    "--no-optional-locks",
                    "--literal-pathspecs",
                    "status",
                    "--porcelain=v1",
                    "-z",
                    "--untracked-files=no",
                    "--",
                    *tracked,
                ],
            ).stdout.decode("utf-8", "surrogateescape")
            dirty += [record[3:] for record in status.split("\0") if len(record) > 3]
        if dirty:
            raise WorkTreeConflict(
                "the checked-out work tree has uncommitted changes to the files this write "
                "touches; commit or discard them first",
                {"paths": sorted(set(dirty))},
            )

    def _exists(self, path: str) -> bool:
        return os.path.lexists(self.root / path)


BLOB_MODE = b"100644"
TREE_MODE = b"40000"
FILE_MODES = (BLOB_MODE, b"100755")
# The longest name of one file or folder most file systems take, in bytes.
MAX_NAME_BYTES = 255
MAX_MESSAGE = 10_000  # characters of a commit message


def _is_file(old: dict[str, State | None], new: dict[str, State | None], path: str) -> bool:
    """Whether the work tree holds ``path`` as a file (not a submodule's folder)."""
    return all(state is None or state.mode != 0o160000 for state in (old.get(path), new.get(path)))


def message_fits(message: str) -> bool:
    """1 to ``MAX_MESSAGE`` characters, not only white space (as ``str.isspace`` counts it:
    U+001C too): what every commit message, and a request's ``message``, must be."""
    return bool(message.strip()) and len(message) <= MAX_MESSAGE


def check_message(message: str) -> None:
    """A 422 for a commit message that does not fit (``message_fits``), or that git's fsck
    would refuse (a NUL byte: nulInCommit)."""
    if not message_fits(message):
        raise Unprocessable(
            f"a commit message has 1 to {MAX_MESSAGE} characters, not only white space",
            {"message": [f"must have 1 to {MAX_MESSAGE} characters, not only white space"]},
        )
    if "\0" in message:
        raise Unprocessable(
            "a commit message cannot hold a NUL character", {"message": ["holds a NUL"]}
        )


def check_name_lengths(path: str) -> None:
    """A 422 for a path with a name longer than the file system takes (in bytes, not
    characters: 200 two-byte characters are 400 bytes)."""
    for part in path.split("/"):
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > MAX_NAME_BYTES:
            raise Unprocessable(
                f"the file name {part[:40]!r}... is {size} bytes long; file systems take at "
                f"most {MAX_NAME_BYTES}",
                {"path": path},
            )


def _not_a_file(path: str, mode: bytes) -> CMSError:
    kinds = {b"120000": "a symbolic link", b"160000": "a submodule", TREE_MODE: "a folder"}
    kind = kinds.get(mode, "not a regular file")
    return Unprocessable(
        f"{path!r} is {kind} in the repository; this server writes only regular files",
        {"path": path},
    )


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
    with store.writing():
        try:
            base = store.resolve_branch(branch)
        except NotFound:
            raise NotFound(f"no branch named {branch!r}", {"branch": branch}) from None
        tx = Transaction(store, branch, base, message)
        yield tx
        if tx.changes:
            check_message(tx.message)
            for attempt in range(PUSH_ATTEMPTS):
                try:
                    tx.result = Writer(store).commit(tx, tx.message, author, committer)
                    break
                except RemoteMoved:
                    if store.sync is None or attempt == PUSH_ATTEMPTS - 1:
                        raise
                    # Another replica pushed first. A random pause, doubling with each try,
                    # keeps two busy replicas from meeting again at the same moment.
                    time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
                    _rebase(store, tx, store.sync.catch_up(branch))


# A write whose push finds the remote moved is made again on the new head, this many times in
# all: each retry means another replica wrote in the meantime.
PUSH_ATTEMPTS = 12


def _rebase(store: GitStore, tx: Transaction, head: str) -> None:
    """Base ``tx`` on ``head`` (the branch as the remote has it now), unless one of its files
    changed since its base: then the write is a 409, as a changeset's would be."""
    changed = set()
    for change in store.diff(tx.base, head, renames=True):
        changed.add(change.path)
        if change.previous:
            changed.add(change.previous)
    clashes = sorted(changed & set(tx.changes))
    if clashes:
        raise Conflict(
            "these files changed on the team's remote while this write was made: "
            f"{', '.join(clashes)}; nothing was written, read them again",
            {"conflicts": clashes, "base": tx.base, "head": head},
        )
    tx.base = head
