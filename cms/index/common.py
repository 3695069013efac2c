"""The best entries for each common word, so a search for one does not rank every match.

FTS5 ranks a search by scoring every entry that matches (bm25), 1 µs each: a word that most
of 100,000 entries hold costs 80 ms however small the page. For each word held by at least
``COMMON`` entries, ``champions`` keeps the entries that score best for it alone (``BEST`` of
them, with the two numbers bm25 needs: the word's weighted count ``f`` in the entry and the
entry's length ``d``). A search for that one word scores these few in Python, with FTS5's own
formula and figures, and gives the same scores, bit for bit, as FTS5.

Whether the page is all among them is checked on every search, so an answer from here is
always the one FTS5 would give. ``common.floor`` is the score (at the average entry length
``common.avgdl`` of the time) of the last entry kept: every entry that scores at least that
for the word is in ``champions``, those written since included (each new entry's words are
counted as it is indexed). An entry not in the list scores less than ``floor``, or, once the
average length has grown, less than ``floor`` × growth (a score grows with the average
length no faster than it). When the page's last score is above that bound the page is exact;
otherwise (a page deep in the results, a list thinned by deletions, a prefix that is also
the start of other words) the search ranks every match in FTS5 as before.

``common.hits`` is how many entries hold the word, as FTS5 would count them: taken from its
vocabulary when the lists are made, then raised for each entry indexed and lowered for each
that leaves search (its texts tokenized again). A search for the word in every collection
reads its total there; FTS5 would read every match to count them.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

COMMON = 5_000  # entries that hold a word for it to be common (ranking them costs ~4 ms)
BEST = 500  # entries kept for each common word: its pages to the 500th hit (6 MB at 1,000)
K1, B = 1.2, 0.75  # FTS5's bm25 parameters
WEIGHTS = (10.0, 2.0, 1.0)  # of the columns title, text, body: the index's bm25 weights
MARGIN = 1e-9  # for the rounding of two computations of a score

TABLES = """
CREATE TABLE IF NOT EXISTS common (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    avgdl REAL NOT NULL,
    floor REAL NOT NULL,
    hits INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS champions (
    word INTEGER NOT NULL,
    entry INTEGER NOT NULL,
    f INTEGER NOT NULL,
    d INTEGER NOT NULL,
    PRIMARY KEY (word, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS champions_entry ON champions (entry);
"""
# The words of a few texts, tokenized as ``search`` tokenizes them, and every occurrence.
SCRATCH = """
CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokens USING fts5 (
    title, text, body, content = '', tokenize = "unicode61 remove_diacritics 2"
);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokens_seen USING fts5vocab(temp, tokens, instance);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokens_terms USING fts5vocab(temp, tokens, row);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms USING fts5vocab(main, search, row);
"""
# Every occurrence of each word in the index (its entry and column), for ``_scanned``.
SEEN = "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_seen USING fts5vocab(main, search, instance)"
# ``tokens`` keeps no copy of the texts (``content = ''``): emptied at once, not row by row.
EMPTY = "INSERT INTO temp.tokens (tokens) VALUES ('delete-all')"


def _weight(column: str) -> str:
    """SQL for the weight of an occurrence in a row of an ``instance`` vocabulary table."""
    title, text, body = WEIGHTS
    return f"CASE {column} WHEN 'title' THEN {title:g} WHEN 'text' THEN {text:g} ELSE {body:g} END"


def score(f: float, d: float, avgdl: float) -> float:
    """bm25's term for one word without its idf, computed as FTS5 computes it (fts5_aux.c)."""
    return (f * (K1 + 1.0)) / (f + K1 * (1 - B + B * d / avgdl))


def idf(rows: int, hits: int) -> float:
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def varints(blob: bytes) -> list[int]:
    """The integers of one of FTS5's records (SQLite's variable-length integers)."""
    values, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(8):
            byte = blob[i + j]
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                i += j + 1
                break
        else:
            value = (value << 8) | blob[i + 8]
            i += 9
        values.append(value)
    return values


def _scanned(
    db: sqlite3.Connection, tokens: list[str], sizes: list[tuple[int, int]], avgdl: float
) -> Iterator[tuple[str, list[tuple[int, int, int]]]]:
    """For each word, the ``BEST`` + 1 entries that score best for it (entry id, ``f``,
    ``d``), read from the vocabulary of every occurrence in the index ``db`` (``sizes``:
    each entry's length in tokens)."""
    db.execute(SEEN)
    db.execute("CREATE TEMP TABLE IF NOT EXISTS sizes (id INTEGER PRIMARY KEY, d INTEGER)")
    db.execute("DELETE FROM temp.sizes")
    db.executemany("INSERT INTO temp.sizes VALUES (?, ?)", sizes)
    try:
        for token in tokens:
            yield (
                token,
                db.execute(
                    f"SELECT doc, f, d FROM (SELECT doc, sum({_weight('col')}) AS f "
                    "FROM temp.search_seen WHERE term = ? GROUP BY doc) "
                    "JOIN temp.sizes ON id = doc "
                    f"ORDER BY (f * ({K1} + 1.0)) / (f + {K1} * (1 - {B} + {B} * d / ?)) DESC "
                    "LIMIT ?",
                    (token, avgdl, BEST + 1),
                ).fetchall(),
            )
    finally:
        db.execute("DELETE FROM temp.sizes")


@dataclass(frozen=True)
class Word:
    """A common word: its row in ``common``, the average entry length and the floor its list
    was made with, and how many entries hold it (kept up to date with the index)."""

    id: int
    token: str
    avgdl: float
    floor: float
    hits: int


class CommonWords:
    """The champion lists of one index connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        # Inside a transaction that is rolled back (a read at a draft): entries added to and
        # taken out of search, counted only if a search reads a list (see ``deferred``).
        self._pending: list[tuple[Callable, list]] | None = None

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """For a transaction that is always rolled back: ``add`` and ``forget`` only note
        their entries, and a search for a common word counts them all first (``_settle``). A
        search for any other word never reads the lists, and the work would be rolled back
        unused: for a read at a commit 100 files away, half of a 24 ms search."""
        self._pending = []
        try:
            yield
        finally:
            self._pending = None

    def _settle(self) -> None:
        """Do the work ``deferred`` noted, in its order."""
        pending, self._pending = self._pending or [], []
        for work, rows in pending:
            work(rows)

    def _scratch(self) -> None:
        """The temporary tables (each connection has its own, and a rolled-back transaction
        takes back those it made), ``tokens`` empty (a query the time limit stopped may have
        left texts there)."""
        for statement in SCRATCH.split(";"):
            if statement.strip():
                self.db.execute(statement)
        self.db.execute(EMPTY)

    @contextmanager
    def _tokenized(self, rows: Iterable[Sequence]) -> Iterator[None]:
        """Texts (rowid, title, text, body) in ``temp.tokens`` while the block runs, so that
        ``temp.tokens_seen`` gives their every word, and ``temp.tokens_terms`` how many of
        them hold each; the table is emptied after."""
        self._scratch()
        self.db.executemany(
            "INSERT INTO temp.tokens (rowid, title, text, body) VALUES (?, ?, ?, ?)", rows
        )
        try:
            yield
        finally:
            self.db.execute(EMPTY)

    def averages(self) -> tuple[int, float]:
        """FTS5's number of rows and average row length (in tokens), as bm25 reads them. Inside
        a write transaction FTS5 keeps them in memory until a savepoint makes it write them."""
        self.db.execute("SAVEPOINT averages")
        self.db.execute("RELEASE averages")
        row = self.db.execute("SELECT block FROM search_data WHERE id = 1").fetchone()
        if row is None or not row[0]:
            return 0, 0.0
        rows, *columns = varints(row[0])
        return rows, (float(sum(columns)) / float(rows) if rows else 0.0)

    # -- choosing ---------------------------------------------------------------------------

    def choose(self, helper: sqlite3.Connection | None = None) -> None:
        """Make the lists anew from the whole index (the words that are common now).
        ``helper``, another connection to the same committed index, scans half of the words
        in a thread of its own (SQLite works without Python's lock): the scans are most of
        the 6 s this takes after a build of 100,000 entries."""
        db = self.db
        self._scratch()
        db.execute("DELETE FROM champions")
        db.execute("DELETE FROM common")
        rows, avgdl = self.averages()
        if rows < COMMON:
            return
        tokens = db.execute(
            "SELECT term, doc FROM temp.search_terms WHERE doc >= ? ORDER BY term", (COMMON,)
        ).fetchall()
        sizes = [(i, sum(varints(sz))) for i, sz in db.execute("SELECT id, sz FROM search_docsize")]
        words = [token for token, _ in tokens]
        if helper is None:
            lists = dict(_scanned(db, words, sizes, avgdl))
        else:  # every other word to each (the words are in their order, not their sizes')
            with ThreadPoolExecutor(1, thread_name_prefix="cms-common") as pool:
                theirs = pool.submit(lambda: dict(_scanned(helper, words[1::2], sizes, avgdl)))
                lists = dict(_scanned(db, words[::2], sizes, avgdl))
                lists.update(theirs.result())  # raises here what the thread raised
        for token, hits in tokens:
            scored = sorted(
                ((score(float(f), float(d), avgdl), doc, f, d) for doc, f, d in lists[token]),
                reverse=True,
            )
            kept = scored[:BEST]
            if len(scored) > BEST:  # the last kept must score above the first left out
                left_out = scored[BEST][0]
                kept = [row for row in kept if row[0] > left_out * (1 + MARGIN)]
            if not kept:
                continue
            word = db.execute(
                "INSERT INTO common (token, avgdl, floor, hits) VALUES (?, ?, ?, ?)",
                (token, avgdl, kept[-1][0], hits),
            ).lastrowid
            db.executemany(
                "INSERT INTO champions (word, entry, f, d) VALUES (?, ?, ?, ?)",
                ((word, doc, f, d) for _, doc, f, d in kept),
            )

    # -- keeping them up to date --------------------------------------------------------------

    def add(self, texts: list[tuple[int, str, str, str]]) -> None:
        """Entries just added to ``search`` (id, title, text, body): each common word they hold
        counts them, and each that scores at least the word's floor joins its list."""
        if self._pending is not None:
            self._pending.append((self._add, list(texts)))
        else:
            self._add(texts)

    def _add(self, texts: list[tuple[int, str, str, str]]) -> None:
        db = self.db
        if not texts or db.execute("SELECT 1 FROM common LIMIT 1").fetchone() is None:
            return
        with self._tokenized(texts):
            # The common words the texts hold first, from their own few terms: otherwise
            # SQLite looks each common word up in them (1.4 ms for one entry, now 0.3).
            sizes = dict(db.execute("SELECT doc, count(*) FROM temp.tokens_seen GROUP BY doc"))
            found = db.execute(
                "WITH held AS MATERIALIZED (SELECT c.id, c.token, c.avgdl, c.floor "
                "FROM temp.tokens_terms t CROSS JOIN common c ON c.token = t.term) "
                f"SELECT c.id, c.avgdl, c.floor, s.doc, sum({_weight('s.col')}) "
                "FROM held c CROSS JOIN temp.tokens_seen s ON s.term = c.token "
                "GROUP BY c.id, s.doc"
            ).fetchall()
            added = Counter(word for word, *_ in found)
            db.executemany(
                "UPDATE common SET hits = hits + ? WHERE id = ?",
                [(count, word) for word, count in added.items()],
            )
            db.executemany(
                "INSERT INTO champions (word, entry, f, d) VALUES (?, ?, ?, ?)",
                (
                    (word, doc, f, sizes[doc])
                    for word, avgdl, floor, doc, f in found
                    if score(float(f), float(sizes[doc]), avgdl) >= floor
                ),
            )

    def forget(self, gone: list[tuple[int, list[str]]]) -> None:
        """Entries just taken out of ``search`` (id, and the texts they were indexed with):
        they leave every list, and each common word counts those that held it fewer (their
        texts tokenized at once: one by one, 100 entries took 46 ms)."""
        if self._pending is not None:
            self._pending.append((self._forget, list(gone)))
        else:
            self._forget(gone)

    def _forget(self, gone: list[tuple[int, list[str]]]) -> None:
        if not gone:
            return
        db = self.db
        db.executemany("DELETE FROM champions WHERE entry = ?", [(i,) for i, _ in gone])
        if db.execute("SELECT 1 FROM common LIMIT 1").fetchone() is None:
            return
        with self._tokenized((entry_id, *texts) for entry_id, texts in gone):
            held = db.execute(
                "SELECT c.id, t.doc FROM temp.tokens_terms t "
                "CROSS JOIN common c ON c.token = t.term"
            ).fetchall()
            db.executemany(
                "UPDATE common SET hits = hits - ? WHERE id = ?", [(n, word) for word, n in held]
            )

    def clear(self) -> None:
        if self._pending is not None:
            self._pending.clear()  # what they would count is gone
        self.db.execute("DELETE FROM champions")
        self.db.execute("DELETE FROM common")

    # -- searching ----------------------------------------------------------------------------

    def word(self, text: str) -> Word | None:
        """The common word that the prefix ``text`` (one word as typed) matches, when it is
        the only word of the index that the prefix matches (then its matches are the
        word's); None otherwise."""
        db = self.db
        with self._tokenized([(1, None, None, text)]):
            tokens = [t for (t,) in db.execute("SELECT term FROM temp.tokens_seen")]
        if len(tokens) != 1:
            return None
        prefix = tokens[0]
        found = db.execute(
            "SELECT id, token, avgdl, floor, hits FROM common WHERE token >= ? "
            "ORDER BY token LIMIT 1",
            (prefix,),
        ).fetchone()
        if found is None or not found[1].startswith(prefix):
            return None
        if self._pending:  # the word's count and list, with the entries moved meanwhile
            self._settle()
            found = db.execute(
                "SELECT id, token, avgdl, floor, hits FROM common WHERE id = ?", (found[0],)
            ).fetchone()
        word = Word(*found)
        # A champion list is one word's: the prefix must match no other word of the index.
        # (The vocabulary counts the rows of each word it passes, 6 ms for a common one: it
        # is asked for the first word from the prefix only if that is not the common word,
        # then for the word after it, from the word and a character no word holds.)
        token = word.token
        after = [(token + "\x01",)] if prefix == token else [(prefix,), (token + "\x01",)]
        for (start,) in after:
            other = db.execute(
                "SELECT term FROM temp.search_terms WHERE term >= ? LIMIT 1", (start,)
            ).fetchone()
            if other is not None and other[0] != token and other[0].startswith(prefix):
                return None
        return word

    def best(
        self, word: Word, collections: list[str], wanted: int
    ) -> list[tuple[int, float]] | None:
        """(entry id, FTS5's rank) of the ``wanted`` best matches of ``word`` (in
        ``collections``; empty: all) and of every match tied with the last, best first; None
        when that cannot be told from the word's list."""
        sql = "SELECT c.entry, c.f, c.d FROM champions c WHERE c.word = ?"
        params: list = [word.id]
        if collections:
            marks = ",".join("?" * len(collections))
            sql = (
                "SELECT c.entry, c.f, c.d FROM champions c JOIN entries e ON e.id = c.entry "
                f"WHERE c.word = ? AND e.collection IN ({marks})"
            )
            params += collections
        rows, avgdl = self.averages()
        scored = sorted(
            (
                (score(float(f), float(d), avgdl), entry)
                for entry, f, d in self.db.execute(sql, params)
            ),
            reverse=True,
        )
        if len(scored) < wanted:
            return None
        bound = word.floor * max(1.0, avgdl / word.avgdl) * (1 + MARGIN)
        if not scored[wanted - 1][0] > bound:  # an entry outside the list could score as much
            return None
        weight = idf(rows, word.hits)
        ranked = [(entry, -1.0 * (0.0 + weight * value)) for value, entry in scored]
        last = ranked[wanted - 1][1]
        return [row for row in ranked if row[1] <= last]
