"""The indexes of a repository: the published branch's, kept on disk, and copies at other refs.

The published branch has one index file under ``CMS_INSTANCE/index``. It is built once (``cms
index rebuild``, or by the server at start when it is missing) into a new file that replaces
the old one only when complete, then kept current: when the branch has moved, the next read
applies the diff between the index's commit and the new head in one transaction.

Lists and searches at another ref (a draft branch, a tag, an old commit) use a copy of that
index in memory, moved to the ref's commit the same way; copies are kept for a while, within a
memory budget.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from cms.content.entry import Entry
from cms.content.parsed import FILE as PARSED_FILE
from cms.content.parsed import Documents, Parsed, connect, pack, parse_blob, store_in
from cms.content.query import Page, Query
from cms.content.service import ContentService, Snapshot, nfc, relation_key
from cms.errors import CMSError, NotFound, RepositoryError
from cms.index.filters import Filters, new_state
from cms.index.index import BUILD_POSTINGS, POSTINGS, VERSION, Hit, Hits, Index, Item
from cms.index.limit import time_limit
from cms.index.rows import index_path
from cms.model import Collection, Model
from cms.model.widgets import RelationWidget
from cms.storage.git import Change, FileChange
from cms.storage.lru import LRU

Progress = Callable[[str, int, int], None]
PARALLEL_PARSE = 2_000  # below this many files to parse, one process is quicker
CHUNK = 256
# A commit whose files differ from the branch index's in at most this many paths is read
# through the branch index moved there and back; one further away, from a copy on disk.
NEAR = 2_000
COPIES = 2  # copies on disk kept per process, for the commits furthest away
READY_WAIT = 5.0  # seconds a list waits for an index being built before a 503
log = logging.getLogger(__name__)


class IndexNotReady(CMSError):
    """The index of the published branch has not been built yet (the server is building it)."""

    status = 503


def items(snapshot: Snapshot) -> Iterator[Item]:
    """Every file of every collection at the snapshot's commit, as index items."""
    for collection in snapshot.collections():
        names = list(collection.files)
        for slug, blob in snapshot.files(collection):
            order = names.index(slug) if collection.kind == "files" else 0
            yield Item(collection, slug, blob.path, blob.sha, order)


T = TypeVar("T")


def yielding(values: Iterable[T], every: int = 256) -> Iterator[T]:
    """``values``, letting the worker's other threads have the GIL after every ``every`` of
    them. Work in the background that runs Python for seconds (the pruning walks every file of
    every ref) would otherwise keep it 5 ms at a time (``sys.getswitchinterval``), and a request
    thread waits that long each time it gets it back from SQLite: a search of 30 ms took 0.3
    to 1.5 s during the pruning at 100,000 entries."""
    for number, value in enumerate(values, 1):
        yield value
        if number % every == 0:
            time.sleep(0)


def items_at(snapshot: Snapshot, path: str, blob: str) -> Iterator[Item]:
    """The entries a file is, in each collection that holds it (usually one, or none)."""
    for collection, slug in snapshot.owners(path):
        order = list(collection.files).index(slug) if collection.kind == "files" else 0
        yield Item(collection, slug, path, blob, order)


def pathspecs(model: Model) -> list[str]:
    """The git pathspecs of the content: each folder collection's folder, each file."""
    specs = []
    for collection in model.collections.values():
        if collection.kind == "files":
            specs.extend(item.path for item in collection.files.values())
        else:
            specs.append(f"{collection.folder}/" if collection.folder else ".")
    return sorted(set(specs))


@dataclass(frozen=True)
class Move:
    """Going from the commit ``old`` to ``new``: the files that differ (None: index
    everything again), whether ``new`` descends from ``old``, and then the newest change of
    each path in between, or else the paths changed on either side."""

    old: str | None
    new: str
    changes: list[FileChange] | None
    forward: bool
    history: dict[str, Change]
    crossed: set[str]

    @property
    def near(self) -> bool:
        return self.changes is not None and len(self.changes) <= NEAR


