"""Parsed files, cached by blob sha: a file that did not change is never parsed twice.

The cache is a SQLite file of its own under ``CMS_INSTANCE/index``, shared by every branch,
commit and process: a blob's parse depends only on its bytes and its format, so what one
branch parsed serves all the others, and a restart keeps it. It is content-addressed, so it is
never invalid; losing it only costs parsing again. A row is the blob's binary id and the
parse, compressed (French prose takes a third of its size); ``prune`` drops the parses of
files that no ref holds any more.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cms.content.document import parse
from cms.storage.lru import LRU

# Parse rules: when they change (limits on nesting and aliases were added in 2), parses made
# by the old rules are dropped when the cache is opened.
PARSER_VERSION = "2"
FILE = "parsed.sqlite"
OLD_FILES = ("documents.sqlite", "documents.sqlite-wal", "documents.sqlite-shm")

SCHEMA = """
PRAGMA auto_vacuum = INCREMENTAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    blob BLOB NOT NULL,
    format TEXT NOT NULL,
    parse BLOB NOT NULL,
    PRIMARY KEY (blob, format)
) WITHOUT ROWID;
"""


def pack(data: str, body: str, problems: str) -> bytes:
    """The three columns of a parse in one compressed value (JSON never holds a raw NUL, so
    the first two end at one; the body, last, may hold anything)."""
    return zlib.compress(f"{data}\0{problems}\0{body}".encode(), 1)


def unpack(packed: bytes) -> tuple[str, str, str]:
    data, problems, body = zlib.decompress(packed).decode().split("\0", 2)
    return data, body, problems


@dataclass(frozen=True)
class Parsed:
    """What parsing a file gives: its fields, the body as served, and parse problems."""

    data: dict[str, Any]
    body: str
    problems: tuple[str, ...]


def parse_blob(raw: bytes, fmt: str) -> tuple[str, str, str]:
    """Parse one file into the three JSON/text columns of the cache (run in worker processes)."""
    document = parse(raw, fmt)
    return (
        json.dumps(document.data, ensure_ascii=False, separators=(",", ":")),
        document.served_body,
        json.dumps(list(document.problems), ensure_ascii=False),
    )


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers instead of failing.

    Switching a new file to WAL takes an exclusive lock that SQLite does not wait for, so
    processes starting at once (gunicorn's workers) could fail with "database is locked": the
    switch is made once, under an exclusive ``flock`` of a file beside the database, and only
    when the file is not in WAL mode yet (the mode is stored in the file).
    """
    connection = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 60000")
    if str(path) != ":memory:":
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            descriptor = os.open(f"{path}.init-lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                _retry_while_locked(lambda: connection.execute("PRAGMA journal_mode = WAL"))
            finally:
                os.close(descriptor)
        connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def _retry_while_locked(action, attempts: int = 200) -> None:
    for attempt in range(attempts):
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def _insert(db: sqlite3.Connection, rows: Iterable[tuple[str, str, bytes]]) -> None:
    db.execute("BEGIN")
    try:
        db.executemany(
            "INSERT OR IGNORE INTO docs VALUES (?, ?, ?)",
            ((bytes.fromhex(blob), fmt, packed) for blob, fmt, packed in rows),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


_WRITERS: dict[str, sqlite3.Connection] = {}


def store_in(path: Path, rows: Iterable[tuple[str, str, bytes]]) -> None:
    """``Documents.store`` from another process (a build's parse worker) into the parse cache
    at ``path``, which a ``Documents`` has made: one connection for each process."""
    db = _WRITERS.get(str(path))
    if db is None:
        db = _WRITERS[str(path)] = connect(path)
    _insert(db, rows)


class Documents:
    """The parse cache: memory first (bounded), then the SQLite file, then ``parse``."""

    def __init__(self, path: Path, read_blob) -> None:
        self.path = path
        self.read_blob = read_blob
        self._local = threading.local()
        self._open: list[sqlite3.Connection] = []
        self._open_lock = threading.Lock()
        self._memory: LRU[tuple[str, str], Parsed] = LRU(
            20_000, max_bytes=128 << 20, weigh=lambda p: len(p.body) + 512
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in OLD_FILES:  # the cache's earlier layout, one file of uncompressed text
            if not old.startswith(path.name):
                (path.parent / old).unlink(missing_ok=True)
        db = self._connection()
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'parser'").fetchone()
            if row is None or row[0] != PARSER_VERSION:
                db.execute("DELETE FROM docs")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('parser', ?)", (PARSER_VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._open_lock:
                self._open.append(db)
        return db

    def get(self, blob: str, fmt: str) -> Parsed:
        key = (blob, fmt)
        cached = self._memory.get(key)
        if cached is not None:
            return cached
        db = self._connection()
        binary = bytes.fromhex(blob)
        found = db.execute(
            "SELECT parse FROM docs WHERE blob = ? AND format = ?", (binary, fmt)
        ).fetchone()
        if found is None:
            row = parse_blob(self.read_blob(blob), fmt)
            db.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, ?)", (binary, fmt, pack(*row)))
        else:
            row = unpack(found[0])
        return self._memory.put(key, self.load(row))

    @staticmethod
    def load(row: tuple[str, str, str]) -> Parsed:
        return Parsed(json.loads(row[0]), row[1], tuple(json.loads(row[2])))

    def missing(self, wanted: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (blob, format) pairs that have never been parsed."""
        db = self._connection()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (blob BLOB, format TEXT)")
        db.execute("DELETE FROM temp.wanted")
        db.executemany(
            "INSERT INTO temp.wanted VALUES (?, ?)", ((bytes.fromhex(b), f) for b, f in wanted)
        )
        rows = db.execute(
            "SELECT DISTINCT w.blob, w.format FROM temp.wanted w WHERE NOT EXISTS "
            "(SELECT 1 FROM docs d WHERE d.blob = w.blob AND d.format = w.format)"
        ).fetchall()
        db.execute("DELETE FROM temp.wanted")
        return [(blob.hex(), fmt) for blob, fmt in rows]

    def store(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        """Keep parse results (blob, format, ``pack``ed parse), in one transaction."""
        _insert(self._connection(), rows)

    def rows(self, keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str, Parsed]]:
        """(blob, format, parsed) of many cached keys, read in batches."""
        db = self._connection()
        batch: list[tuple[str, str]] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 400:
                yield from self._batch(db, batch)
                batch = []
        if batch:
            yield from self._batch(db, batch)

    def _batch(
        self, db: sqlite3.Connection, keys: list[tuple[str, str]]
    ) -> Iterator[tuple[str, str, Parsed]]:
        wanted = set(keys)
        blobs = sorted({bytes.fromhex(blob) for blob, _ in keys})
        marks = ",".join("?" * len(blobs))
        found = db.execute(f"SELECT blob, format, parse FROM docs WHERE blob IN ({marks})", blobs)
        for raw, fmt, packed in found:
            blob = raw.hex()
            if (blob, fmt) in wanted:
                yield blob, fmt, self.load(unpack(packed))

    def prune(self, keep: Iterable[str]) -> int:
        """Drop the parses of every blob not in ``keep`` (the files some ref holds), and give
        the space back to the file system; returns how many were dropped."""
        db = self._connection()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (blob BLOB PRIMARY KEY)")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM temp.keep")
            db.executemany(
                "INSERT OR IGNORE INTO temp.keep VALUES (?)", ((bytes.fromhex(b),) for b in keep)
            )
            dropped = db.execute(
                "DELETE FROM docs WHERE blob NOT IN (SELECT blob FROM temp.keep)"
            ).rowcount
            db.execute("DELETE FROM temp.keep")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA incremental_vacuum")
        return dropped

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and empty it: after a build, which wrote
        every parse through it, the log would keep its size on disk until the next write."""
        self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._open_lock:
            for db in self._open:
                db.close()
            self._open.clear()
        self._local = threading.local()
