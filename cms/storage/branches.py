"""Draft branches: create one from any ref, list them against the published branch, publish
one (fast-forward when possible, else a merge commit), delete one.

Every change of a ref is a compare-and-swap (`git update-ref <new> <old>`) made under the
repository's write lock, so a branch that moved meanwhile is a 409, never a lost commit. When
the published branch is checked out, its work tree follows (`git read-tree -m -u`), after a
dry run that refuses local edits in the way.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from dataclasses import dataclass

from cms.errors import CMSError, Conflict, NotFound, Unprocessable
from cms.storage import command
from cms.storage.git import FileChange, GitStore, Identity
from cms.storage.refs import check_branch_name
from cms.storage.remote import RemoteMoved, Update


class MergeConflict(Conflict):
    """Both sides changed the same files: nothing was published."""

    def __init__(self, branch: str, paths: list[str]) -> None:
        super().__init__(
            f"branch {branch!r} and the published branch changed the same files",
            {"conflicts": paths},
        )
        self.paths = paths


class ChangedOnRemote(Conflict):
    """The branch moved on the team's remote; it is now in step here, nothing was changed."""

    def __init__(self, branch: str) -> None:
        super().__init__(
            f"branch {branch!r} changed on the team's remote meanwhile; nothing was changed, "
            "read it again",
            {"branch": branch},
        )


@dataclass(frozen=True)
class Branch:
    name: str
    commit: str
    published: bool
    ahead: int  # commits on this branch that the published branch lacks
    behind: int  # commits on the published branch that this branch lacks


@dataclass(frozen=True)
class Published:
    commit: str  # the published branch's new head (its old one if there was nothing to do)
    fast_forward: bool
    changed: bool


# A publish whose push finds the published branch moved on the remote is merged again on its
# new head, this many times in all.
PUBLISH_ATTEMPTS = 5


