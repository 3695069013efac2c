"""The entries each list condition matches, kept per state of the index as bitmaps.

A page whose filters match many entries spends most of its time finding them: at 100,000
entries, 15% is 15,000 ids read from one condition's index and each tested against the others.
Front ends ask the same conditions again and again (a section, a flag, a date range) with other
pages and sorts, so each condition's matches are read once for a state of the index, as a
bitmap (bit ``i`` set: entry ``i`` matches), and a page intersects them: Lucene's filter cache
does the same per segment.

A state is a random token the index stores with every change of its entries (``meta.state``,
written in the change's own transaction): what was read under one token holds for any
connection that reads the same token. A change that is rolled back (a draft's trial) stores
no token, and its reads keep nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable

from cms.content.query import Condition
from cms.index.sql import holders_sql
from cms.storage.lru import LRU

MAX_BYTES = 32 * 1024 * 1024  # per process: 2,600 conditions at 100,000 entries
# A condition fewer entries meet is read again each time: that costs less than a millisecond,
# and its bitmap as much memory as any (12.5 KB at 100,000 entries; a site's authors, tags
# or other relations could fill the cache).
KEEP_FROM = 1_000


def new_state() -> str:
    return secrets.token_hex(8)


def bitmap(ids: Iterable[int], size: int) -> int:
    """The bitmap of the ids below ``size`` (read one by one: a list of 93,000 ids would hold
    3 MB that the process keeps once freed)."""
    data = bytearray(size // 8 + 1)
    for entry_id in ids:
        if entry_id < size:
            data[entry_id >> 3] |= 1 << (entry_id & 7)
    return int.from_bytes(data, "little")


class Filters:
    """Each condition's matching entries, for the states of the index that were read."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._kept: LRU[tuple[str, str, Condition | None], int] = LRU(
            1_000_000, max_bytes, weigh=lambda bits: bits.bit_length() // 8 + 100
        )

    def matching(
        self, db: sqlite3.Connection, state: str, collection: str, conditions: tuple[Condition, ...]
    ) -> int:
        """The visible entries of ``collection`` that meet every condition, as a bitmap (inside
        the read transaction of the index at ``state``)."""
        bits = self._kept.get((state, collection, None))
        if bits is None:
            top = db.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
            rows = db.execute(
                "SELECT id FROM entries WHERE collection = ? AND visible = 1", (collection,)
            )
            bits = self._kept.put(
                (state, collection, None), bitmap((row[0] for row in rows), top + 1)
            )
        every, size = bits, bits.bit_length()  # no entry of the collection lies beyond
        for condition in conditions:
            key = (state, collection, condition)
            found = self._kept.get(key)
            if found is None:
                # The entries that hold a matching value, read from the value's index alone
                # (a condition most entries meet is one range of it), then kept to this
                # collection's visible entries.
                sql, params, negate = holders_sql(condition)
                rows = db.execute(sql, params) if sql else []
                held = bitmap((row[0] for row in rows), size)
                found = every & ~held if negate else every & held
                if found.bit_count() >= KEEP_FROM:
                    self._kept.put(key, found)
            bits &= found
        return bits
