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

from cms.content.query import Condition
from cms.index.sql import holders_sql
from cms.storage.lru import LRU

MAX_BYTES = 32 * 1024 * 1024  # per process: 2,600 conditions at 100,000 entries


def new_state() -> str:
    return secrets.token_hex(8)


def bitmap(ids: list[int]) -> int:
    """The bitmap of a list of entry ids."""
    if not ids:
        return 0
    data = bytearray(max(ids) // 8 + 1)
    for entry_id in ids:
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
            rows = db.execute(
                "SELECT id FROM entries WHERE collection = ? AND visible = 1", (collection,)
            )
            bits = self._kept.put((state, collection, None), bitmap([row[0] for row in rows]))
        every = bits
        for condition in conditions:
            key = (state, collection, condition)
            found = self._kept.get(key)
            if found is None:
                # The entries that hold a matching value, read from the value's index alone
                # (a condition most entries meet is one range of it), then kept to this
                # collection's visible entries.
                sql, params, negate = holders_sql(condition)
                held = bitmap([row[0] for row in db.execute(sql, params)]) if sql else 0
                found = self._kept.put(key, every & ~held if negate else every & held)
            bits &= found
        return bits
