"""One index: the entries of every collection at one commit, in SQLite.

``entries`` holds one row per entry (its collection, slug, file, version, problems and last
change), ``vals`` one row per value at each dotted field path (see rows.py), ``search`` the
FTS5 index of the texts that ``texts`` keeps compressed (see texts.py), ``common`` and
``champions`` the entries that score best for each common word (see common.py), ``meta`` the
commit it reflects. Entries are not copied here: their fields and bodies come from the parse
cache by blob sha.

Every change (a build, an update to a new commit) is one SQLite transaction that also moves
``meta.commit``, so a reader, which reads in a transaction of its own, sees one commit or the
next, never a mixture. A crash in the middle leaves the old commit.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from cms.content.entry import Entry, EntryProblem
from cms.content.parsed import Documents, Parsed
from cms.content.query import Query, kind_of
from cms.content.service import Snapshot
from cms.errors import BadRequest
from cms.index.common import TABLES as COMMON_TABLES
from cms.index.common import WEIGHTS, CommonWords
from cms.index.filters import Filters
from cms.index.rows import search_text, value_rows
from cms.index.sql import SortedPlan, page_sql, sorted_sql, walk_sql, where_sql
from cms.index.texts import TABLES as TEXT_TABLES
from cms.index.texts import TextStore
from cms.model import Collection
from cms.storage.git import Change

# The index format and the parse rules its rows come from: another value is rebuilt at start.
VERSION = "11"

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS paths (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    slug TEXT NOT NULL,
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    format TEXT NOT NULL,
    ord INTEGER NOT NULL,
    visible INTEGER NOT NULL,
    problems TEXT NOT NULL,
    change_commit TEXT,
    change_date TEXT,
    change_author TEXT,
    change_email TEXT
);
CREATE TABLE IF NOT EXISTS vals (
    entry INTEGER NOT NULL,
    field INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    t INTEGER NOT NULL,
    n,
    ts REAL,
    s TEXT,
    f TEXT,
    k TEXT,
    o,
    os TEXT,
    PRIMARY KEY (entry, field, pos)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (
    title, text, body, content = 'search_texts', content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2"
);
INSERT INTO search (search, rank) VALUES ('rank', 'bm25({}, {}, {})');
""".format(*WEIGHTS)
BM25 = "bm25(search, {}, {}, {})".format(*WEIGHTS)  # the rank, faster to sort by than ``rank``
# The texts of a page of search hits, for their snippets: the columns and tokenizer of
# ``search``, so FTS5 gives each the snippet it would in the whole index.
SNIPPETS = """
CREATE VIRTUAL TABLE IF NOT EXISTS temp.snippets USING fts5 (
    title, text, body, tokenize = "unicode61 remove_diacritics 2"
)
"""

# A condition that does not drive a list (minutes at least 7, beside a rubrique) is tested
# entry by entry; ``vals_entry_n`` holds each field's numbers by entry, so that test reads a
# small index rather than each entry's row (21 against 13 ms for 19,800 entries, +2.4 MB).
INDEXES = """
CREATE INDEX IF NOT EXISTS entries_slug ON entries (collection, slug);
CREATE INDEX IF NOT EXISTS entries_path ON entries (path);
CREATE INDEX IF NOT EXISTS entries_order ON entries (collection, visible, ord, slug);
CREATE INDEX IF NOT EXISTS vals_s ON vals (field, s, t, k);
CREATE INDEX IF NOT EXISTS vals_n ON vals (field, n, t) WHERE n IS NOT NULL;
CREATE INDEX IF NOT EXISTS vals_ts ON vals (field, ts, t) WHERE ts IS NOT NULL;
CREATE INDEX IF NOT EXISTS vals_k ON vals (field, k) WHERE k IS NOT NULL;
CREATE INDEX IF NOT EXISTS vals_sort ON vals (field, o, os) WHERE pos = 0;
CREATE INDEX IF NOT EXISTS vals_entry_n ON vals (field, entry, n, t) WHERE n IS NOT NULL;
"""

