"""A time limit on the SQL of one request, as datasette's ``sqlite_timelimit``: a query still
running past it is interrupted and answered with a clear error, and the connection goes on
serving other requests.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cms import timings
from cms.errors import CMSError

# SQLite calls the handler every this many virtual machine instructions (a few ms of a
# query's work here). The handler is Python: the query's thread takes the GIL for each call,
# and while another thread runs Python that is a wait of up to 5 ms (sys.getswitchinterval):
# checked every 1,000 instructions, a search of 30 ms took 800 ms beside a busy thread.
CHECK_EVERY = 100_000


class QueryTooSlow(CMSError):
    """The query passed CMS_SQL_TIME_LIMIT_MS and was interrupted."""

    status = 400

    def __init__(self, limit: float) -> None:
        super().__init__(
            f"this query took longer than {limit * 1000:.0f} ms (CMS_SQL_TIME_LIMIT_MS) and "
            "was stopped: narrow it with more selective filters, or a smaller page",
            {"time_limit_ms": round(limit * 1000)},
        )


@contextmanager
def time_limit(db: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Interrupt the SQL run on ``db`` inside the block once ``seconds`` have passed (0: no
    limit). The connection must not be used by another thread meanwhile. How long the block
    took is recorded (``timings``, kind ``index``)."""
    started = time.monotonic()
    if seconds <= 0:
        try:
            yield
        finally:
            timings.record("index", "query", time.monotonic() - started)
        return
    deadline = started + seconds
    db.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, CHECK_EVERY)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryTooSlow(seconds) from None
        raise
    finally:
        db.set_progress_handler(None, CHECK_EVERY)
        timings.record("index", "query", time.monotonic() - started)
