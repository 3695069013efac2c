"""Scheduled publishing: "publish this draft at that time", kept in git itself.

A schedule is a ref, ``refs/cms/schedules/<branch>``, naming a small commit (empty tree) whose
message is JSON: when, who asked, and whether an attempt failed. Being a ref, it is created,
changed and removed with compare-and-swaps, survives a restart, and reaches the team's remote
and the other replicas like a draft does. When it is due, whichever replica gets there first
publishes the draft, its push of the published branch decided by the remote's compare-and-swap;
the others find the draft already published and only remove the schedule: the publish happens
once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cms.errors import CMSError, Conflict, NotFound
from cms.storage import command
from cms.storage.git import GitStore, Identity
from cms.storage.refs import check_branch_name
from cms.storage.remote import RemoteMoved, Update

PREFIX = "refs/cms/schedules/"


@dataclass(frozen=True)
class Schedule:
    branch: str
    at: datetime
    by: Identity
    state: str  # "pending", "failed"
    error: str | None
    ref_commit: str  # the schedule's own commit (its version)


def _parse(branch: str, sha: str, text: str) -> Schedule | None:
    try:
        data = json.loads(text)
        at = datetime.fromisoformat(data["at"])
        by = Identity(str(data["by"]["name"]), str(data["by"]["email"]))
    except (ValueError, KeyError, TypeError):
        return None  # not one of ours
    return Schedule(branch, at, by, str(data.get("state", "pending")), data.get("error"), sha)


class Schedules:
    def __init__(self, store: GitStore) -> None:
        self.store = store

    def _git(self, *args: str, env: dict[str, str] | None = None):
        return command.run(self.store.path, args, env=env)

    # -- reading --------------------------------------------------------------------------------

    def list(self) -> list[Schedule]:
        return sorted(self._read(PREFIX), key=lambda s: (s.at, s.branch))

    def get(self, branch: str) -> Schedule:
        check_branch_name(branch)
        for schedule in self._read(PREFIX + branch):
            if schedule.branch == branch:
                return schedule
        raise NotFound(f"branch {branch!r} is not scheduled", {"branch": branch})

    def _read(self, pattern: str) -> list[Schedule]:
        """The schedules under ``pattern``, with their messages, in one ``git for-each-ref``
        (the background reads them every second)."""
        listed = self._git(
            "for-each-ref", "--format=%(objectname) %(refname)%00%(contents)%00", pattern
        )
        fields = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
        found = []
        for head, text in zip(fields[0::2], fields[1::2], strict=False):
            sha, _, ref = head.strip().partition(" ")
            schedule = _parse(ref.removeprefix(PREFIX), sha, text)
            if schedule is not None:
                found.append(schedule)
        return found

    def due(self, now: datetime | None = None) -> list[Schedule]:
        now = now or datetime.now(UTC)
        return [s for s in self.list() if s.state == "pending" and s.at <= now]

    # -- writing (each a compare-and-swap, on the remote first when there is one) ---------------

    def add(self, branch: str, at: datetime, by: Identity) -> Schedule:
        if branch == self.store.branch:
            raise Conflict("the published branch is already published", {"branch": branch})
        self.store.resolve_branch(branch)  # NotFound when there is none
        with self.store.writing():
            if self.store._read_ref(PREFIX + branch):
                raise Conflict(
                    f"branch {branch!r} is already scheduled; cancel that first",
                    {"branch": branch},
                )
            sha = self._object(branch, at, by, "pending", None)
            self._move(branch, None, sha)
        return Schedule(branch, at, by, "pending", None, sha)

    def cancel(self, branch: str) -> None:
        schedule = self.get(branch)
        with self.store.writing():
            self._move(branch, schedule.ref_commit, None)

    def done(self, schedule: Schedule) -> None:
        """Remove a schedule that was carried out (here or by another replica)."""
        with self.store.writing():
            self._move(schedule.branch, schedule.ref_commit, None, quiet=True)

    def failed(self, schedule: Schedule, error: str) -> None:
        """Keep the schedule, marked failed with the reason, so that it is not tried again."""
        with self.store.writing():
            sha = self._object(schedule.branch, schedule.at, schedule.by, "failed", error)
            self._move(schedule.branch, schedule.ref_commit, sha, quiet=True)

    def _object(self, branch: str, at: datetime, by: Identity, state: str, error: str | None):
        text = json.dumps(
            {
                "branch": branch,
                "at": at.astimezone(UTC).isoformat(),
                "by": {"name": by.name, "email": by.email},
                "state": state,
                "error": error,
            },
            ensure_ascii=False,
        )
        env = {
            "GIT_AUTHOR_NAME": by.name or "unknown",
            "GIT_AUTHOR_EMAIL": by.email or "unknown",
            "GIT_COMMITTER_NAME": by.name or "unknown",
            "GIT_COMMITTER_EMAIL": by.email or "unknown",
        }
        # The commit holds no files; its (empty) tree is written, as git fsck wants every
        # object a commit names to be in the repository.
        empty = command.run(self.store.path, ["mktree"], stdin=b"")
        if empty.returncode != 0:
            raise CMSError(f"git mktree failed: {command.stderr_text(empty)}")
        tree = empty.stdout.decode().strip()
        made = self._git("commit-tree", tree, "-m", text, env=env)
        if made.returncode != 0:
            raise CMSError(f"git commit-tree failed: {command.stderr_text(made)}")
        return made.stdout.decode().strip()

    def _move(self, branch: str, old: str | None, new: str | None, quiet: bool = False) -> None:
        ref = PREFIX + branch
        sync = self.store.sync
        expected = old or ""
        if sync is not None:
            try:
                sync.remote.push([Update(ref, old, new)])
            except RemoteMoved:
                sync.catch_up_quietly(self.store.branch)
                if quiet:  # another replica changed or removed it first: theirs stands
                    return
                raise Conflict(
                    f"the schedule of {branch!r} changed on the team's remote; read it again",
                    {"branch": branch},
                ) from None
            # The push set the local ref already (the remote's schedules are fetched into
            # refs/cms/schedules/, so git updates them as tracking refs): the remote decided.
            expected = ""
        if new is None:
            moved = self._git("update-ref", "-d", ref, *([expected] if expected else []))
        else:
            moved = self._git("update-ref", ref, new, *([expected] if expected else []))
        if moved.returncode != 0 and not quiet:
            raise Conflict(f"the schedule of {branch!r} changed meanwhile", {"branch": branch})
