"""Work a server does on its own: fetching the team's remote on an interval, delivering
webhooks, publishing scheduled drafts.

Every gunicorn worker runs one daemon thread that calls each task's ``tick()`` about once a
second. Tasks coordinate across workers and replicas through files and SQLite under
``CMS_INSTANCE`` and through the remote itself, so several threads ticking is harmless: a
task that another worker is doing is skipped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from cms import timings
from cms.errors import CMSError
from cms.index import Catalog
from cms.storage.branches import Branches
from cms.storage.git import GitStore, Identity
from cms.storage.lock import LockTimeout
from cms.storage.remote import RemoteUnavailable
from cms.storage.schedules import Schedule, Schedules
from cms.storage.sync import Sync

log = logging.getLogger(__name__)


class Task(Protocol):
    def tick(self) -> None: ...


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Whether this process got the lock file ``path`` without waiting (held for the block)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


class SyncTask:
    """Fetch the remote when the last sync (by any worker) is ``interval`` seconds old."""

    def __init__(self, sync: Sync, interval: float, lock: Path) -> None:
        self.sync = sync
        self.interval = interval
        self.lock = lock

    def due(self) -> bool:
        checked = self.sync.state().get("checked_at")
        return not isinstance(checked, int | float) or time.time() - checked >= self.interval

    def tick(self) -> None:
        if self.due():
            with exclusive(self.lock) as mine:
                if mine and self.due():
                    try:
                        self.sync.run()
                    except CMSError:
                        error = self.sync.state().get("error")
                        log.warning("sync with the remote failed: %s", error)
        synced = self.sync.state().get("synced_at")
        if isinstance(synced, int | float):
            timings.record("state", "remote_sync_lag_seconds", max(0.0, time.time() - synced))


class ScheduleTask:
    """Publish the drafts whose time has come (one worker of this server at a time; other
    replicas may try too: the remote's compare-and-swap lets one publish)."""

    def __init__(self, store: GitStore, committer: Identity, lock: Path) -> None:
        self.schedules = Schedules(store)
        self.branches = Branches(store)
        self.committer = committer
        self.lock = lock

    def tick(self) -> None:
        if not self.schedules.due():
            return
        with exclusive(self.lock) as mine:
            if not mine:
                return
            for schedule in self.schedules.due():
                self.publish(schedule)

    def publish(self, schedule: Schedule) -> None:
        when = schedule.at.isoformat(timespec="minutes")
        try:
            done = self.branches.publish(
                schedule.branch,
                f"Publish {schedule.branch} (scheduled for {when})",
                schedule.by,
                self.committer,
            )
        except (RemoteUnavailable, LockTimeout) as error:
            log.warning("scheduled publish of %s waits: %s", schedule.branch, error.message)
            return  # tried again at the next tick
        except CMSError as error:
            log.error("scheduled publish of %s failed: %s", schedule.branch, error.message)
            self.schedules.failed(schedule, error.message)
            return
        self.schedules.done(schedule)
        log.warning(
            "published %s as scheduled for %s: %s",
            schedule.branch,
            when,
            done.commit[:12] if done.changed else "already published",
        )


PRUNE_EVERY = 3600.0  # seconds between two prunings of the parse cache


class IndexTask:
    """Move the published branch's index when the branch moved without a write of this
    server (a fetch from the remote, another process, a person with git), read ahead the
    trees the next move compares (``Catalog.warm``) and copy the index's write-ahead log into
    its file (``Catalog.checkpoint``); and, once the index is built and then
    every ``prune_every`` seconds, drop from the parse cache the files no ref holds and
    bring the repository's commit-graph up to date (one worker at a time)."""

    def __init__(self, catalog: Catalog, prune_every: float = PRUNE_EVERY) -> None:
        self.catalog = catalog
        self.prune_every = prune_every
        self.pruned_at: float | None = None
        self.graph: threading.Thread | None = None

    def tick(self) -> None:
        try:
            self.catalog.follow()
            self.catalog.warm()
            self.catalog.checkpoint()
        except CMSError as error:
            log.warning("index not moved: %s", error.message)
        now = time.monotonic()
        if self.catalog.ready() and (
            self.pruned_at is None or now - self.pruned_at >= self.prune_every
        ):
            self.pruned_at = now
            with exclusive(self.catalog.folder / "prune.lock") as mine:
                if not mine:
                    return
                self._write_graph()
                try:
                    dropped = self.catalog.prune()
                except (CMSError, sqlite3.Error) as error:
                    log.warning("parse cache not pruned: %s", error)
                    return
                if dropped:
                    log.info("parse cache: %d parses of files no ref holds dropped", dropped)

    def _write_graph(self) -> None:
        """Bring the repository's commit-graph up to date, in a thread of its own (seconds
        on a long history): the last change of an entry looked up on demand (at another
        commit, after a reset) then walks only the commits that changed it."""
        if self.graph is not None and self.graph.is_alive():
            return
        self.graph = threading.Thread(target=self._graph_written, name="cms-graph", daemon=True)
        self.graph.start()

    def _graph_written(self) -> None:
        try:
            if not self.catalog.store.write_commit_graph():
                log.info("commit-graph not written (another process was writing it)")
        except OSError as error:
            log.warning("commit-graph not written: %s", error)


class Background:
    """The daemon thread that ticks the tasks."""

    def __init__(self, tasks: Sequence[Task], period: float = 1.0) -> None:
        self.tasks = list(tasks)
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self.tasks:
            self._thread = threading.Thread(target=self._loop, name="cms-background", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def tick(self) -> None:
        for task in self.tasks:
            try:
                task.tick()
            except Exception:  # one failing task must not stop the others, nor the thread
                log.exception("background task %s failed", type(task).__name__)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.period)