ENTRY_COLUMNS = (
    "id, collection, slug, path, blob, format, ord, visible, problems, "
    "change_commit, change_date, change_author, change_email"
)
MAX_QUERY_WORDS = 32
POSTINGS = 1 << 20  # FTS5's own hashsize
BUILD_POSTINGS = 16 << 20
_WORD = re.compile(r"\w+")
# Walking one row of a sort index costs about a quarter of sorting one matched entry.
WALK_COST = 4
TIE_MARGIN = 50  # rows read past a search page's end, to see a tie that crosses it
MARK_START, MARK_END = "\ue000", "\ue001"


@dataclass(frozen=True)
class Item:
    """A file to index: which entry of which collection it is."""

    collection: Collection
    slug: str
    path: str
    blob: str
    ord: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.blob, self.collection.format_for(self.slug))


@dataclass(frozen=True)
class Hit:
    entry: Entry
    title: str
    snippet: str
    score: float


@dataclass(frozen=True)
class Hits:
    hits: list[Hit]
    total: int
    page: int
    page_size: int


def match_query(text: str) -> str:
    """An FTS5 query from what a person typed: every word must appear, as a prefix (words are
    quoted, so FTS5 syntax in the text is only text)."""
    words = _WORD.findall(text)
    if not words:
        raise BadRequest(
            "the search needs at least one word", {"query": {"q": "has no letters or digits"}}
        )
    if len(words) > MAX_QUERY_WORDS:
        raise BadRequest(
            f"the search is limited to {MAX_QUERY_WORDS} words",
            {"query": {"q": f"has {len(words)} words"}},
        )
    return " ".join(f'"{word}"*' for word in words)


