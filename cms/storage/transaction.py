"""One write = one commit, or nothing.

``GitStore.transaction(...)`` takes the repository's write lock, reads the branch head, and
yields a ``Transaction`` that records file writes and deletions. On a clean exit it makes exactly
one commit through git's plumbing and moves the branch with a compare-and-swap; on an exception
it leaves no trace.

How "no trace" holds at every step:

1. Blobs, trees and the commit are written into a quarantine object directory inside
   ``.git/objects`` (git's own ``receive-pack`` does the same), with the real object store as
   an alternate. A failure here deletes the quarantine: the repository never saw the objects.
2. If the branch is checked out, ``git read-tree -n`` first checks that the work tree can take
   the change (no local edits to the touched files).
3. The objects move into the object store (renames within one file system); the names that
   were not there before are remembered.
4. ``git update-ref <branch> <new> <old>`` moves the branch only if it still points at the
   commit the write was based on. If it fails, the objects moved in step 3 are removed again.
5. The checked-out work tree and index follow with ``git read-tree -m -u <old> <new>``, which
   touches only the changed paths. If that fails, the branch is moved back and the objects
   removed.

Nothing shells out through a shell, and every path has been checked by the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cms.errors import CMSError, NotFound
from cms.storage.git import Identity, TreeEntry

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
        self.objects = Path(self._git("rev-parse", "--git-path", "objects").strip())
        if not self.objects.is_absolute():
            self.objects = (self.root / self.objects).resolve()

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
        self.objects.mkdir(parents=True, exist_ok=True)
        quarantine = Path(tempfile.mkdtemp(prefix="incoming-cms-", dir=self.objects))
        env = {
            "GIT_OBJECT_DIRECTORY": str(quarantine),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.objects),
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        try:
            base_tree = self._git("rev-parse", f"{tx.base}^{{tree}}", env=env).strip()
            blobs = {
                path: self._git("hash-object", "-w", "--stdin", stdin=data, env=env).strip()
                for path, data in tx.changes.items()
                if data is not None
            }
            changes = {path: blobs.get(path) for path in tx.changes}
            tree = self._tree(base_tree, "", changes, env) or self._empty_tree(env)
            new = self._git(
                "commit-tree", tree, "-p", tx.base, "-F", "-", stdin=message.encode(), env=env
            ).strip()
            checked_out = self._checked_out(tx.branch)
            if checked_out:
                self._check_work_tree(tx.base, new, env, list(tx.changes))
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
                self._update_work_tree(tx.base, new)
            except CMSError:
                self._git("update-ref", f"refs/heads/{tx.branch}", tx.base, new, check=False)
                self._remove(moved)
                raise
        return Commit(new, tx.base, tuple(tx.changes))

    # -- trees ----------------------------------------------------------------------------------

    def _tree(
        self, tree: str | None, prefix: str, changes: dict[str, str | None], env: dict[str, str]
    ) -> str | None:
        """The sha of ``tree`` with ``changes`` (path → blob sha, or None to delete) applied;
        None when the result is empty. Only the directories on a changed path are rewritten."""
        entries: dict[str, tuple[str, str, str]] = {}
        if tree:
            listing = self._git("ls-tree", "-z", tree, env=env)
            for record in filter(None, listing.split("\0")):
                meta, name = record.split("\t", 1)
                mode, kind, sha = meta.split(" ")
                entries[name] = (mode, kind, sha)
        here: dict[str, str | None] = {}
        below: dict[str, dict[str, str | None]] = {}
        for path, blob in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                below.setdefault(head, {})[rest] = blob
            else:
                here[head] = blob
        for name, blob in here.items():
            if blob is None:
                entries.pop(name, None)
            else:
                mode = entries[name][0] if name in entries and entries[name][1] == "blob" else None
                entries[name] = (mode or "100644", "blob", blob)
        for name, sub_changes in below.items():
            current = entries.get(name)
            sub_tree = current[2] if current and current[1] == "tree" else None
            new_sub = self._tree(sub_tree, f"{prefix}{name}/", sub_changes, env)
            if new_sub is None:
                entries.pop(name, None)
            else:
                entries[name] = ("040000", "tree", new_sub)
        if not entries:
            return None
        listing = "".join(
            f"{mode} {kind} {sha}\t{name}\0" for name, (mode, kind, sha) in entries.items()
        )
        return self._git("mktree", "-z", stdin=listing.encode("utf-8", "surrogateescape"), env=env)[
            :40
        ]

    def _empty_tree(self, env: dict[str, str]) -> str:
        return self._git("mktree", stdin=b"", env=env).strip()

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

    def _checked_out(self, branch: str) -> bool:
        if self._git("rev-parse", "--is-bare-repository").strip() == "true":
            return False
        head = self._git("symbolic-ref", "-q", "HEAD", check=False).strip()
        return head == f"refs/heads/{branch}"

    def _check_work_tree(self, old: str, new: str, env: dict[str, str], paths: list[str]) -> None:
        # Refresh the index's stat data first (as `git status` does): a file whose timestamps
        # changed but whose content did not is not a local edit.
        # (No paths: with paths, update-index would stage those files.)
        self._git("update-index", "-q", "--refresh", check=False)
        result = subprocess.run(
            ["git", "read-tree", "-m", "-u", "-n", old, new],
            cwd=self.root,
            capture_output=True,
            env={**os.environ, **env},
            check=False,
        )
        if result.returncode != 0:
            raise WorkTreeConflict(
                "the checked-out work tree has uncommitted changes to the files this write "
                "touches; commit or discard them first",
                {"paths": paths, "git": result.stderr.decode("utf-8", "replace").strip()},
            )

    def _update_work_tree(self, old: str, new: str) -> None:
        try:
            self._git("read-tree", "-m", "-u", old, new)
        except GitFailure as exc:
            raise WorkTreeConflict(
                "the checked-out work tree could not take this write; nothing was written",
                {"git": exc.message},
            ) from None


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
