"""The webhooks' durable outbox: the hooks an admin registered, an event per hook and commit
to deliver, and the log of every attempt. A SQLite file under ``CMS_INSTANCE`` that every
worker shares; an event is written before any attempt to deliver it, so a killed server loses
none: the next one delivers it.

Each event is unique per (hook, commit, branch), so a commit seen twice (by two workers, or
again after a restart) is queued once. An attempt first takes a lease on its event, so that two
workers never send it at the same time; a worker killed mid-attempt leaves a lease that
expires, and the event is sent again (receivers deduplicate by its idempotency key).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cms.errors import NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS hooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    branches TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS heads (
    branch TEXT PRIMARY KEY,
    commit_sha TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    hook TEXT NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    commit_sha TEXT NOT NULL,
    branch TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    lease_until REAL NOT NULL DEFAULT 0,
    UNIQUE (hook, commit_sha, branch)
);
CREATE INDEX IF NOT EXISTS events_due ON events (state, next_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    hook TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_hook ON deliveries (hook, id);
"""


@dataclass(frozen=True)
class Hook:
    id: str
    url: str
    secret: str
    branches: tuple[str, ...]  # "published", "drafts"
    created_at: float
    created_by: str


@dataclass(frozen=True)
class Event:
    id: int
    hook: Hook
    commit: str
    branch: str
    payload: dict[str, Any]
    created_at: float
    attempts: int

    @property
    def key(self) -> str:
        """The idempotency key: the hook, the commit and the branch it reached."""
        return f"{self.hook.id}:{self.commit}:{self.branch}"


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.executescript(SCHEMA)
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # -- hooks ----------------------------------------------------------------------------------

    def add_hook(self, url: str, branches: tuple[str, ...], secret: str, by: str) -> Hook:
        hook = Hook("wh_" + secrets.token_hex(8), url, secret, branches, time.time(), by)
        self._db().execute(
            "INSERT INTO hooks VALUES (?, ?, ?, ?, ?, ?)",
            (hook.id, url, secret, ",".join(branches), hook.created_at, by),
        )
        return hook

    def hooks(self) -> list[Hook]:
        rows = self._db().execute("SELECT * FROM hooks ORDER BY created_at, id").fetchall()
        return [_hook(row) for row in rows]

    def hook(self, hook_id: str) -> Hook | None:
        row = self._db().execute("SELECT * FROM hooks WHERE id = ?", (hook_id,)).fetchone()
        return _hook(row) if row else None

    def remove_hook(self, hook_id: str) -> bool:
        return self._db().execute("DELETE FROM hooks WHERE id = ?", (hook_id,)).rowcount > 0

    # -- events ---------------------------------------------------------------------------------

    def heads(self) -> dict[str, str]:
        """The branch heads events were last made for."""
        return dict(self._db().execute("SELECT branch, commit_sha FROM heads").fetchall())

    def advance(
        self,
        seen: dict[str, str],
        moved: dict[str, str | None],
        events: list[tuple[str, str, str, dict[str, Any]]],
    ) -> int:
        """Queue ``events`` (hook id, commit, branch, payload) and record the new heads
        ``moved`` (None: the branch is gone), if the recorded heads are still ``seen`` (another
        worker did it otherwise). Returns how many events were new. The events of a hook
        removed meanwhile are dropped."""
        now = time.time()
        with self._transaction() as db:
            current = dict(db.execute("SELECT branch, commit_sha FROM heads").fetchall())
            if any(current.get(branch) != seen.get(branch) for branch in moved):
                return 0
            hooks = {row[0] for row in db.execute("SELECT id FROM hooks")}
            added = 0
            for hook, commit, branch, payload in events:
                if hook not in hooks:
                    continue
                added += db.execute(
                    "INSERT OR IGNORE INTO events (hook, commit_sha, branch, payload, created_at,"
                    " next_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (hook, commit, branch, json.dumps(payload, ensure_ascii=False), now, now),
                ).rowcount
            for branch, commit in moved.items():
                if commit is None:
                    db.execute("DELETE FROM heads WHERE branch = ?", (branch,))
                else:
                    db.execute(
                        "INSERT INTO heads VALUES (?, ?) ON CONFLICT (branch) DO UPDATE "
                        "SET commit_sha = excluded.commit_sha",
                        (branch, commit),
                    )
        return added

    def replay(self, hook: Hook, events: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Queue these (commit, branch, payload) again for ``hook``, delivered or not. A hook
        removed since it was found is a 404, as if it had been removed first."""
        now = time.time()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM hooks WHERE id = ?", (hook.id,)).fetchone() is None:
                raise NotFound(f"no webhook {hook.id!r}", {"id": hook.id})
            for commit, branch, payload in events:
                db.execute(
                    "INSERT INTO events (hook, commit_sha, branch, payload, created_at, next_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hook, commit_sha, branch) DO UPDATE"
                    " SET state = 'pending', next_at = excluded.next_at, created_at ="
                    " excluded.created_at, attempts = 0, lease_until = 0",
                    (hook.id, commit, branch, json.dumps(payload, ensure_ascii=False), now, now),
                )
        return len(events)

    def claim(self, lease: float, limit: int = 10) -> list[Event]:
        """Events due now, leased to the caller for ``lease`` seconds."""
        now = time.time()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT e.id, e.commit_sha, e.branch, e.payload, e.created_at, e.attempts, h.*"
                " FROM events e JOIN hooks h ON h.id = e.hook WHERE e.state = 'pending' AND"
                " e.next_at <= ? AND e.lease_until <= ? ORDER BY e.next_at, e.id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                db.execute("UPDATE events SET lease_until = ? WHERE id = ?", (now + lease, row[0]))
        return [
            Event(row[0], _hook(row[6:]), row[1], row[2], json.loads(row[3]), row[4], row[5])
            for row in rows
        ]

    def record(
        self,
        event: Event,
        status: int | None,
        error: str | None,
        seconds: float,
        next_at: float | None,
    ) -> None:
        """Log one attempt; the event is delivered (``status`` 2xx), due again at ``next_at``,
        or given up (``next_at`` None and no success). Nothing is logged for an event gone
        meanwhile with its hook."""
        delivered = status is not None and 200 <= status < 300
        state = "delivered" if delivered else ("pending" if next_at is not None else "failed")
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE events SET attempts = attempts + 1, state = ?, next_at = ?, "
                "lease_until = 0 WHERE id = ?",
                (state, next_at or 0, event.id),
            ).rowcount
            if not updated:
                return
            db.execute(
                "INSERT INTO deliveries (event, hook, attempt, at, status, error, duration_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.id, event.hook.id, event.attempts + 1, time.time(), status, error,
                 round(seconds * 1000, 1)),
            )  # fmt: skip

    def deliveries(self, hook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The hook's latest attempts, newest first."""
        rows = (
            self._db()
            .execute(
                "SELECT d.id, d.attempt, d.at, d.status, d.error, d.duration_ms, e.commit_sha,"
                " e.branch, e.state, e.id FROM deliveries d JOIN events e ON e.id = d.event"
                " WHERE d.hook = ? ORDER BY d.id DESC LIMIT ?",
                (hook_id, limit),
            )
            .fetchall()
        )
        keys = ("id", "attempt", "at", "status", "error", "duration_ms", "commit", "branch",
                "event_state", "event")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def depth(self) -> int:
        """Events waiting to be delivered."""
        return (
            self._db().execute("SELECT count(*) FROM events WHERE state = 'pending'").fetchone()[0]
        )


def _hook(row: tuple) -> Hook:
    return Hook(row[0], row[1], row[2], tuple(b for b in row[3].split(",") if b), row[4], row[5])
