"""The texts of full-text search, kept compressed in the index's ``texts`` table.

FTS5 needs an entry's words again to remove it from ``search`` (and a page's texts for its
snippets): it reads them through the view ``search_texts``, which unpacks each row with the
SQL function ``unpacked``. Entries' texts are short and much alike, so each is compressed
with a preset dictionary (zlib's ``zdict``): 32 KB of the texts the index was first built
with, stored in ``dictionaries``. A compressed text names its dictionary itself (zlib writes
the dictionary's Adler-32 in its header), so the dictionaries are keyed by that checksum.
Before compression the three texts are one string, after a line with the lengths of the
first two (a fifth of JSON's cost to read back, which every removal from ``search`` pays).
"""

from __future__ import annotations

import sqlite3
import zlib

DICTIONARY_BYTES = 32 * 1024  # the most zlib uses
# With the dictionary, level 3 packs these texts smaller than level 6 without it, in less
# time: 353 against 500 bytes, 23 against 29 µs (100,000 generated entries, 1 KB each).
LEVEL = 3

TABLES = """
CREATE TABLE IF NOT EXISTS dictionaries (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, packed BLOB NOT NULL);
CREATE VIEW IF NOT EXISTS search_texts AS SELECT id, unpacked(packed, 0) AS title,
    unpacked(packed, 1) AS text, unpacked(packed, 2) AS body FROM texts;
"""

Texts = tuple[str, str, str]  # title, other text, body


class TextStore:
    """Packs and unpacks the texts of one index connection (and is its ``unpacked``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._dictionaries: dict[int, bytes] = {}
        # A compressor that has read its dictionary, copied for each text (reading 32 KB
        # anew for each would cost three times as much as compressing it).
        self._primed: dict[int | None, zlib._Compress] = {}
        self._last: tuple[bytes, list[str]] | None = None
        db.create_function("unpacked", 2, self._column, deterministic=True)

    def pack(self, batch: list[Texts]) -> list[bytes]:
        """Each text compressed with the index's dictionary, made from this batch if the
        index has none yet (inside the caller's transaction, so it lands with them)."""
        row = self.db.execute("SELECT id, data FROM dictionaries ORDER BY id LIMIT 1").fetchone()
        if row is None:
            sample = "\n".join(part for texts in batch for part in texts).encode()
            if sample:
                row = (zlib.adler32(sample[-DICTIONARY_BYTES:]), sample[-DICTIONARY_BYTES:])
                self.db.execute("INSERT INTO dictionaries (id, data) VALUES (?, ?)", row)
        # Without a dictionary (no text yet but empty ones), zlib writes none.
        key = row[0] if row else None
        primed = self._primed.get(key)
        if primed is None:
            primed = zlib.compressobj(LEVEL, zdict=row[1]) if row else zlib.compressobj(LEVEL)
            self._primed[key] = primed
        packed = []
        for texts in batch:
            compressor = primed.copy()
            title, text, body = texts
            raw = f"{len(title)} {len(text)}\n{title}{text}{body}".encode()
            packed.append(compressor.compress(raw) + compressor.flush())
        return packed

    def unpack(self, packed: bytes) -> list[str]:
        if self._last is not None and self._last[0] == packed:
            return self._last[1]
        data = self._dictionary(packed)
        decompressor = zlib.decompressobj(zdict=data) if data else zlib.decompressobj()
        joined = (decompressor.decompress(packed) + decompressor.flush()).decode()
        head, _, rest = joined.partition("\n")
        first, second = (int(length) for length in head.split(" "))
        texts = [rest[:first], rest[first : first + second], rest[first + second :]]
        self._last = (packed, texts)
        return texts

    def _dictionary(self, packed: bytes) -> bytes | None:
        if not packed[1] & 0x20:  # the header's flag of a preset dictionary
            return None
        # The header's 2 bytes, then the dictionary's Adler-32.
        key = int.from_bytes(packed[2:6], "big")
        data = self._dictionaries.get(key)
        if data is None:
            row = self.db.execute("SELECT data FROM dictionaries WHERE id = ?", (key,)).fetchone()
            if row is None:
                raise ValueError(f"no dictionary {key:08x} for a text of the index")
            data = self._dictionaries[key] = row[0]
        return data

    def _column(self, packed: bytes, column: int) -> str:
        # FTS5 asks for a row's three columns in turn: the last row unpacked is kept.
        return self.unpack(packed)[column]