class Branches:
    def __init__(self, store: GitStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._descriptions: tuple[tuple[int, int], dict[str, str]] = ((-1, -1), {})

    def _git(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return command.run(self.store.path, args, env=env)

    def list(self) -> list[Branch]:
        published = self.store.branch
        head = self.store.head()
        found = []
        for ref in self.store.refs():
            if ref.kind != "branch":
                continue
            ahead, behind = self._ahead_behind(head, ref.commit)
            found.append(Branch(ref.name, ref.commit, ref.name == published, ahead, behind))
        return sorted(found, key=lambda b: (not b.published, b.name))

    def create(self, name: str, start: str | None) -> Branch:
        check_branch_name(name)
        commit = self.store.resolve(start)
        with self.store.writing():
            if not self._exists(name):
                self._push(Update.branch(name, None, commit))
            made = self._git("update-ref", f"refs/heads/{name}", commit, "")
            if made.returncode != 0:
                if self._exists(name):
                    raise Conflict(f"a branch named {name!r} already exists", {"name": name})
                raise Conflict(
                    f"cannot create branch {name!r}: {made.stderr.decode().strip()}",
                    {"name": name},
                )
        return Branch(name, commit, False, *self._ahead_behind(self.store.head(), commit))

    def _push(self, update: Update) -> None:
        """Make the change on the team's remote first, if there is one (write lock held). If
        the remote moved, this branch is brought in step with it and the change is a 409."""
        if self.store.sync is None:
            return
        try:
            self.store.sync.remote.push([update])
        except RemoteMoved:
            name = update.ref.removeprefix("refs/heads/")
            self.store.sync.catch_up_quietly(name)
            raise ChangedOnRemote(name) from None

    def _ahead_behind(self, head: str, commit: str) -> tuple[int, int]:
        """Commits of ``commit`` that ``head`` lacks, and commits of ``head`` it lacks."""
        counts = self._git("rev-list", "--left-right", "--count", f"{head}...{commit}")
        behind, ahead = (int(n) for n in counts.stdout.split())
        return ahead, behind

    def _exists(self, name: str) -> bool:
        try:
            self.store.resolve_branch(name)
        except NotFound:
            return False
        return True

    def description(self, name: str) -> str | None:
        """The branch's description (``git branch --edit-description``): where Decap keeps a
        draft's status."""
        return self.descriptions().get(name)

    def descriptions(self) -> dict[str, str]:
        """Every branch's description, read with one ``git config`` each time the repository's
        config file changes."""
        stamp = self.store.config_stamp()
        with self._lock:
            if self._descriptions[0] == stamp:
                return self._descriptions[1]
        listed = self._git("config", "-z", "--get-regexp", r"^branch\..*\.description$")
        found = {}
        for record in listed.stdout.decode("utf-8", "replace").split("\0"):
            key, _, value = record.partition("\n")
            if key.startswith("branch.") and key.endswith(".description"):
                found[key[len("branch.") : -len(".description")]] = value.strip()
        with self._lock:
            self._descriptions = (stamp, found)
        return found

    def describe(self, name: str, text: str) -> None:
        self.store.resolve_branch(name)  # NotFound when there is none
        with self.store.writing():
            done = self._git("config", f"branch.{name}.description", text)
        if done.returncode != 0:
            raise CMSError(f"git config failed: {command.stderr_text(done)}")

    def changes(self, name: str) -> list[FileChange]:
        """What the branch changed since it left the published branch: the diff from their
        merge base (not from the published head, which moved on since)."""
        draft = self.store.resolve_branch(name)
        return self.store.diff(self.store.head(), draft, renames=True, merge_base=True)

    def delete(self, name: str) -> None:
        commit = self.store.resolve_branch(name)
        if name == self.store.branch:
            raise Conflict("the published branch cannot be deleted", {"name": name})
        if self.store.checked_out_branch() == name:
            raise Conflict(f"branch {name!r} is checked out in the work tree", {"name": name})
        with self.store.writing():
            self._push(Update.branch(name, commit, None))
            removed = self._git("update-ref", "-d", f"refs/heads/{name}", commit)
            if removed.returncode != 0:
                raise Conflict(f"branch {name!r} moved meanwhile; read it again", {"name": name})
            self._git("config", "--remove-section", f"branch.{name}")  # none: nothing to do

    def publish(self, name: str, message: str, author: Identity, committer: Identity) -> Published:
        """Bring a branch's commits into the published branch."""
        published = self.store.branch
        if name == published:
            raise Conflict("the published branch is already published", {"name": name})
        with self.store.writing():
            for _ in range(PUBLISH_ATTEMPTS - 1):
                with contextlib.suppress(ChangedOnRemote):  # published elsewhere meanwhile
                    return self._publish(name, message, author, committer)
            return self._publish(name, message, author, committer)

    def _publish(self, name: str, message: str, author: Identity, committer: Identity) -> Published:
        """One try at publishing, on the published branch's head as it is now."""
        published = self.store.branch
        head = self.store.resolve_branch(published)
        draft = self.store.resolve_branch(name)
        if draft == head or self.store.is_ancestor(draft, head):
            return Published(head, False, False)
        if self.store.is_ancestor(head, draft):
            new, fast_forward = draft, True
        else:
            new, fast_forward = self._merge(name, head, draft, message, author, committer), False
        self._move(published, head, new)
        return Published(new, fast_forward, True)

    def _merge(
        self,
        name: str,
        head: str,
        draft: str,
        message: str,
        author: Identity,
        committer: Identity,
    ) -> str:
        if "\0" in message:
            raise Unprocessable(
                "a commit message cannot hold a NUL character", {"message": ["holds a NUL"]}
            )
        merged = self._git("merge-tree", "--write-tree", "--name-only", "-z", head, draft)
        records = merged.stdout.decode("utf-8", "surrogateescape").split("\0")
        if merged.returncode == 1:
            paths = []
            for record in records[1:]:
                if not record:
                    break
                paths.append(record)
            raise MergeConflict(name, sorted(set(paths)))
        if merged.returncode != 0:
            raise CMSError(f"git merge-tree failed: {merged.stderr.decode().strip()}")
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        made = self._git("commit-tree", records[0], "-p", head, "-p", draft, "-m", message, env=env)
        if made.returncode != 0:
            raise CMSError(f"git commit-tree failed: {made.stderr.decode().strip()}")
        return made.stdout.decode().strip()

    def _move(self, branch: str, old: str, new: str) -> None:
        """Move the published branch, and its work tree when it is checked out."""
        checked_out = self.store.checked_out_branch() == branch
        if checked_out:
            # Files whose stats changed but not their content (a copied or restored checkout)
            # are up to date again; a real local edit still stops the publish.
            self._git("update-index", "-q", "--refresh")
            trial = self._git("read-tree", "-m", "-u", "-n", old, new)
            if trial.returncode != 0:
                raise Conflict(
                    "the work tree has local edits to files this would change; commit or "
                    "discard them first",
                    {"work_tree": trial.stderr.decode().strip().splitlines()[-1:]},
                )
        self._push(Update.branch(branch, old, new))
        moved = self._git("update-ref", f"refs/heads/{branch}", new, old)
        if moved.returncode != 0:
            raise Conflict(f"branch {branch!r} moved meanwhile; nothing was published")
        if checked_out:
            updated = self._git("read-tree", "-m", "-u", old, new)
            if updated.returncode != 0:
                self._git("update-ref", f"refs/heads/{branch}", old, new)
                raise Conflict(
                    "the work tree could not be updated; nothing was published",
                    {"work_tree": updated.stderr.decode().strip().splitlines()[-1:]},
                )
