"""Which version of a file each editor last opened or saved, per branch: the base of their
next save through Decap's editor, whose saves do not say which version they started from.

A small SQLite file under ``CMS_INSTANCE``, shared by every worker process (an entry may be
opened through one and saved through another). Losing it loses nothing but the merge of a
save with a change made since it was opened: the save then counts from the current version,
as Decap's other backends do.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS opened (
    editor TEXT NOT NULL,
    branch TEXT NOT NULL,
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (editor, branch, path)
) WITHOUT ROWID;
"""
KEEP_SECONDS = 90 * 24 * 3600


class OpenedFiles:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._writes = 0

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(SCHEMA)
            self._local.connection = connection
        return connection

    def record(self, editor: str, branch: str, path: str, blob: str) -> None:
        connection = self._connection()
        now = time.time()
        connection.execute(
            "INSERT INTO opened VALUES (?, ?, ?, ?, ?) ON CONFLICT (editor, branch, path) "
            "DO UPDATE SET blob = excluded.blob, at = excluded.at",
            (editor, branch, path, blob, now),
        )
        self._writes += 1
        if self._writes % 1000 == 0:
            connection.execute("DELETE FROM opened WHERE at < ?", (now - KEEP_SECONDS,))

    def base(self, editor: str, branch: str, path: str) -> str | None:
        row = (
            self._connection()
            .execute(
                "SELECT blob FROM opened WHERE editor = ? AND branch = ? AND path = ?",
                (editor, branch, path),
            )
            .fetchone()
        )
        return row[0] if row else None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
