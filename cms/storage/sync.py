"""Keeping the repository in step with the team's remote.

``Sync.run()`` (on an interval, and when the git host announces a push) fetches the remote and
brings each branch in step, under the write lock:

* a branch the remote has and this repository lacks is created here (a draft made on another
  replica); one this repository had pushed and the remote no longer has is deleted here (a
  draft published or dropped elsewhere), unless it is the published or checked-out branch;
* a branch behind the remote is fast-forwarded, its work tree following as a write's does (a
  local edit in the way stops that branch, and is reported);
* a branch ahead of the remote (a commit made by hand, or one whose push a killed process never
  made) is pushed; a branch that was never pushed is created there;
* a branch whose history and the remote's diverged is left alone and reported: a person decides.

Its outcome is kept in a small JSON file under ``CMS_INSTANCE`` that every worker reads for
``/api/v1/status`` and the metrics. A write whose push found the remote moved calls
``catch_up(branch)`` and retries on the new head when none of its files changed there.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cms.errors import CMSError, Conflict
from cms.storage import command
from cms.storage.remote import Remote, Update, redact

if TYPE_CHECKING:
    from cms.storage.git import GitStore

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What one sync did: branch → action, and the branches it could not bring in step."""

    actions: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


class Sync:
    def __init__(self, store: GitStore, remote: Remote, state_path: Path) -> None:
        self.store = store
        self.remote = remote
        self.state_path = state_path

    # -- the whole repository -----------------------------------------------------------------

    def run(self) -> Report:
        """Fetch and bring every branch in step (takes the write lock)."""
        started = time.time()
        try:
            # The fetch only writes refs/remotes/cms-remote/ (and the schedules): it needs no
            # write lock, so writes do not wait for the network.
            seen = self.remote.tracking()
            self.remote.fetch()
            with self.store.writing():
                report = self._reconcile_all(seen)
        except CMSError as error:
            detail = str(error.errors.get("remote") or error.message)
            self._save(started, "unreachable", redact(detail, self.remote.url))
            raise
        self._save(started, "diverged" if report.problems else "ok", None, report)
        return report

    def _run(self, only: str | None = None) -> Report:
        seen = self.remote.tracking()
        self.remote.fetch()
        return self._reconcile_all(seen, only)

    def _reconcile_all(self, seen: dict[str, str], only: str | None = None) -> Report:
        theirs = self.remote.tracking()
        ours = self.store.branch_heads()
        names = {only} if only else set(theirs) | set(ours)
        report = Report()
        for name in sorted(names):
            try:
                action = self._reconcile(name, ours.get(name), theirs.get(name), seen.get(name))
            except CMSError as error:
                report.problems[name] = redact(error.message, self.remote.url)
                log.warning("sync: branch %s not brought in step: %s", name, error.message)
                continue
            if action:
                report.actions[name] = action
        return report

    def _reconcile(
        self, name: str, ours: str | None, theirs: str | None, seen: str | None
    ) -> str | None:
        from cms.storage.transaction import Writer  # it builds on GitStore, as this does

        store = self.store
        if ours == theirs:
            return None
        if ours is None:
            moved = command.run(store.path, ["update-ref", f"refs/heads/{name}", str(theirs), ""])
            if moved.returncode != 0:
                raise CMSError(f"cannot create branch {name!r}: {command.stderr_text(moved)}")
            return "created"
        if theirs is None:
            pinned = name in (store.branch, store.checked_out_branch())
            if seen == ours and not pinned:
                command.run(store.path, ["update-ref", "-d", f"refs/heads/{name}", ours])
                command.run(store.path, ["config", "--remove-section", f"branch.{name}"])
                return "deleted"
            self.remote.push([Update.branch(name, None, ours)])
            return "pushed"
        if store.is_ancestor(ours, theirs):
            Writer(store).advance(name, ours, theirs)
            return "fast-forwarded"
        if store.is_ancestor(theirs, ours):
            self.remote.push([Update.branch(name, theirs, ours)])
            return "pushed"
        raise Conflict(
            f"branch {name!r} and the remote's have diverged (here {ours[:12]}, there "
            f"{theirs[:12]}); bring them together with git, this server will not choose"
        )

    # -- one branch, during a write -------------------------------------------------------------

    def catch_up(self, branch: str) -> str:
        """Fetch, bring ``branch`` in step with the remote, and return its head (write lock
        held). A branch that diverged is a 409."""
        report = self._run(only=branch)
        if branch in report.problems:
            raise Conflict(report.problems[branch], {"branch": branch})
        return self.store.resolve_branch(branch)

    def catch_up_quietly(self, branch: str) -> None:
        """``catch_up`` for a caller that answers 409 anyway: a problem is only logged."""
        try:
            self._run(only=branch)
        except CMSError as error:
            log.warning("sync: could not catch up with %s: %s", branch, error.message)

    # -- the state every worker reads -----------------------------------------------------------

    def _save(self, started: float, state: str, error: str | None, report: Report | None = None):
        previous = self.state()
        record = {
            "url": self.remote.shown,
            "state": state,
            "checked_at": started,
            "synced_at": started if state != "unreachable" else previous.get("synced_at"),
            "error": error,
            "problems": report.problems if report else previous.get("problems", {}),
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.state_path.parent, prefix=".remote-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(temporary, self.state_path)

    def state(self) -> dict[str, Any]:
        try:
            found = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}