@dataclass
class Status:
    path: Path
    built: bool
    commit: str | None
    head: str
    entries: int
    bytes: int
    built_at: str | None

    @property
    def current(self) -> bool:
        return self.built and self.commit == self.head


class Catalog:
    """The published branch's index, kept current, and copies at other refs."""

    def __init__(self, service: ContentService, folder: Path, time_limit: float = 0.0) -> None:
        self.service = service
        self.time_limit = time_limit  # seconds a list's or a search's SQL may take; 0: none
        self.store = service.store
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{quote(self.store.branch, safe='')}.sqlite"
        if service.documents is None:
            service.documents = Documents(folder / PARSED_FILE, self.store.read_blob)
        self.documents: Documents = service.documents
        self._local = threading.local()
        self._open: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._copies: LRU[str, Index] = LRU(COPIES)
        self._moves: LRU[tuple[str, str], Move] = LRU(256)
        self._builder: threading.Thread | None = None
        self._warm: str | None = None  # the commit whose folders warm() has read
        self._filters = Filters()  # each condition's matches, for every connection

    def start(self) -> None:
        """Build the index in the background if it is missing (a server starting)."""
        if not self.ready():
            self._builder = threading.Thread(
                target=self._build_in_background, name="cms-index-build", daemon=True
            )
            self._builder.start()

    def _build_in_background(self) -> None:
        try:
            self.build_if_missing(_log_progress)
        except Exception:
            log.exception("building the index of %s failed", self.store.path)

    # -- the branch index file ------------------------------------------------------------------

    def _file(self) -> Index | None:
        """This thread's connection to the index file, reopened when a rebuild replaced it."""
        try:
            inode = self.path.stat().st_ino
        except OSError:
            return None
        index = getattr(self._local, "index", None)
        if index is not None and self._local.inode == inode:
            return index
        if index is not None:  # a rebuild replaced the file: this thread's old one goes
            self._forget(index.db)
            self._local.index = None
        if getattr(self._local, "unusable", None) == inode:
            return None
        db = connect(self.path)
        index = Index(db, self.documents, filters=self._filters)
        if index.commit() is None:
            db.close()
            self._local.unusable = inode  # of another version of this program: not again
            return None
        with self._lock:
            self._open.append(db)
        self._local.index, self._local.inode = index, inode
        return index

    def _forget(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if db in self._open:
                self._open.remove(db)
        db.close()

    def ready(self) -> bool:
        return self._file() is not None

    def current(self) -> Index:
        """The branch index, moved to the branch's head first if the branch has moved."""
        index = self._file()
        if index is None and self._builder is not None:
            self._builder.join(READY_WAIT)  # a small site's index is built in a moment
            index = self._file()
        if index is None:
            raise IndexNotReady("the index is being built; retry in a moment", {"retry_after": 5})
        head = self.store.head()
        if index.commit() != head:
            with index.writing():
                commit, head = index.commit(), self.store.head()
                if commit != head:
                    self._update(index, commit, self.service.snapshot_at(head))
        return index

    def follow(self) -> None:
        """Move the branch index to the branch's head if it is built; never waits for a
        build (after a write, and in the background)."""
        if self._file() is not None:
            self.current()

    def checkpoint(self) -> None:
        """Copy the index's write-ahead log into its file, without waiting for readers or
        writers (in the background: otherwise the write that fills the log past SQLite's
        1,000 pages does it in the request that made it, about 40 ms at 100,000 entries)."""
        index = self._file()
        if index is not None:
            index.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def warm(self) -> None:
        """Read ahead the trees of the collections' folders at the index's commit (once per
        commit, in the background): the diff to the next commit then reads only its own."""
        index = self._file()
        commit = index.commit() if index is not None else None
        if commit is None or commit == self._warm:
            return
        self._warm = commit  # tried once per commit: a tree that cannot be read stays unread
        try:
            root = self.store.tree_of(commit)
            for spec in pathspecs(self.service.snapshot_at(commit).model):
                if spec.endswith("/"):
                    self.store.trees.keep(root, spec)
        except (CMSError, ValueError) as error:
            log.warning("trees of %s not read ahead: %s", commit[:12], error)

    @contextmanager
    def reading(
        self, snapshot: Snapshot, follow: bool, search: bool = True
    ) -> Iterator[tuple[Index, Snapshot]]:
        """An index at the snapshot's commit, inside a read transaction. With ``follow`` (the
        request named the branch), a branch that moved meanwhile is read at its new head.

        Another commit (a draft branch, an old commit) near the branch's head is read from the
        branch index moved there inside a transaction that is then rolled back: the work is
        that of its diff, and nothing of it stays. Without ``search`` (a read that does not
        use the full-text index), that index is not moved: it is the costliest part. A commit
        further away is read from a copy of the index on disk, moved there once (all of it)
        and kept for the next reads."""
        index = self.current()
        with index.reading() as commit:
            if commit == snapshot.commit:
                yield index, snapshot
                return
            if follow and commit is not None and self.store.head() == commit:
                yield index, self.service.snapshot_at(commit)
                return
            config = index.meta().get("config")
        move = self._move(commit, snapshot.commit) if commit is not None else None
        if move is not None and move.near and config == snapshot.config_sha:
            with index.trying():
                now = index.commit()
                if now != commit:  # the branch index moved meanwhile
                    move = self._move(now, snapshot.commit)
                self._apply(index, move, snapshot, trial=True, search=search)
                yield index, snapshot
            return
        copy = self._copy(snapshot)
        with copy.reading():
            yield copy, snapshot

    def _copy(self, snapshot: Snapshot) -> Index:
        """An index at a commit far from the branch's: the branch index copied into a private
        temporary database on disk (SQLite deletes it when it is closed) and moved there."""
        cached = self._copies.get(snapshot.commit)
        if cached is not None:
            return cached
        source = self.current()
        disk = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        source.db.backup(disk)
        copy = Index(disk, self.documents, lock=threading.Lock(), filters=self._filters)
        with copy.writing():
            self._update(copy, copy.commit(), snapshot)
        return self._copies.put(snapshot.commit, copy)

    # -- building -------------------------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None) -> Status:
        """Build the index of the branch head from nothing, then put it in place at once."""
        with self._build_lock():
            return self._build(progress)

    def build_if_missing(self, progress: Progress | None = None) -> None:
        if self.ready():
            return
        with self._build_lock():
            if not self.ready():
                self._build(progress)

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        with open(self.folder / "build.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(self, progress: Progress | None) -> Status:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.building")
        for stale in self.folder.glob(f"{self.path.name}.*.building*"):
            stale.unlink()
        snapshot = self.service.snapshot_at(self.store.head())
        db = sqlite3.connect(temporary, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            index = Index(db, self.documents)
            index.create()
            index.hold_postings(BUILD_POSTINGS)
            everything = list(items(snapshot))
            changes = Changes(self.store, snapshot, [item.path for item in everything])
            db.execute("BEGIN")
            done = 0
            for batch in self._parsed(everything, progress):
                done += index.insert(snapshot, batch)
                _report(progress, "index", done, len(everything))
            index.merge_segments()
            db.execute("COMMIT")  # for a second connection to read the entries
            helper = sqlite3.connect(temporary, isolation_level=None, check_same_thread=False)
            try:
                db.execute("BEGIN")
                index.choose_common(always=True, helper=helper)
                db.execute("COMMIT")
            finally:
                helper.close()
            index.create_indexes()
            db.execute("ANALYZE")  # statistics for the query planner
            _report(progress, "history", 0, 1)
            db.execute("BEGIN")
            index.set_changes(changes.result().items())
            _report(progress, "history", 1, 1)
            index.hold_postings(POSTINGS)
            index.set_meta(
                version=VERSION,
                commit=snapshot.commit,
                config=snapshot.config_sha,
                state=new_state(),
                branch=self.store.branch,
                built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode = WAL")
            db.close()
            self._put_in_place(temporary)
        except BaseException:
            db.close()
            temporary.unlink(missing_ok=True)
            raise
        self.documents.checkpoint()  # the build is in place whatever this does
        return self.status()

    def _put_in_place(self, built: Path) -> None:
        """Make a built file the branch index: each build is a file of its own
        (``<branch>.<token>.sqlite``), and ``<branch>.sqlite`` a link to the present one,
        replaced at once. A connection to the file before goes on reading it until it sees
        the link moved; SQLite names the write-ahead log after the file the link leads to, so
        a log of the old file is never read with the new one (that would mix their pages).
        Older builds go, once nothing opens them any more through the link."""
        generation = self.path.with_name(f"{self.path.stem}.{new_state()}{self.path.suffix}")
        os.replace(built, generation)
        link = self.path.with_name(f"{self.path.name}.{os.getpid()}.link")
        link.unlink(missing_ok=True)
        os.symlink(generation.name, link)
        os.replace(link, self.path)
        for old in self.folder.glob(f"{glob.escape(self.path.stem)}.*{self.path.suffix}*"):
            if not old.name.startswith(generation.name) and old.name != self.path.name:
                old.unlink(missing_ok=True)  # connections open on it keep their own handle
        for log in ("-wal", "-shm"):  # of an index file from before links: no one names them
            self.path.with_name(f"{self.path.name}{log}").unlink(missing_ok=True)

    def _with_documents(self, batch: list[Item]) -> Iterator[tuple[Item, object]]:
        found = {(b, f): parsed for b, f, parsed in self.documents.rows(i.key for i in batch)}
        for item in batch:
            parsed = found.get(item.key)
            yield item, parsed if parsed is not None else self.documents.get(*item.key)

    def _parsed(
        self, everything: list[Item], progress: Progress | None = None
    ) -> Iterator[list[tuple[Item, Parsed]]]:
        """The items with their parses, in their order, in batches: when many files were never
        parsed, worker processes parse the batches ahead while the caller indexes the ones
        before (the parse cache keeps what they give)."""
        missing = set(self.documents.missing({item.key for item in everything}))
        if len(missing) < PARALLEL_PARSE or (os.cpu_count() or 1) < 2:
            if missing:
                self._parse_here(sorted(missing), progress)
            for start in range(0, len(everything), CHUNK):
                yield list(self._with_documents(everything[start : start + CHUNK]))
            return
        asked: list[tuple[str, str]] = []  # the missing keys in the order the batches ask them
        for item in everything:
            if item.key in missing:
                missing.discard(item.key)
                asked.append(item.key)
        blobs = self.store.read_blobs([blob for blob, _ in asked])
        workers = os.cpu_count() or 2
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        pending: deque[tuple[list[Item], Future | None]] = deque()
        done = position = 0
        try:
            for start in range(0, len(everything), CHUNK):
                batch = everything[start : start + CHUNK]
                keys = {item.key for item in batch}
                chunk = []
                while position < len(asked) and asked[position] in keys:
                    sha, raw = next(blobs)
                    chunk.append((sha, asked[position][1], raw))
                    position += 1
                future = pool.submit(parse_many, self.documents.path, chunk) if chunk else None
                pending.append((batch, future))
                while len(pending) > 2 * workers or (pending and start + CHUNK >= len(everything)):
                    batch, parsed = self._batch_parsed(*pending.popleft())
                    done += parsed
                    _report(progress, "parse", done, len(asked))
                    yield batch
        finally:
            pool.shutdown(cancel_futures=True)
            blobs.close()

    def _batch_parsed(
        self, batch: list[Item], future: Future | None
    ) -> tuple[list[tuple[Item, Parsed]], int]:
        """A batch's items with their parses, once its worker is done (it kept them in the
        parse cache), and how many files the worker parsed."""
        rows = future.result() if future is not None else []
        fresh = {(blob, fmt): Documents.load(row) for blob, fmt, row in rows}
        others = [item for item in batch if item.key not in fresh]
        cached = {item.key: parsed for item, parsed in self._with_documents(others)}
        return [(item, fresh.get(item.key) or cached[item.key]) for item in batch], len(rows)

    def parse(self, wanted: Iterable[Item], progress: Progress | None = None) -> None:
        """Parse, into the parse cache, the files it does not hold yet (in several processes
        when there are many)."""
        for _ in self._parsed(list(wanted), progress):
            pass

    def _parse_here(self, missing: list[tuple[str, str]], progress: Progress | None) -> None:
        """Parse files in this process, into the parse cache."""
        total = len(missing)
        blobs = zip(missing, self.store.read_blobs([blob for blob, _ in missing]), strict=True)
        done = 0
        rows = []
        for (blob, fmt), (_, raw) in blobs:
            rows.append((blob, fmt, pack(*parse_blob(raw, fmt))))
            done += 1
            if len(rows) == 500:
                self.documents.store(rows)
                rows = []
                _report(progress, "parse", done, total)
        self.documents.store(rows)
        _report(progress, "parse", done, total)

    # -- moving an index to another commit ------------------------------------------------------

    def _update(self, index: Index, old: str | None, snapshot: Snapshot) -> None:
        """Move an index to the snapshot's commit (inside its write transaction)."""
        self._apply(index, self._move(old, snapshot.commit), snapshot)

    def _move(self, old: str | None, new: str) -> Move:
        """What git says about going from one commit to another: kept, as commits never
        change (a draft read again and again asks git once)."""
        key = (old or "", new)
        found = self._moves.get(key)
        if found is not None:
            return found
        try:
            changes = self.store.diff(old, new) if old else None
        except RepositoryError:
            changes = None  # the old commit is gone (a rewritten history)
        history: dict[str, Change] = {}
        crossed: set[str] = set()
        if old and changes is not None and self.store.parents(new) == [old]:
            # One commit on top (a write, a push of one commit): it is the last change of
            # each file it changed, and git need not walk the history.
            change = self.store.commit_info(new)
            history = {file.path: change for file in changes}
            return self._moves.put(key, Move(old, new, changes, True, history, crossed))
        forward = bool(old) and self.store.is_ancestor(old, new)
        snapshot = self.service.snapshot_at(new)
        if forward:
            for change, paths in self.store.log([f"{old}..{new}"], pathspecs(snapshot.model)):
                for path in paths:
                    history.setdefault(path, change)
        elif old:
            # Not a step forward (a reset, another branch): what changed on either side is
            # looked up again when it is read.
            crossed = {p for _, paths in self.store.log([f"{old}...{new}"], []) for p in paths}
        return self._moves.put(key, Move(old, new, changes, forward, history, crossed))

    def _apply(
        self, index: Index, move: Move, snapshot: Snapshot, trial: bool = False, search: bool = True
    ) -> None:
        """Move an index along ``move`` to the snapshot's commit (inside its write
        transaction). A ``trial`` move is rolled back after a read: the entries it replaces
        are hidden rather than deleted, and without ``search`` the full-text index is not
        moved."""
        meta = index.meta()
        if trial and search:
            index.hold_merges()
        if move.changes is None or meta.get("config") != snapshot.config_sha:
            known = index.known_changes()
            index.delete_all()
            everything = list(items(snapshot))
            for batch in self._parsed(everything):
                index.insert(snapshot, batch)
            index.set_changes(known.items())
            touched = {path for path in known} | {item.path for item in everything}
        else:
            gone = [change.path for change in move.changes]
            if trial:
                index.hide_paths(gone, search)
            else:
                index.delete_paths(gone)
            added = [
                item
                for change in move.changes
                if change.blob is not None
                for item in items_at(snapshot, change.path, change.blob)
            ]
            parsed = (pair for batch in self._parsed(added) for pair in batch)
            index.insert(snapshot, parsed, search)
            touched = set(gone)
        if move.forward:
            index.set_changes(move.history.items())
        else:
            index.set_changes((path, None) for path in touched | move.crossed)
        if not trial:
            index.choose_common()
        # A new state for the entries a condition matches; none in a trial (see filters.py).
        index.set_meta(
            version=VERSION,
            commit=move.new,
            config=snapshot.config_sha,
            state="" if trial else new_state(),
        )

    # -- reading ------------------------------------------------------------------------------

    def page(
        self, snapshot: Snapshot, collection: str, query: Query, follow: bool
    ) -> tuple[Page, str]:
        """A page of a collection's entries (``query.search``: only matches, best first unless
        sorted), with relation fields expanded (one query per included field)."""
        reading = self.reading(snapshot, follow, search=query.search is not None)
        with reading as (index, at), time_limit(index.db, self.time_limit):
            found = at.collection(collection)
            ids, total = index.page_ids(found.name, query, query.search)
            entries = self._read(index, at, ids)
            if query.include:
                entries = self._include(index, at, found, entries, query.include)
        entries = self.fill_changes(index, at.commit, entries)
        return Page(entries, total, query.page, query.page_size), at.commit

    def _include(
        self,
        index: Index,
        snapshot: Snapshot,
        collection: Collection,
        entries: list[Entry],
        names: Iterable[str],
    ) -> list[Entry]:
        """``included[name]``: the entries each relation value points at (``null`` where none
        does), in the order of the values; related entries carry no history."""
        expanded = [dict(e.included) for e in entries]
        for name in names:
            item = collection.field_at(name)
            if item is None or not isinstance(item.widget, RelationWidget):
                continue
            widget = item.widget
            target = snapshot.collection(widget.collection)
            field = index_path(widget.value_path)
            keys = sorted({relation_key(v) for e in entries for v in e.values(name)})
            found = index.related(target.name, field, keys, widget.file)
            ids = sorted(set(found.values()))
            related = {
                e_id: entry.at(snapshot.commit, None).as_dict(body=False)
                for e_id, entry in zip(ids, self._read(index, snapshot, ids), strict=True)
            }
            for position, entry in enumerate(entries):
                dicts = [related.get(found.get(relation_key(v), -1)) for v in entry.values(name)]
                expanded[position][name] = (
                    dicts if widget.multiple else (dicts[0] if dicts else None)
                )
        return [replace(e, included=inc) for e, inc in zip(entries, expanded, strict=True)]

    def search(
        self,
        snapshot: Snapshot,
        text: str,
        collections: list[str],
        page: int,
        page_size: int,
        follow: bool,
    ) -> tuple[Hits, str]:
        """The entries that match a full-text search, best first, with snippets."""
        with self.reading(snapshot, follow) as (index, at), time_limit(index.db, self.time_limit):
            for name in collections:
                at.collection(name)  # a NotFound for an unknown one
            found, total = index.search(text, collections or None, page, page_size)
            entries = self._read(index, at, [entry_id for entry_id, _, _ in found])
        hits = []
        for entry, (_, score, snippet) in zip(entries, found, strict=True):
            title = entry.first_text(at.collection(entry.collection).identifier_field)
            hits.append(Hit(entry, entry.slug if title is None else title, snippet, score))
        return Hits(hits, total, page, page_size), at.commit

    def entry(self, snapshot: Snapshot, collection: Collection, slug: str) -> Entry:
        """One entry: from the index when it is at the snapshot's commit, else from git."""
        index = self._file()
        if index is None or not self._at(index, snapshot.commit):
            return snapshot.entry(collection, slug)
        with index.reading() as commit:
            entry_id = index.find(collection.name, nfc(slug)) if commit == snapshot.commit else None
            entries = self._read(index, snapshot, [entry_id]) if entry_id is not None else []
        if commit != snapshot.commit:
            return snapshot.entry(collection, slug)
        if not entries:
            raise NotFound(
                f"no entry {slug!r} in collection {collection.name!r}",
                {"collection": collection.name, "slug": slug},
            )
        return self.fill_changes(index, commit, entries)[0]

    @staticmethod
    def _read(index: Index, snapshot: Snapshot, ids: list[int]) -> list[Entry]:
        """Entries of the index by id, as the snapshot reads them (``Snapshot.as_read``)."""
        return snapshot.as_read(index.entries(ids, snapshot.commit))

    def _at(self, index: Index, commit: str) -> bool:
        """Whether the index is at this commit, after moving to the branch head if it is
        that commit."""
        if index.commit() == commit:
            return True
        if commit != self.store.head():
            return False
        return self.current().commit() == commit

    # -- history, on demand ---------------------------------------------------------------------

    def fill_changes(self, index: Index, commit: str, entries: list) -> list:
        """Entries whose last change the index does not know yet get it from git, and the
        index keeps it."""
        unknown = [e.path for e in entries if e.change is None]
        if not unknown:
            return entries
        found = self.store.last_changes(commit, unknown)
        try:
            with index.writing():
                if index.commit() == commit:
                    index.set_changes(found.items())
        except sqlite3.OperationalError:
            pass  # busy: the next read records it
        return [e.at(commit, found.get(e.path)) if e.change is None else e for e in entries]

    # -- the parse cache --------------------------------------------------------------------------

    def prune(self) -> int:
        """Drop from the parse cache the files that no branch or tag holds (a ref whose config
        cannot be read keeps nothing: its files are parsed again if it is ever read).

        The files of the index's commit are the index's; a ref with the same config keeps them
        and the new side of its diff to that commit (which is more than its own files, never
        less). Only a ref with another config, or any ref before the index is built, is listed
        file by file, which takes seconds of Python at 100,000 entries."""
        keep: set[str] = set()
        at, config = None, None
        index = self._file()
        if index is not None:
            with index.reading() as at:
                keep = index.blobs()
                config = index.meta().get("config")
        for ref in self.store.refs():
            try:
                snapshot = self.service.snapshot_at(ref.commit)
            except CMSError:
                continue
            if at is not None and snapshot.config_sha == config:
                if ref.commit == at:
                    continue
                try:
                    keep.update(c.blob for c in self.store.diff(at, ref.commit) if c.blob)
                    continue
                except CMSError:
                    pass  # git cannot compare them: the ref is listed
            keep.update(item.blob for item in yielding(items(snapshot)))
        return self.documents.prune(keep)

    # -- status ---------------------------------------------------------------------------------

    def status(self) -> Status:
        head = self.store.head()
        index = self._file()
        if index is None:
            return Status(self.path, False, None, head, 0, 0, None)
        meta = index.meta()
        return Status(
            self.path,
            True,
            meta.get("commit"),
            head,
            index.count(),
            self.path.stat().st_size,
            meta.get("built_at"),
        )

    def close(self) -> None:
        if self._builder is not None:
            self._builder.join()
        with self._lock:
            for db in self._open:
                db.close()
            self._open.clear()
        self._local = threading.local()
        self.documents.close()


class Changes:
    """The last commit that changed each of many paths, found by one ``git log`` walk in a
    thread of its own (git runs in its own process, beside the parsing, at a low priority:
    the build waits for it only at its end)."""

    def __init__(self, store, snapshot: Snapshot, paths: list[str]) -> None:
        self._found: dict[str, Change] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._walk, args=(store, snapshot, set(paths)), daemon=True
        )
        self._thread.start()

    def _walk(self, store, snapshot: Snapshot, wanted: set[str]) -> None:
        try:
            self._found = store.first_changes(
                snapshot.commit, wanted, pathspecs(snapshot.model), background=True
            )
        except BaseException as exc:  # reported by result()
            self._error = exc

    def result(self) -> dict[str, Change]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found


def parse_many(
    cache: Path, chunk: list[tuple[str, str, bytes]]
) -> list[tuple[str, str, tuple[str, str, str]]]:
    """Parse a chunk of files (in a worker process) into the parse cache at ``cache`` (the
    worker writes it, not the process that indexes), and give them as parsed."""
    rows = [(blob, fmt, parse_blob(raw, fmt)) for blob, fmt, raw in chunk]
    store_in(cache, ((blob, fmt, pack(*row)) for blob, fmt, row in rows))
    return rows


def _log_progress(stage: str, done: int, total: int) -> None:
    if done == total:
        log.info("index: %s %d/%d", stage, done, total)


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)