def highlight(snippet: str) -> str:
    """The snippet as HTML: its text escaped, the matched words in ``<mark>``."""
    escaped = html.escape(snippet, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


class Index:
    """Queries and changes on one index database (a file, or a copy in memory)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        documents: Documents,
        lock: threading.Lock | None = None,
        filters: Filters | None = None,
    ) -> None:
        self.db = db
        self.filters = filters  # the entries of conditions read before, shared by connections
        self.texts = TextStore(db)
        self.common = CommonWords(db)
        self.documents = documents
        self._kinds: dict[str, dict[str, str]] = {}
        self._sizes: dict[tuple[str, str], int] = {}  # (commit, collection): visible entries
        # A copy in memory is one connection shared by threads: they take turns.
        self.lock: AbstractContextManager = lock or nullcontext()

    # -- state ----------------------------------------------------------------------------------

    def create(self) -> None:
        self.db.executescript(TEXT_TABLES + TABLES + COMMON_TABLES)

    def create_indexes(self) -> None:
        self.db.executescript(INDEXES)

    def hold_postings(self, size: int) -> None:
        """How many bytes of new postings FTS5 keeps in memory, in one transaction, before it
        writes them out as a segment (its ``hashsize``; a setting kept in the index file).
        A build gives it ``BUILD_POSTINGS``, then gives it back ``POSTINGS`` (FTS5's own) for
        the writes that follow."""
        self.db.execute("INSERT INTO search (search, rank) VALUES ('hashsize', ?)", (size,))

    def merge_segments(self) -> None:
        """Merge FTS5's segments into one. A build does, once its texts are in: with 1 MB
        segments FTS5 merges them again and again as they pile up (100,000 texts: 4.0-4.8 s
        to insert them, against 2.5-3.4 with 16 MB ones and 1.0 to merge those); left as
        they are, the first writes after the build merge them, one of them for 2 s."""
        self.db.execute("INSERT INTO search (search) VALUES ('optimize')")

    def meta(self) -> dict[str, str]:
        try:
            return dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            return {}

    def commit(self) -> str | None:
        """The commit the index reflects (None if it is of another version of this code)."""
        meta = self.meta()
        return meta.get("commit") if meta.get("version") == VERSION else None

    def set_meta(self, **values: str) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(values.items())
        )

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM entries").fetchone()[0]

    def blobs(self) -> set[str]:
        """The blob of every entry (the files of the index's commit)."""
        return {blob for (blob,) in self.db.execute("SELECT DISTINCT blob FROM entries")}

    @contextmanager
    def reading(self) -> Iterator[str | None]:
        """A read transaction: everything read inside it is from one commit, which it yields."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield self.commit()
            finally:
                if self.db.in_transaction:  # an interrupted query (time limit) ends it
                    self.db.execute("COMMIT")

    @contextmanager
    def trying(self) -> Iterator[None]:
        """A write transaction that is always rolled back: what is read inside it sees the
        changes made inside it, and nobody else ever does."""
        with self.lock, self.common.deferred():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                if self.db.in_transaction:  # an interrupted change may have ended it
                    self.db.execute("ROLLBACK")

    def hold_merges(self) -> None:
        """No merging of full-text segments in this transaction, for one that is rolled back.
        FTS5 writes its changes to disk at the first savepoint, and each time it does, merges
        a share of its segments; the work is lost with the rollback, and a trial that starts
        from the same state does it again each time (4 ms of a draft's search at 10,000
        entries). FTS5 reads its settings again once the rollback has undone this one."""
        self.db.execute("INSERT INTO search (search, rank) VALUES ('automerge', 0)")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction (waiting for other writers): all of it lands, or none."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- writing entries ------------------------------------------------------------------------

    def insert(
        self, snapshot: Snapshot, items: Iterable[tuple[Item, Parsed]], search: bool = True
    ) -> int:
        """Index entries (inside a transaction; without ``search``, not in the full-text
        index); returns how many."""
        paths = dict(self.db.execute("SELECT name, id FROM paths").fetchall())
        next_id = (self.db.execute("SELECT max(id) FROM entries").fetchone()[0] or 0) + 1
        entries, vals, texts, new_paths = [], [], [], []
        done = 0
        for item, parsed in items:
            collection = item.collection
            entry = snapshot.build_entry(collection, item.slug, item.path, item.blob, parsed)
            visible = collection.filter is None or collection.filter.accepts(entry.fields)
            problems = json.dumps(
                [[p.field, p.message] for p in entry.problems], ensure_ascii=False
            )
            entries.append(
                (
                    next_id,
                    collection.name,
                    item.slug,
                    item.path,
                    item.blob,
                    item.key[1],
                    item.ord,
                    int(visible),
                    problems,
                )
            )
            # Kinds after this config's model: a config change may change a field's widget.
            kinds = self._kinds.setdefault(f"{snapshot.config_sha} {collection.name}", {})

            def kind(path: str, kinds: dict = kinds, collection: Collection = collection) -> str:
                found = kinds.get(path)
                if found is None:
                    found = kinds[path] = kind_of(collection.field_at(path))
                return found

            # What breaks ties in a sort (the `os` column): the entries' order, the place in a
            # files collection then the slug; in a folder collection every place is 0.
            order = item.slug if collection.kind != "files" else f"{item.ord:010d}\x00{item.slug}"
            for name, pos, *typed in value_rows(entry, kind):
                field_id = paths.get(name)
                if field_id is None:
                    field_id = paths[name] = len(paths) + 1
                    new_paths.append((field_id, name))
                vals.append((next_id, field_id, pos, *typed, order if pos == 0 else None))
            if visible and search:  # an entry the collection's filter hides is never found
                texts.append((next_id, *search_text(entry, collection.identifier_field)))
            next_id += 1
            done += 1
            if len(vals) > 20_000:
                self._flush(entries, vals, texts, new_paths)
        self._flush(entries, vals, texts, new_paths)
        return done

    def _flush(self, entries: list, vals: list, texts: list, new_paths: list) -> None:
        db = self.db
        db.executemany("INSERT INTO paths (id, name) VALUES (?, ?)", new_paths)
        db.executemany(
            "INSERT INTO entries (id, collection, slug, path, blob, format, ord, visible, "
            "problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            entries,
        )
        db.executemany("INSERT INTO vals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", vals)
        if texts:
            packed = self.texts.pack([(title, text, body) for _, title, text, body in texts])
            db.executemany(
                "INSERT INTO texts (id, packed) VALUES (?, ?)",
                zip((entry_id for entry_id, *_ in texts), packed, strict=True),
            )
            db.executemany(
                "INSERT INTO search (rowid, title, text, body) VALUES (?, ?, ?, ?)", texts
            )
            self.common.add(texts)
        for pending in (entries, vals, texts, new_paths):
            pending.clear()

    def delete_paths(self, paths: Iterable[str]) -> None:
        """Remove every entry stored at these paths (inside a transaction)."""
        ids = self._ids_at(paths)
        self._unsearch(ids)
        for entry_id in ids:
            self.db.execute("DELETE FROM vals WHERE entry = ?", (entry_id,))
            self.db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))

    def _ids_at(self, paths: Iterable[str], visible_only: bool = False) -> list[int]:
        """The entries stored at these paths, in the order of their ids: FTS5 writes what it
        holds in memory to disk as a new segment (then merges segments) whenever it is given
        a row before the last one, so entries leave it in order (13 times faster for a
        draft's 100 files), and those added next come after (their ids are new ones)."""
        sql = "SELECT id FROM entries WHERE path = ?" + (" AND visible = 1" if visible_only else "")
        return sorted(row[0] for path in paths for row in self.db.execute(sql, (path,)))

    def _unsearch(self, ids: list[int]) -> None:
        """Take entries out of full-text search, in the order given, with FTS5's ``delete``
        command and the texts each was indexed with (a ``DELETE`` would have FTS5 read them
        through ``search_texts`` twice, six calls of ``unpacked``)."""
        gone = []
        for entry_id in ids:
            row = self.db.execute("SELECT packed FROM texts WHERE id = ?", (entry_id,)).fetchone()
            if row is None:  # never in search (its collection's filter hides it)
                continue
            texts = self.texts.unpack(row[0])
            self.db.execute(
                "INSERT INTO search (search, rowid, title, text, body) "
                "VALUES ('delete', ?, ?, ?, ?)",
                (entry_id, *texts),
            )
            self.db.execute("DELETE FROM texts WHERE id = ?", (entry_id,))
            gone.append((entry_id, texts))
        self.common.forget(gone)

    def hide_paths(self, paths: Iterable[str], search: bool) -> None:
        """Make the entries stored at these paths unseen by every read, inside a transaction
        that is rolled back: much cheaper than deleting their values from every index (the
        rows stay, and no read reaches them). With ``search``, gone from full-text search."""
        ids = self._ids_at(paths, visible_only=True)
        for entry_id in ids:
            self.db.execute("UPDATE entries SET visible = 0 WHERE id = ?", (entry_id,))
        if search:
            self._unsearch(ids)

    def choose_common(self, always: bool = False, helper: sqlite3.Connection | None = None) -> None:
        """Make the common words' lists of best entries anew: after a build (``always``), or
        once the index has grown or shrunk by a quarter since they were made (``helper``: see
        ``CommonWords.choose``)."""
        rows, _ = self.common.averages()
        chosen = int(self.meta().get("common_rows", "0"))
        if always or abs(rows - chosen) * 4 > chosen:
            self.common.choose(helper)
            self.set_meta(common_rows=str(rows))

    def delete_all(self) -> None:
        self.db.execute("INSERT INTO search (search) VALUES ('delete-all')")
        self.common.clear()
        self.set_meta(common_rows="0")  # chosen again once the entries are in
        for table in ("vals", "texts", "entries"):
            self.db.execute(f"DELETE FROM {table}")

    def set_changes(self, changes: Iterable[tuple[str, Change | None]]) -> None:
        """Record the last commit that changed each path (None: not known yet)."""
        self.db.executemany(
            "UPDATE entries SET change_commit = ?, change_date = ?, change_author = ?, "
            "change_email = ? WHERE path = ?",
            (
                (c.commit, c.date, c.author, c.email, path)
                if c is not None
                else (None, None, None, None, path)
                for path, c in changes
            ),
        )

    def known_changes(self) -> dict[str, Change]:
        rows = self.db.execute(
            "SELECT path, change_commit, change_date, change_author, change_email FROM entries "
            "WHERE change_commit IS NOT NULL"
        )
        return {path: Change(*change) for path, *change in rows}

    # -- reading --------------------------------------------------------------------------------

    def entries(self, ids: list[int], commit: str) -> list[Entry]:
        """Entries by id, in that order (inside a read transaction)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = {
            row[0]: row
            for row in self.db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id IN ({marks})", ids
            )
        }
        return [self._entry(rows[i], commit) for i in ids if i in rows]

    def _entry(self, row: tuple, commit: str) -> Entry:
        _, collection, slug, path, blob, fmt, _, _, problems, *change = row
        parsed = self.documents.get(blob, fmt)
        return Entry(
            collection=collection,
            slug=slug,
            path=path,
            version=blob,
            fields=parsed.data,
            body=parsed.body,
            problems=tuple(EntryProblem(f, m) for f, m in json.loads(problems)),
            commit=commit,
            change=Change(*change) if change[0] is not None else None,
        )

    def find(self, collection: str, slug: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM entries WHERE collection = ? AND slug = ? AND visible = 1 "
            "ORDER BY ord, id LIMIT 1",
            (collection, slug),
        ).fetchone()
        return row[0] if row else None

    def page_ids(self, collection: str, query: Query, text: str | None) -> tuple[list[int], int]:
        """The ids of a page of entries, and how many match in all."""
        db = self.db
        if text is not None or not query.sort:
            match = match_query(text) if text is not None else None
            page, page_params, count, count_params = page_sql(collection, query, match)
            ids = [row[0] for row in db.execute(page, page_params)]
            return ids, db.execute(count, count_params).fetchone()[0]
        known = None  # how many match, from the conditions' bitmaps
        state = self.state() if query.conditions and self.filters is not None else None
        if state:
            bits = self.filters.matching(db, state, collection, query.conditions)
            known = bits.bit_count()
            if len(query.sort) == 1 and self._walk(collection, query, known):
                ids, present = self._walked(query, bits)
                if len(ids) == query.page_size:
                    return ids, known
                # Every entry with a value to sort by was walked: the page ends with entries
                # that have none.
                self._match(collection, query)
                plan = sorted_sql(collection, query, matched=True)
                return [*ids, *self._missing(plan, query, len(ids), present)], known
        if query.conditions:
            # Few entries match, or the page is far in: the matches are found once, into a
            # temporary table the page then sorts (or, without bitmaps, walks when many match).
            total = self._match(collection, query)
            walk = known is None and self._walk(collection, query, total)
            plan = sorted_sql(collection, query, matched=True, walk=walk)
        else:
            plan = sorted_sql(collection, query)
            total = db.execute(*plan.count).fetchone()[0]
        ids = [row[0] for row in db.execute(*plan.present)]
        if len(ids) < query.page_size:
            # The page reaches the entries without a value to sort by: they come last.
            present = db.execute(*plan.present_count).fetchone()[0]
            ids.extend(self._missing(plan, query, len(ids), present))
        return ids, total

    def state(self) -> str | None:
        """The token of the index's present state (see filters.py); none inside a trial."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
        return row[0] if row else None

    def _match(self, collection: str, query: Query) -> int:
        """The temporary table ``matched`` holding the entries that meet the query's
        conditions; how many."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS matched (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM temp.matched")
        where, params = where_sql(collection, query.conditions)
        return db.execute(
            f"INSERT INTO temp.matched SELECT e.id FROM entries e WHERE {where}", params
        ).rowcount

    def _walked(self, query: Query, bits: int) -> tuple[list[int], int]:
        """A page of the entries of ``bits``, walking the sort index until it is full, and how
        many of them the walk met (all those with a value to sort by, if it is not full)."""
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        size, start = len(data), (query.page - 1) * query.page_size
        ids: list[int] = []
        present = 0
        cursor = self.db.execute(*walk_sql(query.sort[0]))
        try:
            for (entry_id,) in cursor:
                at = entry_id >> 3
                if at < size and data[at] >> (entry_id & 7) & 1:
                    if present >= start:
                        ids.append(entry_id)
                        if len(ids) == query.page_size:
                            break
                    present += 1
        finally:
            cursor.close()
        return ids, present

    def _missing(self, plan: SortedPlan, query: Query, found: int, present: int) -> list[int]:
        """The rest of a page that ``found`` entries with a value to sort by began, from the
        entries without one (``present``: how many matched entries have one)."""
        start = (query.page - 1) * query.page_size
        sql, params = plan.missing
        rows = self.db.execute(sql, [*params, query.page_size - found, max(0, start - present)])
        return [row[0] for row in rows]

    def _walk(self, collection: str, query: Query, matched: int) -> bool:
        """Whether walking the sort index until the page is full (about ``page end ×
        entries / matched`` rows) costs less than sorting the ``matched`` entries."""
        if matched == 0:
            return False
        key = (self.commit() or "", collection)
        size = self._sizes.get(key)
        if size is None:
            size = self.db.execute(
                "SELECT count(*) FROM entries WHERE collection = ? AND visible = 1", (collection,)
            ).fetchone()[0]
            if len(self._sizes) > 64:
                self._sizes.clear()
            self._sizes[key] = size
        walked = query.page * query.page_size * size / matched
        return walked < WALK_COST * matched

    def related(
        self, collection: str, field: str, keys: list[str], slug: str | None = None
    ) -> dict[str, int]:
        """For each relation key, the first entry (in list order) of ``collection`` (only the
        entry ``slug``, if given) whose ``field`` holds it: one query for any number of keys."""
        if not keys:
            return {}
        only = "" if slug is None else "AND e.slug = ? "
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            "SELECT key, id FROM ("
            "SELECT v.s AS key, v.entry AS entry, v.pos AS pos FROM vals v "
            f"WHERE v.field = (SELECT id FROM paths WHERE name = ?) AND v.s IN ({marks}) "
            "AND v.k IS NULL UNION ALL "
            "SELECT v.k, v.entry, v.pos FROM vals v "
            f"WHERE v.field = (SELECT id FROM paths WHERE name = ?) AND v.k IN ({marks})"
            ") JOIN entries e ON e.id = entry WHERE e.collection = ? AND e.visible = 1 "
            f"{only}ORDER BY e.ord, e.slug, pos",
            [field, *keys, field, *keys, collection, *([] if slug is None else [slug])],
        )
        found: dict[str, int] = {}
        for key, entry_id in rows:
            found.setdefault(key, entry_id)
        return found

    def _keys(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """(collection, slug) of entries by id, in batches under SQLite's variable limit."""
        found: dict[int, tuple[str, str]] = {}
        for start in range(0, len(ids), 10_000):
            batch = ids[start : start + 10_000]
            marks = ",".join("?" * len(batch))
            for entry_id, collection, slug in self.db.execute(
                f"SELECT id, collection, slug FROM entries WHERE id IN ({marks})", batch
            ):
                found[entry_id] = (collection, slug)
        return found

    def _snippets(self, match: str, ids: list[int]) -> dict[int, str]:
        """FTS5's snippet of each of these entries, made in a table of their texts alone: in
        the whole index, each lookup by rowid reads the match's every row again (a prefix's
        rows are merged anew each time), 3 ms a row for a word most entries hold."""
        if not ids:
            return {}
        db = self.db
        db.execute(SNIPPETS)
        db.execute("DELETE FROM temp.snippets")
        marks = ",".join("?" * len(ids))
        packed = db.execute(f"SELECT id, packed FROM texts WHERE id IN ({marks})", ids)
        db.executemany(
            "INSERT INTO temp.snippets (rowid, title, text, body) VALUES (?, ?, ?, ?)",
            [(entry_id, *self.texts.unpack(texts)) for entry_id, texts in packed],
        )
        return dict(
            db.execute(
                f"SELECT rowid, snippet(snippets, -1, '{MARK_START}', '{MARK_END}', '…', 16) "
                "FROM temp.snippets WHERE snippets MATCH ?",
                [match],
            ).fetchall()
        )

    def _ranked(self, where: str, params: list, wanted: int) -> list[tuple[int, float]]:
        """The ``wanted`` best matches and the rest of a tie with the last, FTS5 ranking
        every match."""
        sql = f"SELECT search.rowid, {BM25} AS score {where} ORDER BY score"
        # With a LIMIT, SQLite keeps only the best rows instead of sorting every match; a few
        # more than the page's end show whether a tie crosses it (then: every match).
        taken = self.db.execute(f"{sql} LIMIT ?", [*params, wanted + TIE_MARGIN]).fetchall()
        if len(taken) == wanted + TIE_MARGIN and taken[-1][1] == taken[wanted - 1][1]:
            taken = self.db.execute(sql, params).fetchall()
        return taken

    def search(
        self, text: str, collections: list[str] | None, page: int, page_size: int
    ) -> tuple[list[tuple[int, float, str]], int]:
        """(entry id, score, snippet) of the best matches (in ``collections``; None: in every
        collection, without reading each match's collection), and how many match."""
        match = match_query(text)
        collections = collections or []
        marks = ",".join("?" * len(collections))
        where = "FROM search WHERE search MATCH ?"
        if collections:  # FTS5 first, each match's collection looked up in ``entries``
            where = (
                "FROM search CROSS JOIN entries e ON e.id = search.rowid "
                f"WHERE search MATCH ? AND e.collection IN ({marks})"
            )
        # Equal scores are ordered by collection and slug: row ids differ between an index
        # rebuilt and one updated commit by commit, and their pages must not. FTS5 sorts by
        # rank itself (fast); the rows up to the page's end, and the rest of a tie that
        # crosses it, are then sorted again with the key. Only the page gets snippets.
        taken: list[tuple[int, float]]
        wanted = page * page_size
        params = [match, *collections]
        # A common word's matches are counted with its list, and its best are in the list,
        # most often: then FTS5 neither counts nor ranks every match.
        words = _WORD.findall(text)
        common = self.common.word(words[0]) if len(words) == 1 else None
        if common is not None and not collections:
            total = common.hits
        else:
            total = self.db.execute(f"SELECT count(*) {where}", params).fetchone()[0]
        if total <= (page - 1) * page_size:  # nothing to rank (ranking reads every match)
            return [], total
        best = None if common is None else self.common.best(common, collections, wanted)
        taken = best if best is not None else self._ranked(where, params, wanted)
        if len(taken) > wanted:
            boundary = taken[wanted - 1][1]
            taken = taken[:wanted] + [row for row in taken[wanted:] if row[1] == boundary]
        keys = self._keys([rowid for rowid, _ in taken])
        taken = list(taken)
        taken.sort(key=lambda item: (item[1], keys.get(item[0], ("", ""))))
        ranked = taken[(page - 1) * page_size : wanted]
        snippets = self._snippets(match, [i for i, _ in ranked])
        rows = [(i, rank, snippets.get(i, "")) for i, rank in ranked]
        return [(i, -rank, highlight(snippet)) for i, rank, snippet in rows], total
