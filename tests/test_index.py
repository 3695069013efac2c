"""The index: the same answers as a full scan, incremental updates equal to a rebuild, crashes
that leave one commit or the other, and search that folds accents and case."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cms.background import IndexTask
from cms.content import ContentService, Query
from cms.content.parsed import pack, unpack
from cms.content.query import OPERATORS, fold
from cms.content.service import relation_key
from cms.index import Catalog, Index, common, filters, limit
from cms.index import catalog as catalog_module
from cms.index.catalog import items
from cms.index.index import (
    BUILD_POSTINGS,
    MARK_END,
    MARK_START,
    POSTINGS,
    highlight,
    match_query,
)
from cms.index.limit import QueryTooSlow, time_limit
from cms.index.sql import where_sql
from cms.index.texts import TABLES as TEXT_TABLES
from cms.index.texts import TextStore
from cms.storage import GitStore
from tests.conftest import Site, bearer, close_app, make_app

CONFIG = """\
backend: {name: git-gateway, branch: main}
media_folder: static/img
collections:
  - name: articles
    label: Articles
    folder: articles
    create: true
    filter: {field: draft, value: false}
    fields:
      - {name: title, widget: string}
      - {name: date, widget: datetime}
      - {name: rank, widget: number, value_type: float, required: false}
      - {name: draft, widget: boolean}
      - {name: tags, widget: list, required: false}
      - {name: rubrique, widget: select, options: [actualité, Portrait, dossier, "12"]}
      - {name: author, widget: relation, collection: auteurs, value_field: title}
      - {name: hero, widget: object, required: false, fields: [{name: title, widget: string}]}
      - name: links
        widget: list
        required: false
        fields: [{name: label, widget: string}, {name: url, widget: string}]
      - {name: body, widget: markdown}
  - name: auteurs
    label: Auteurs
    folder: auteurs
    create: true
    fields:
      - {name: title, widget: string}
      - {name: role, widget: string, required: false}
  - name: pages
    label: Pages
    files:
      - name: accueil
        file: pages/accueil.md
        fields:
          - {name: title, widget: string}
          - {name: authors, widget: relation, collection: auteurs, value_field: title,
             multiple: true}
"""

WORDS = ["Élan", "élan", "ÉCOLE", "école", "pérennisation", "Intérêt", "zèbre", "Zoé", "a", "b"]
AUTHORS = ["Adnène Trojette", "Amélie Medem", "Zoé Durand", "adnène trojette", "Loup Théron"]


def _scalar(rng: random.Random) -> str:
    """A YAML scalar of any type: text, numbers, dates, booleans, nulls, oddities."""
    return rng.choice(
        [
            lambda: rng.choice(WORDS),
            lambda: f'"{rng.choice(WORDS)} {rng.randrange(3)}"',
            lambda: str(rng.randrange(-5, 30)),
            lambda: f"{rng.uniform(-2, 40):.2f}",
            lambda: f'"{rng.randrange(20)}"',
            lambda: f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            lambda: f"2024-03-0{rng.randrange(1, 10)}T1{rng.randrange(10)}:30:00+02:00",
            lambda: rng.choice(["true", "false", "null", "~", "''", "yes"]),
        ]
    )()


def article(rng: random.Random) -> str:
    lines = ["---"]
    if rng.random() < 0.95:
        lines.append(f"title: {_scalar(rng) if rng.random() < 0.2 else rng.choice(WORDS)}")
    for name in ("date", "rank", "rubrique"):
        if rng.random() < 0.85:
            lines.append(f"{name}: {_scalar(rng)}")
    lines.append(f"draft: {rng.choice(['false', 'false', 'false', 'true', '0'])}")
    if rng.random() < 0.7:
        lines.append(f"author: {rng.choice(AUTHORS)}{rng.choice(['', ' '])}")
    if rng.random() < 0.6:
        lines.append("tags:")
        lines.extend(f"  - {_scalar(rng)}" for _ in range(rng.randrange(4)))
    if rng.random() < 0.4:
        lines.append(f"hero: {{title: {rng.choice(WORDS)}}}")
    if rng.random() < 0.4:
        lines.append("links:")
        for _ in range(rng.randrange(1, 3)):
            lines.append(f"  - {{label: {rng.choice(WORDS)}, url: {_scalar(rng)}}}")
    lines.append("---")
    lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randrange(12))))
    return "\n".join(lines) + "\n"


def generated_site(path: Path, seed: int, count: int = 80) -> Site:
    rng = random.Random(seed)
    site = Site(path)
    files: dict[str, str] = {"admin/config.yml": CONFIG}
    for index, name in enumerate(AUTHORS[:4]):
        files[f"auteurs/auteur-{index}.md"] = f"---\ntitle: {name}\nrole: {_scalar(rng)}\n---\n"
    files["pages/accueil.md"] = "---\ntitle: Accueil\nauthors: [Zoé Durand, Personne]\n---\n"
    for index in range(count):
        files[f"articles/{rng.choice(WORDS).lower()}-{index}.md"] = article(rng)
    files["articles/broken.md"] = "---\ntitle: [unclosed\n---\n"
    files["articles/notes.txt"] = "not an entry"
    site.commit(files, "Create the site")
    return site


def catalog_of(repo: Path, folder: Path) -> Catalog:
    service = ContentService(GitStore(repo), "admin/config.yml")
    return Catalog(service, folder)


def random_query(rng: random.Random, collection) -> dict[str, list[str]]:
    fields = ["title", "date", "rank", "draft", "tags", "rubrique", "author", "hero.title"]
    fields += ["links.label", "links.url", "slug"]
    args: dict[str, list[str]] = {}
    for _ in range(rng.randrange(3)):
        name = rng.choice([*fields, "links", "hero"])
        item = collection.field_at(name)
        op = rng.choice(OPERATORS) if name not in ("links", "hero") else "exists"
        value = _scalar(rng).strip('"')
        if op in ("lt", "lte", "gt", "gte") and name == "rank":
            value = str(rng.uniform(-5, 40))
        if op in ("lt", "lte", "gt", "gte") and name == "date":
            value = f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(10)}"
        if op == "exists":
            value = rng.choice(["true", "false"])
        if item is not None and item.widget.name == "boolean":
            value = rng.choice(["true", "false"])
            op = rng.choice(["eq", "ne", "exists", "in"])
        if op == "in":
            value = ",".join(_scalar(rng).strip('"') for _ in range(rng.randrange(1, 4)))
        args.setdefault(f"filter[{name}][{op}]", []).append(value)
    if rng.random() < 0.8:
        keys = [rng.choice(["-", ""]) + rng.choice(fields) for _ in range(rng.randrange(1, 3))]
        args["sort"] = [",".join(keys)]
    args["page_size"] = [str(rng.choice([5, 20, 100]))]
    args["page"] = [str(rng.choice([1, 1, 2, 3]))]
    return args


def test_index_answers_like_a_full_scan(tmp_path: Path) -> None:
    """On generated data with mixed types, every random query gets the same page and total
    from the index as from ``Query.run`` over every entry."""
    checked = 0
    for seed in range(3):
        site = generated_site(tmp_path / f"site{seed}", seed)
        catalog = catalog_of(site.path, tmp_path / f"index{seed}")
        catalog.rebuild()
        snap = catalog.service.snapshot()
        rng = random.Random(seed)
        statements: list[str] = []
        catalog.current().db.set_trace_callback(statements.append)
        for name in ("articles", "auteurs", "pages"):
            collection = snap.collection(name)
            everything = snap.entries(collection)
            for _ in range(500 if name == "articles" else 20):
                args = random_query(rng, collection) if name == "articles" else {}
                checked += same_page(catalog, snap, args, name, everything)
        catalog.current().db.set_trace_callback(None)
        # Filtered, sorted pages were made both ways: walking the sort index, and sorting.
        walked = [s for s in statements if "ORDER BY s0.o" in s and "LIMIT" not in s]
        ordered = [s for s in statements if "e.id IN temp.matched ORDER BY s0.o" in s]
        assert walked and ordered
        with_history = snap.with_history(snap.entries(snap.collection("articles"))[:5])
        page, _ = catalog.page(snap, "articles", Query(page_size=5), follow=False)
        assert [e.change for e in page.entries] == [e.change for e in with_history]
        catalog.close()
        catalog.store.close()
    assert checked > 600


def test_a_number_condition_beside_another_is_tested_from_its_index(tmp_path: Path) -> None:
    """The condition that does not drive the list is tested entry by entry: for a number,
    from the small index of each field's numbers by entry, not from each entry's rows."""
    site = generated_site(tmp_path / "site", seed=3)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    collection = catalog.service.snapshot().collection("articles")
    query = Query.parse({"filter[rubrique]": ["école"], "filter[rank][gte]": ["3"]}, collection)
    where, params = where_sql("articles", query.conditions)
    sql = f"EXPLAIN QUERY PLAN SELECT e.id FROM entries e WHERE {where}"
    plan = catalog.current().db.execute(sql, params).fetchall()
    assert any("COVERING INDEX vals_entry_n" in row[-1] for row in plan), plan
    catalog.close()
    catalog.store.close()


def test_the_entries_a_condition_matches_are_read_once_per_index_state(
    tmp_path: Path, monkeypatch
) -> None:
    """A sorted page whose conditions many entries meet reads them once for each state of
    the index, and other pages and sorts with them reuse what was read, walking the sort
    index; a commit, a draft read in a rolled-back trial and a rebuild each get answers of
    their own state, never of one before. (When few entries match, the page sorts them.)
    On this small site, every condition is kept, however few entries meet it."""
    monkeypatch.setattr(filters, "KEEP_FROM", 0)
    site = generated_site(tmp_path / "site", seed=4)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    args = {"filter[draft]": ["false"], "filter[date][exists]": ["true"], "page_size": ["5"]}
    snap = catalog.service.snapshot()

    def pages(snap, rerun: bool) -> None:
        statements: list[str] = []
        for page, sort in itertools.product("123", ("-date", "date")):
            catalog.current().db.set_trace_callback(statements.append)
            assert same_page(catalog, snap, {**args, "page": [page], "sort": [sort]})
            catalog.current().db.set_trace_callback(None)
            # The conditions' own SQL (`FROM vals v`), after the first page of this state:
            # each read from its value's index alone, not tested entry by entry.
            read = [s for s in statements if "FROM vals v " in s]
            assert bool(read) == rerun, (page, sort)
            assert all(s.startswith("SELECT v.entry FROM vals v WHERE") for s in read), read
            assert [s for s in statements if "ORDER BY s0.o" in s and "LIMIT" not in s]
            rerun = False
            statements.clear()
        few = {"filter[draft]": ["false"], "filter[rank][gte]": ["25"], "sort": ["title"]}
        assert same_page(catalog, snap, few)

    pages(snap, rerun=True)
    state = catalog.current().meta()["state"]
    # A commit that moves entries in and out of the filters' matches: read again.
    matching = query_slugs(catalog, snap, args)
    changed = {f"articles/{name}.md": article(random.Random(name)) for name in matching[:3]}
    site.commit(
        {
            **changed,
            "articles/neuf.md": "---\ntitle: Neuf\ndate: 2024-01-01\nrank: 12\ndraft: false\n---\n",
        },
        "Change matching entries",
    )
    pages(catalog.service.snapshot(), rerun=True)
    assert catalog.current().meta()["state"] != state
    # A draft read in a trial: its own answers (read, not kept), and the branch's unchanged.
    state = catalog.current().meta()["state"]
    site.repo.git.checkout("-q", "-b", "cms/articles/neuf")
    site.commit(
        {
            "articles/neuf.md": None,
            "articles/autre.md": "---\ntitle: Autre\n"
            "date: 2024-02-01\nrank: 30\ndraft: false\n---\n",
        },
        "Draft",
    )
    site.repo.git.checkout("-q", "main")
    draft = catalog.service.snapshot_at(site.repo.commit("cms/articles/neuf").hexsha)
    for page in "12":
        assert same_page(catalog, draft, {**args, "page": [page], "sort": ["-date"]})
    assert catalog.current().meta()["state"] == state
    pages(catalog.service.snapshot(), rerun=False)
    # A rebuild at the same commit may number the entries otherwise: read again.
    catalog.rebuild()
    pages(catalog.service.snapshot(), rerun=True)
    catalog.close()
    catalog.store.close()


def test_a_condition_few_entries_meet_is_read_each_time(tmp_path: Path, monkeypatch) -> None:
    """Only the bitmaps of conditions at least ``KEEP_FROM`` entries meet are kept: another
    is read again (cheaply) by each page, so many rare values (authors, tags) take no room."""
    monkeypatch.setattr(filters, "KEEP_FROM", 20)
    site = generated_site(tmp_path / "site", seed=4)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    snap = catalog.service.snapshot()
    statements: list[str] = []
    catalog.current().db.set_trace_callback(statements.append)
    for value in ("true", "true", "false", "false"):  # most entries have a date, few none
        args = {"filter[date][exists]": [value], "sort": ["title"], "page_size": ["5"]}
        assert same_page(catalog, snap, args)
    catalog.current().db.set_trace_callback(None)
    read = [s for s in statements if s.startswith("SELECT v.entry FROM vals v")]
    assert len(read) == 3  # "true" once, "false" twice
    catalog.close()
    catalog.store.close()


def test_a_rebuild_beside_open_connections_is_read_whole(tmp_path: Path) -> None:
    """`cms index rebuild` while a server reads the index: the server's connections, whose
    last change may still be in the write-ahead log, go on to read the new build and only it
    (a log left by the old file and read with the new one would mix their pages). The first
    rebuild replaces an index file of the kind earlier versions made (no link), the second
    a build behind the link."""
    rng = random.Random(6)
    site = generated_site(tmp_path / "site", seed=6)
    folder = tmp_path / "index"
    built = catalog_of(site.path, folder)
    built.rebuild()
    built.close()
    built.store.close()
    os.replace((folder / "main.sqlite").resolve(), folder / "main.sqlite")  # a file, no link
    serving = catalog_of(site.path, folder)
    for round in range(2):
        for _ in range(3):
            random_commit(site, rng)
            serving.current()  # moved: its change is in the log, not yet in the file
        command_line = catalog_of(site.path, folder)
        command_line.rebuild()
        fresh = catalog_of(site.path, tmp_path / f"fresh{round}")
        fresh.rebuild()
        assert dump(serving) == dump(fresh)
        snap = serving.service.snapshot()
        for _ in range(30):
            same_page(serving, snap, random_query(rng, snap.collection("articles")))
        for catalog in (command_line, fresh):
            catalog.close()
            catalog.store.close()
        # Each build is a file of its own, the link leads to the last; the others are gone.
        built = (folder / "main.sqlite").resolve().name
        names = {p.name for p in folder.glob("main.*")} - {"main.sqlite", "main.sqlite.init-lock"}
        assert {name.removeprefix(built) for name in names} <= {"", "-wal", "-shm"}, names
    serving.close()
    serving.store.close()


def query_slugs(catalog: Catalog, snap, args: dict) -> list[str]:
    query = Query.parse({**args, "page_size": ["100"]}, snap.collection("articles"))
    page, _ = catalog.page(snap, "articles", query, follow=False)
    return [e.slug for e in page.entries]


def other_commits(site: Site, rng: random.Random) -> dict[str, str]:
    """Commits that are not the branch's head, as the API reads them: a draft branched from
    an older head, a draft of the current head, and an old commit of the branch."""
    old = site.head
    site.repo.git.checkout("-q", "-b", "cms/articles/behind")
    random_commit(site, rng)
    random_commit(site, rng)
    site.repo.git.checkout("-q", "main")
    random_commit(site, rng)
    site.repo.git.checkout("-q", "-b", "cms/articles/ahead")
    random_commit(site, rng)
    site.repo.git.checkout("-q", "main")
    return {
        "draft of an older head": site.repo.commit("cms/articles/behind").hexsha,
        "draft of the head": site.repo.commit("cms/articles/ahead").hexsha,
        "old commit": old,
    }


def same_page(
    catalog: Catalog, snap, args: dict, name: str = "articles", everything: list | None = None
) -> bool:
    """The index's page at the snapshot's commit is ``Query.run``'s over every entry
    (``everything``, if the caller has them); False for a query the parser refuses."""
    collection = snap.collection(name)
    try:
        query = Query.parse(args, collection)
    except Exception:
        return False  # a value the parser refuses: a 400 either way
    expected = query.run(snap.entries(collection) if everything is None else everything)
    page, commit = catalog.page(snap, name, query, follow=False)
    assert commit == snap.commit
    assert page.total == expected.total, args
    assert [e.slug for e in page.entries] == [e.slug for e in expected.entries], args
    assert [e.fields for e in page.entries] == [e.fields for e in expected.entries]
    assert [e.problems for e in page.entries] == [e.problems for e in expected.entries]
    return True


@pytest.fixture
def common_words(monkeypatch) -> None:
    """Lists of best entries on a small site: a word 5 entries hold is common, 8 are kept."""
    monkeypatch.setattr(common, "COMMON", 5)
    monkeypatch.setattr(common, "BEST", 8)


@pytest.mark.parametrize("seed", range(2))
def test_drafts_and_old_commits_answer_like_a_full_scan_and_leave_nothing(
    tmp_path: Path, seed: int, request
) -> None:
    """At a draft or an old commit, read through the branch index moved there and back: every
    random query gets ``Query.run``'s page, search pages and history are those of an index
    built at that commit, and the branch index is left exactly as it was. (With seed 1, the
    common words have lists of best entries, which the move keeps up to date.)"""
    if seed == 1:
        request.getfixturevalue("common_words")
    rng = random.Random(seed)
    site = generated_site(tmp_path / "site", seed, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    commits = other_commits(site, rng)
    before = dump(catalog, lists=True)
    assert before["meta"]["commit"] == site.head
    statements: list[str] = []
    for label, commit in commits.items():
        snap = catalog.service.snapshot_at(commit)
        catalog.current().db.set_trace_callback(statements.append)
        for _ in range(150):
            same_page(catalog, snap, random_query(rng, snap.collection("articles")))
        catalog.current().db.set_trace_callback(None)
        # A list moves the entries and their values, never the full-text index it does
        # not read (the costliest part of a move).
        assert any("INSERT INTO vals" in s for s in statements), label
        assert not [s for s in statements if re.search(r"\b(INTO|FROM) search\b", s)], label
        statements.clear()
        with_history = snap.with_history(snap.entries(snap.collection("articles"))[:5])
        page, _ = catalog.page(snap, "articles", Query(page_size=5), follow=False)
        assert [e.change for e in page.entries] == [e.change for e in with_history], label
        site.repo.git.checkout("-q", "-B", "built", commit)
        fresh = Catalog(
            ContentService(GitStore(site.path, branch="built"), "admin/config.yml"),
            tmp_path / f"fresh-{len(label)}",
        )
        fresh.rebuild()
        site.repo.git.checkout("-q", "main")
        for word, size in itertools.product(WORDS[:6], (3, 50)):
            hits, _ = catalog.search(snap, word, ["articles", "auteurs"], 1, size, follow=False)
            expected, _ = fresh.search(snap, word, ["articles", "auteurs"], 1, size, follow=False)
            assert [(h.entry.slug, h.score, h.snippet) for h in hits.hits] == [
                (h.entry.slug, h.score, h.snippet) for h in expected.hits
            ], (label, word)
            hits, _ = catalog.search(snap, word, [], 1, size, follow=False)
            expected, _ = fresh.search(snap, word, [], 1, size, follow=False)
            assert (hits.total, [h.entry.slug for h in hits.hits]) == (
                expected.total,
                [h.entry.slug for h in expected.hits],
            ), (label, word)
            listed, _ = catalog.page(snap, "articles", Query(search=word, page_size=50), False)
            wanted, _ = fresh.page(snap, "articles", Query(search=word, page_size=50), False)
            assert (listed.total, [e.slug for e in listed.entries]) == (
                wanted.total,
                [e.slug for e in wanted.entries],
            ), (label, word)
        fresh.close()
        fresh.store.close()
        assert dump(catalog, lists=True) == before, label
    assert not catalog._copies._items  # every one was near: no copy was made
    catalog.close()
    catalog.store.close()


def test_moves_take_entries_out_of_search_in_row_order(tmp_path: Path) -> None:
    """FTS5 writes its pending changes to disk whenever a row id comes before the last one it
    was given (a new segment each time, then merges): a move that deletes 30 entries in the
    order of their paths cost 13 times as much. Every move deletes in row order, then adds."""
    site = generated_site(tmp_path / "site", seed=5, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    names = sorted(p.name for p in (site.path / "articles").glob("*.md"))
    random.Random(5).shuffle(names)
    changed = {f"articles/{name}": article(random.Random(name)) for name in names[:30]}
    site.repo.git.checkout("-q", "-b", "cms/articles/many")
    site.commit(changed, "Thirty edits")
    draft = site.head
    site.repo.git.checkout("-q", "main")
    site.commit({"articles/one-more.md": article(random.Random(1))}, "One more")
    index = catalog.current()

    def deleted(read) -> list[int]:
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        read()
        index.db.set_trace_callback(None)
        pattern = re.compile(r"VALUES \('delete', (\d+),")
        return [int(found[1]) for found in map(pattern.search, statements) if found]

    snapshot = catalog.service.snapshot_at(draft)
    at_draft = deleted(lambda: catalog.search(snapshot, "école", [], 1, 5, follow=False))
    site.commit({f"articles/{name}": None for name in names[30:50]}, "Twenty deletions")
    moved = deleted(catalog.current)
    assert len(at_draft) > 25 and len(moved) > 15
    assert at_draft == sorted(at_draft) and moved == sorted(moved)
    catalog.close()
    catalog.store.close()


def test_a_trial_holds_full_text_merges_only_until_its_rollback() -> None:
    """A draft's search stops FTS5 merging segments inside its rolled-back transaction (work
    lost with it); once rolled back, later writes on the same connection are merged as on one
    that never held them (200 writes leave 9 segments; 5 if merges stayed off, FTS5 then
    merging only when a level holds 16)."""

    def segments(trial: bool) -> int:
        db = sqlite3.connect(":memory:", isolation_level=None)
        index = Index(db, None)  # type: ignore[arg-type]  # no entries read
        index.create()
        if trial:
            with index.trying():
                index.hold_merges()
                db.execute("INSERT INTO search (rowid, body) VALUES (1000, 'brouillon')")
        for number in range(200):
            with index.writing():
                db.execute("INSERT INTO search (rowid, body) VALUES (?, 'texte')", (number,))
        return db.execute("SELECT count(DISTINCT segid) FROM search_idx").fetchone()[0]

    assert segments(trial=True) == segments(trial=False)


def test_a_time_limit_stops_queries_and_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    """Under a time limit that stops most queries, at the branch head and at other commits,
    each random query is either answered as ``Query.run`` answers it or stopped with
    QueryTooSlow; the index is left as it was and answers every query once the limit is
    lifted."""
    monkeypatch.setattr(limit, "CHECK_EVERY", 1_000)  # the small site's queries are short
    rng = random.Random(5)
    site = generated_site(tmp_path / "site", 5, count=120)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    commits = [*other_commits(site, rng).values(), site.head]
    before = dump(catalog)
    stopped = answered = 0
    queries = []
    for commit in commits:
        snap = catalog.service.snapshot_at(commit)
        for _ in range(40):
            args = random_query(rng, snap.collection("articles"))
            queries.append((snap, args))
            catalog.time_limit = 0.000001
            try:
                same_page(catalog, snap, args)
                answered += 1
            except QueryTooSlow:
                stopped += 1
            try:
                catalog.search(snap, "école", ["articles"], 1, 10, follow=False)
            except QueryTooSlow:
                stopped += 1
            catalog.time_limit = 0
    assert stopped > 40 and answered > 0
    assert dump(catalog) == before
    for snap, args in queries:
        same_page(catalog, snap, args)
    catalog.close()
    catalog.store.close()


def test_a_time_limit_leaves_a_query_its_speed_beside_a_busy_thread() -> None:
    """The limit is checked by a Python function SQLite calls in the query's thread, which
    must take the GIL each time: while another thread of the worker runs Python, each check
    waits for it (up to 5 ms). Checked every 1,000 instructions, a search of 30 ms took
    800 ms beside the background's pruning, and a 1 s limit stopped some; the query below
    (about 100 ms alone) is answered well within 5 s."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(range(1_000))

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        with time_limit(db, 5.0):
            total = db.execute(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)"
                " SELECT sum(x) FROM n"
            ).fetchone()[0]
    finally:
        stop.set()
        thread.join()
    assert total == 300_000 * 300_001 // 2
    db.close()


def test_pruning_reads_the_head_from_the_index_and_other_refs_from_their_diff(
    tmp_path: Path, monkeypatch
) -> None:
    """Listing every file of a ref in Python takes seconds at 100,000 entries, in a worker
    that serves requests meanwhile: the files of the index's own commit come from the index,
    and those of a draft from its diff to that commit (a ref with another config is listed)."""
    site = generated_site(tmp_path / "site", 3, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    first = site.head
    paths = sorted((site.path / "articles").glob("*.md"))[:3]
    site.commit({f"articles/{p.name}": "---\ntitle: Brouillon\n---\n" for p in paths}, "Draft")
    draft = site.head
    site.repo.create_head("cms/articles/draft", draft)
    site.repo.heads["main"].commit = first
    catalog.current()
    catalog.parse(items(catalog.service.snapshot_at(draft)))
    expected = {i.blob for c in (first, draft) for i in items(catalog.service.snapshot_at(c))}
    listed = []
    monkeypatch.setattr(
        catalog_module, "items", lambda snapshot: listed.append(snapshot.commit) or items(snapshot)
    )
    assert catalog.prune() == 0
    assert listed == []
    db = catalog.documents._connection()
    assert {blob.hex() for (blob,) in db.execute("SELECT blob FROM docs")} == expected
    site.commit({"admin/config.yml": CONFIG.replace("Articles", "Les articles")}, "Config")
    site.repo.create_head("cms/config", site.head)
    site.repo.heads["main"].commit = first
    catalog.prune()
    assert listed == [site.repo.heads["cms/config"].commit.hexsha]
    catalog.close()
    catalog.store.close()


def test_the_parse_cache_is_compressed_and_pruned_of_files_no_ref_holds(tmp_path: Path) -> None:
    site = generated_site(tmp_path / "site", 3, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    # A build writes every parse through the cache's write-ahead log, then empties it.
    assert (tmp_path / "index" / "parsed.sqlite-wal").stat().st_size == 0
    first = site.head
    site.commit(
        {
            f"articles/{p.name}": "---\ntitle: Nouveau\n---\n"
            for p in sorted((site.path / "articles").glob("*.md"))[:7]
        },
        "Edit seven",
    )
    catalog.current()  # parses the new files
    site.repo.create_head("cms/articles/old", first)
    db = catalog.documents._connection()
    stored = lambda: {blob.hex() for (blob,) in db.execute("SELECT blob FROM docs")}  # noqa: E731
    parsed_before = stored()
    task = IndexTask(catalog)
    task.tick()  # the first tick prunes: both refs hold every parsed file but one kind
    assert task.graph is not None
    task.graph.join()  # and writes the commit-graph the last changes on demand walk
    assert catalog.store.has_commit_graph()
    kept = stored()
    at = {
        head: {i.blob for i in items(catalog.service.snapshot_at(head))}
        for head in (first, site.head)
    }
    assert kept == (at[first] | at[site.head]) & parsed_before
    site.repo.delete_head("cms/articles/old", force=True)
    task.tick()  # not an hour later: nothing happens
    assert stored() == kept
    assert catalog.prune() == len(at[first] - at[site.head])
    assert stored() == at[site.head]
    snap = catalog.service.snapshot_at(first)  # an old commit is still read (parsed again)
    for args in ({}, {"sort": ["-title"]}, {"filter[title][contains]": ["é"]}):
        same_page(catalog, snap, args)
    row = db.execute("SELECT parse FROM docs LIMIT 1").fetchone()[0]
    assert zlib.decompress(row)  # rows are compressed
    text = "Élan « pérennisation » \0 d’intérêt général " * 40
    assert unpack(pack('{"a":1}', text, "[]")) == ('{"a":1}', text, "[]")
    assert len(pack("{}", text, "[]")) < len(text.encode()) / 4
    catalog.close()
    catalog.store.close()


def test_the_background_task_copies_the_write_ahead_log_into_the_index(tmp_path: Path) -> None:
    """Each tick copies what the index's write-ahead log holds into its file (a passive
    checkpoint): otherwise the write that fills the log past SQLite's 1,000 pages does it
    in the request that made it, about 40 ms at 100,000 entries."""
    site = generated_site(tmp_path / "site", seed=8, count=20)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    task = IndexTask(catalog)
    task.tick()

    def commit_in_file() -> str:
        """The commit of the index file read alone, without its log."""
        copy = tmp_path / "alone.sqlite"
        copy.write_bytes(catalog.path.resolve().read_bytes())
        db = sqlite3.connect(copy)
        try:
            return db.execute("SELECT value FROM meta WHERE key = 'commit'").fetchone()[0]
        finally:
            db.close()
            copy.unlink()

    random_commit(site, random.Random(8))
    catalog.current()
    assert commit_in_file() != site.head  # in the log only
    task.tick()
    assert commit_in_file() == site.head
    catalog.close()
    catalog.store.close()


def test_a_tree_that_cannot_be_read_ahead_stops_nothing(tmp_path: Path, monkeypatch) -> None:
    """Reading the folders' trees ahead is an optimisation: if it fails (a damaged tree), the
    index task still prunes, and does not try again every second for the same commit."""
    site = generated_site(tmp_path / "site", 4, count=10)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    tried: list[str] = []

    def damaged(root: str, folder: str) -> None:
        tried.append(folder)
        raise ValueError("not a git tree object")

    monkeypatch.setattr(catalog.store.trees, "keep", damaged)
    task = IndexTask(catalog)
    task.tick()
    assert task.pruned_at is not None and tried
    task.tick()
    assert len(tried) == 1
    catalog.close()
    catalog.store.close()


def test_include_matches_the_scan_in_a_constant_number_of_queries(tmp_path: Path) -> None:
    site = generated_site(tmp_path / "site", 5)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    snap = catalog.service.snapshot()
    articles = snap.collection("articles")
    query = Query.parse({"include": ["author"], "page_size": ["100"]}, articles)
    table = snap.relation_table("auteurs", "title")
    expected = [
        {"author": table[relation_key(e.fields["author"])].as_dict(body=False)}
        if relation_key(e.fields.get("author", "")) in table
        else {"author": None}
        for e in query.run(snap.entries(articles)).entries
    ]
    index = catalog.current()
    statements: list[str] = []
    index.db.set_trace_callback(statements.append)
    page, _ = catalog.page(snap, "articles", query, follow=False)
    index.db.set_trace_callback(None)
    assert [e.included for e in page.entries] == expected
    assert any(e.included["author"] for e in page.entries)
    assert len([s for s in statements if s.startswith("SELECT key, id FROM")]) == 1
    pages = snap.collection("pages")
    home = Query.parse({"include": ["authors"]}, pages)
    page, _ = catalog.page(snap, "pages", home, follow=False)
    authors = page.entries[0].included["authors"]
    assert [a["fields"]["title"] if a else None for a in authors] == ["Zoé Durand", None]
    catalog.close()
    catalog.store.close()


# Meta values that differ between a rebuilt index and one moved commit by commit: when it
# was built, and how many rows it had when its common words' lists were made.
SKIP = ("built_at", "common_rows", "state")


def dump(catalog: Catalog, history: bool = True, lists: bool = False) -> dict:
    """Everything the index holds once current, keyed by entry rather than by row id (with
    ``lists``, the common words' lists of best entries too)."""
    found = dump_index(catalog.current(), history)
    if lists:
        found["lists"] = (
            catalog.current()
            .db.execute(
                "SELECT w.token, w.avgdl, w.floor, w.hits, e.collection, e.slug, c.f, c.d "
                "FROM champions c JOIN common w ON w.id = c.word "
                "JOIN entries e ON e.id = c.entry ORDER BY 1, 5, 6"
            )
            .fetchall()
        )
    return found


def dump_index(index: Index, history: bool = True) -> dict:
    db = index.db
    # The words of the full-text index and how many entries hold each: an entry removed
    # with other words than it was added with would leave them wrong.
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.words USING fts5vocab(main, search, row)")
    words = db.execute("SELECT term, doc, cnt FROM temp.words WHERE doc > 0").fetchall()
    names = dict(db.execute("SELECT id, name FROM paths"))
    out = {"meta": {k: v for k, v in db.execute("SELECT key, value FROM meta") if k not in SKIP}}
    for row in db.execute(
        "SELECT e.id, e.collection, e.slug, e.path, e.blob, e.format, e.ord, e.visible, "
        "e.problems, e.change_commit, s.title, s.text, s.body FROM entries e "
        "LEFT JOIN search s ON s.rowid = e.id"
    ):
        entry_id, *rest = row
        if not history:
            rest[8] = None
        vals = sorted(
            (names[field], *values)
            for field, *values in db.execute(
                "SELECT field, pos, t, n, ts, s, f, k, o, os FROM vals WHERE entry = ?", (entry_id,)
            )
        )
        out[(row[1], row[2])] = (rest, vals)
    out["words"] = words
    return out


def search_pages(catalog: Catalog, word: str) -> list[list[tuple[str, str]]]:
    """The entries of the first pages of 3 hits of a search, by collection and slug."""
    return search_pages_of(catalog, word, (1, 2, 3), 3)


def search_pages_of(
    catalog: Catalog, word: str, pages: tuple[int, ...], size: int
) -> list[list[tuple[str, str]]]:
    index = catalog.current()
    keys = {i: (c, s) for i, c, s in index.db.execute("SELECT id, collection, slug FROM entries")}
    found = []
    for page in pages:
        hits, _ = index.search(word, ["articles", "auteurs"], page, size)
        found.append([keys[entry_id] for entry_id, _, _ in hits])
    return found


def ranking_every_match(catalog: Catalog, read, *args):
    """What ``read`` gives when no search is answered from a common word's list: FTS5 counts
    and ranks every match."""
    lists = catalog.current().common
    lists.word = lambda *_: None
    try:
        return read(catalog, *args)
    finally:
        del lists.word


def test_common_words_rank_from_their_lists_as_fts5_ranks_every_match(
    tmp_path: Path, common_words
) -> None:
    """A search for a common word, answered from its list of best entries when that list
    holds the page, gives what ranking every match in FTS5 gives: the same entries in the
    same order, the same scores to the last bit, the same total; for every word, prefix,
    collection and page."""
    site = generated_site(tmp_path / "site", seed=21, count=120)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    index = catalog.current()
    assert index.db.execute("SELECT count(*) FROM common").fetchone()[0] >= 8
    searched = index.db.execute("SELECT count(*) FROM texts").fetchone()[0]
    assert index.meta()["common_rows"] == str(searched)  # made once all rows were in
    answered = []
    best = index.common.best

    def spy(*args):
        found = best(*args)
        answered.append(found is not None)
        return found

    def read(_catalog, word, collections, page, size):
        return index.search(word, collections, page, size)

    index.common.best = spy
    words = [*WORDS, "ecol", "pér", "INTER", "zeb", "élan zèbre", "2024"]
    for word, collections, (page, size) in itertools.product(
        words, (None, ["articles"], ["auteurs", "pages"]), ((1, 1), (1, 3), (2, 3), (3, 3), (1, 20))
    ):
        found = read(catalog, word, collections, page, size)
        assert found == ranking_every_match(catalog, read, word, collections, page, size), (
            word,
            collections,
            page,
            size,
        )
    assert sum(answered) >= 40 and not all(answered), sum(answered)
    catalog.close()
    catalog.store.close()


def test_the_build_makes_the_lists_in_two_connections_as_one_does(
    tmp_path: Path, common_words, monkeypatch
) -> None:
    """A build scans half of the common words on a second connection, in a thread: the lists
    are those one connection makes, word for word (every word scanned, none twice)."""
    site = generated_site(tmp_path / "site", seed=22, count=120)
    catalog = catalog_of(site.path, tmp_path / "index")
    scanned: list[str] = []
    connections: set[int] = set()
    original = common._scanned

    def spy(db, tokens, *rest):
        scanned.extend(tokens)
        connections.add(id(db))
        yield from original(db, tokens, *rest)

    monkeypatch.setattr(common, "_scanned", spy)
    catalog.rebuild()
    built = dump(catalog, lists=True)["lists"]
    words = [token for token, *_ in built]
    assert len(set(words)) >= 8 and sorted(scanned) == sorted(set(words))
    assert len(connections) == 2
    index = catalog.current()
    with index.writing():
        index.choose_common(always=True)  # in this one connection
    assert dump(catalog, lists=True)["lists"] == built
    catalog.close()
    catalog.store.close()


def segments(index: Index) -> int:
    """How many segments FTS5's index of ``search`` is in: the second number of its structure
    record (row 10 of ``search_data``, after a 4-byte cookie)."""
    (record,) = index.db.execute("SELECT block FROM search_data WHERE id = 10").fetchone()
    return common.varints(record[4:])[1]


def test_a_build_leaves_the_full_text_index_in_one_segment(tmp_path: Path, monkeypatch) -> None:
    """A build lets FTS5 hold ``BUILD_POSTINGS`` bytes of postings before it writes a segment,
    then merges the segments into one: the first writes after it never merge the build's
    segments, and the writes that follow hold FTS5's own 1 MB, the size kept in the file."""
    site = generated_site(tmp_path / "site", seed=23, count=40)
    catalog = catalog_of(site.path, tmp_path / "index")
    held: list[int] = []
    original = Index.hold_postings

    def spy(index: Index, size: int) -> None:
        held.append(size)
        original(index, size)

    monkeypatch.setattr(Index, "hold_postings", spy)
    monkeypatch.setattr(catalog_module, "BUILD_POSTINGS", 2048)  # a segment every few entries
    catalog.rebuild()
    assert held == [2048, POSTINGS] and BUILD_POSTINGS > POSTINGS == 1 << 20
    index = catalog.current()
    config = index.db.execute("SELECT v FROM search_config WHERE k = 'hashsize'")
    assert config.fetchall() == [(POSTINGS,)]
    assert segments(index) == 1
    catalog.close()
    catalog.store.close()


def common_counts(index: Index) -> dict[str, tuple[int, int]]:
    """Each common word's count of matching entries as kept with its list, and as FTS5 counts."""
    return {
        token: (
            hits,
            index.db.execute(
                "SELECT count(*) FROM search WHERE search MATCH ?", (f'"{token}"',)
            ).fetchone()[0],
        )
        for token, hits in index.db.execute("SELECT token, hits FROM common")
    }


def test_a_common_word_is_counted_from_its_list_kept_up_to_date(
    tmp_path: Path, common_words
) -> None:
    """A search for one common word in every collection takes its number of matches from the
    count kept with the word's list, instead of having FTS5 read every match (10 ms for a
    word 100,000 entries hold); after entries are added, changed, renamed and deleted, that
    count is still the one FTS5 gives."""
    rng = random.Random(24)
    site = generated_site(tmp_path / "site", seed=24, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    for step in range(10):
        index = catalog.current()
        counts = common_counts(index)
        assert len(counts) >= 5 and all(kept == fts5 for kept, fts5 in counts.values()), step
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        found = index.search("pérennisation", None, 1, 3)
        index.db.set_trace_callback(None)
        assert found == ranking_every_match(
            catalog, lambda c: c.current().search("pérennisation", None, 1, 3)
        )
        assert not [s for s in statements if "count(*)" in s], statements
        random_commit(site, rng)
    catalog.close()
    catalog.store.close()


def test_entries_leaving_search_are_counted_off_their_words_at_once(
    tmp_path: Path, common_words
) -> None:
    """A search at a draft 30 files away takes 30 entries out of full-text search: their
    texts are tokenized for the common words' counts in one statement, not one each (100
    entries one by one took 46 ms at 100,000 entries), and the counts are FTS5's."""
    site = generated_site(tmp_path / "site", seed=25, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    names = sorted(p.name for p in (site.path / "articles").glob("*.md"))[:30]
    site.repo.git.checkout("-q", "-b", "cms/articles/many")
    site.commit({f"articles/{n}": article(random.Random(n)) for n in names}, "Thirty edits")
    snapshot = catalog.service.snapshot_at(site.head)
    site.repo.git.checkout("-q", "main")
    index = catalog.current()
    statements: list[str] = []
    counted: list[dict] = []
    best = index.common.best

    def spy(*args):  # the word's list is read once the move's entries are counted
        counted.append(common_counts(index))
        return best(*args)

    index.common.best = spy
    index.db.set_trace_callback(statements.append)
    catalog.search(snapshot, "pérennisation", [], 1, 5, follow=False)
    index.db.set_trace_callback(None)
    del index.common.best
    assert sum("VALUES ('delete'," in s for s in statements) >= 25
    # The search's word (once), then the words of the entries leaving (once) and of those
    # arriving (their sizes, their words).
    assert sum("FROM temp.tokens_" in s for s in statements) <= 4
    assert counted and all(kept == fts5 for kept, fts5 in counted[0].values())
    catalog.close()
    catalog.store.close()


def test_a_draft_counts_its_entries_into_the_common_words_only_for_a_common_word(
    tmp_path: Path, common_words
) -> None:
    """A search at a draft moves the draft's entries in and out of full-text search inside a
    transaction that is rolled back. Their words are counted for the common words' lists only
    when the search is for a common word, the one search that reads a list: counting 100
    entries leaving and 100 arriving took half of a 24 ms search at an old commit of 100,000
    entries."""
    site = generated_site(tmp_path / "site", seed=26, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    names = sorted(p.name for p in (site.path / "articles").glob("*.md"))[:30]
    site.repo.git.checkout("-q", "-b", "cms/articles/many")
    site.commit({f"articles/{n}": article(random.Random(n)) for n in names}, "Thirty edits")
    snapshot = catalog.service.snapshot_at(site.head)
    site.repo.git.checkout("-q", "main")
    index = catalog.current()
    assert index.common.word("xylophone") is None
    before = dump(catalog, lists=True)
    for word in ("xylophone", "pérennisation", "xylophone"):
        statements: list[str] = []
        index.db.set_trace_callback(statements.append)
        found, _ = catalog.search(snapshot, word, [], 1, 5, follow=False)
        index.db.set_trace_callback(None)
        assert sum("VALUES ('delete'," in s for s in statements) >= 25
        read = sum("FROM temp.tokens_" in s for s in statements)
        assert read == 1 if word == "xylophone" else read > 1, word  # the search's own word
        if word == "pérennisation":
            assert found.total > 20 and found.hits
    assert dump(catalog, lists=True) == before
    catalog.close()
    catalog.store.close()


def test_words_left_in_the_scratch_table_stop_nothing(tmp_path: Path, common_words) -> None:
    """A query stopped by the time limit can leave texts in the temporary table that counts
    words: the next search and the next update on that connection still work."""
    site = generated_site(tmp_path / "site", seed=23, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    index = catalog.current()
    expected = index.search("pérennisation", None, 1, 3)
    index.common._scratch()
    index.db.executemany(
        "INSERT INTO temp.tokens (rowid, body) VALUES (?, 'reste')", [(n,) for n in range(1, 200)]
    )
    assert index.search("pérennisation", None, 1, 3) == expected
    site.commit({"articles/nouveau.md": article(random.Random(23))}, "One more")
    assert catalog.current().find("articles", "nouveau") is not None
    catalog.close()
    catalog.store.close()


def test_a_list_is_not_trusted_once_an_entry_left_out_could_score_more(
    tmp_path: Path, common_words
) -> None:
    """Scores depend on the average entry length: a long entry that holds the word often,
    left out of the word's list for short entries that score more, overtakes them once much
    longer entries are added. The search then ranks every match, and finds it first."""
    site = Site(tmp_path / "site")
    head = "---\ntitle: {}\ndate: 2024-01-02\ndraft: false\n---\n"
    files = {"admin/config.yml": CONFIG}
    for number in range(8):
        files[f"articles/court-{number}.md"] = head.format("Court") + "mot mot\n"
    files["articles/long.md"] = head.format("Long") + "mot " * 10 + "autre " * 390
    for number in range(30):
        files[f"articles/moyen-{number}.md"] = head.format("Moyen") + "texte " * 50
    site.commit(files, "Short entries, a long one")
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    assert "long" not in [slug for _, slug in search_pages_of(catalog, "mot", (1,), 8)[0]]
    assert catalog.current().db.execute("SELECT count(*) FROM champions").fetchone()[0] > 0
    longer = head.format("Énorme") + "texte " * 20_000
    site.commit({f"articles/enorme-{n}.md": longer for n in range(5)}, "Much longer entries")
    pages = search_pages_of(catalog, "mot", (1, 2), 3)
    assert pages[0][0] == ("articles", "long")
    assert pages == ranking_every_match(catalog, search_pages_of, "mot", (1, 2), 3)
    catalog.close()
    catalog.store.close()


def test_lists_are_made_again_after_a_config_change(tmp_path: Path, common_words) -> None:
    """A new config reindexes every entry in place: the lists are made again, not lost."""
    site = generated_site(tmp_path / "site", seed=22, count=60)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    lists = dump(catalog, lists=True)["lists"]
    site.commit({"admin/config.yml": CONFIG.replace("value_type: float", "value_type: int")})
    assert dump(catalog, lists=True)["lists"] == lists
    catalog.close()
    catalog.store.close()


def random_commit(site: Site, rng: random.Random) -> None:
    """Add, modify, delete or rename a few files (now and then the config too)."""
    articles = sorted(p.name for p in (site.path / "articles").glob("*.md"))
    files: dict[str, str | None] = {}
    for _ in range(rng.randrange(1, 4)):
        action = rng.choice(["add", "modify", "delete", "rename", "author"])
        name = rng.choice(articles) if articles else None
        if action == "add" or name is None:
            files[f"articles/{rng.choice(WORDS).lower()}-{rng.randrange(10**6)}.md"] = article(rng)
        elif action == "modify":
            files[f"articles/{name}"] = article(rng)
        elif action == "delete":
            files[f"articles/{name}"] = None
        elif action == "rename":
            old = site.path / "articles" / name
            if old.exists():
                site.repo.git.mv(f"articles/{name}", f"articles/renamed-{rng.randrange(10**6)}.md")
        else:
            files[f"auteurs/auteur-{rng.randrange(6)}.md"] = (
                f"---\ntitle: {rng.choice(AUTHORS)}\n---\n"
            )
    if rng.random() < 0.1:
        files["admin/config.yml"] = CONFIG.replace("value_type: float", "value_type: int")
    files = {k: v for k, v in files.items() if v is not None or (site.path / k).exists()}
    site.commit(files, f"Change {len(files)} files")


@pytest.mark.parametrize("seed", range(4))
def test_incremental_updates_equal_a_rebuild(tmp_path: Path, seed: int, request) -> None:
    """After each random commit, the index moved by its diff holds exactly what a rebuild at
    that commit holds, rows and search text included. With odd seeds, every tree counts as
    large: diffs start from the trees read ahead (``warm``) and step over what is equal.
    With seeds 2 and 3, common words have lists of best entries: the pages are the same, and
    those that FTS5 gives ranking every match."""
    if seed >= 2:
        request.getfixturevalue("common_words")
    rng = random.Random(seed)
    site = generated_site(tmp_path / "site", seed, count=30)
    catalog = catalog_of(site.path, tmp_path / "moved")
    catalog.rebuild()
    if seed % 2:
        catalog.store.trees.large = 1
    for step in range(12):
        catalog.warm()
        random_commit(site, rng)
        if step % 4 == 3:
            random_commit(site, rng)  # two commits at once
        moved = dump(catalog)
        assert moved["meta"]["commit"] == site.head
        fresh = catalog_of(site.path, tmp_path / f"fresh{step}")
        fresh.rebuild()
        assert moved == dump(fresh), f"step {step}"
        for word in WORDS[:6]:  # the same pages, ties in score included
            pages = search_pages(catalog, word)
            assert pages == search_pages(fresh, word), (step, word)
            assert pages == ranking_every_match(catalog, search_pages, word), (step, word)
        fresh.close()
        fresh.store.close()
    catalog.close()
    catalog.store.close()


def test_a_field_whose_widget_changes_is_indexed_after_its_new_kind(tmp_path: Path) -> None:
    """A config change that makes a number field a string one (or a string a date) reindexes
    the entries with the values typed after the new model, as a rebuild would."""
    site = generated_site(tmp_path / "site", seed=9, count=40)
    catalog = catalog_of(site.path, tmp_path / "moved")
    catalog.rebuild()
    site.commit({"articles/un.md": article(random.Random(9))}, "One more")
    catalog.current()  # this connection has indexed articles after the model before
    changed = CONFIG.replace(
        "{name: rank, widget: number, value_type: float, required: false}",
        "{name: rank, widget: string, required: false}",
    ).replace("{name: title, widget: string}", "{name: title, widget: datetime}", 1)
    site.commit({"admin/config.yml": changed}, "Rank as text")
    moved = dump(catalog)
    fresh = catalog_of(site.path, tmp_path / "fresh")
    fresh.rebuild()
    assert moved == dump(fresh)
    snap = catalog.service.snapshot()
    for args in ({"sort": ["rank"]}, {"filter[rank][gte]": ["3"]}, {"sort": ["-title"]}):
        assert same_page(catalog, snap, {**args, "page_size": ["100"]})
    for each in (catalog, fresh):
        each.close()
        each.store.close()


def test_a_build_parsing_in_worker_processes_holds_what_a_serial_one_holds(
    tmp_path: Path, monkeypatch
) -> None:
    """Workers parse the batches ahead while the build indexes those before: the same rows,
    in the same order, with files parsed before, and one file's bytes at several paths."""
    site = generated_site(tmp_path / "site", 5, count=60)
    text = article(random.Random(9))
    site.commit({f"articles/copie-{n}.md": text for n in range(3)}, "Copies")
    serial = catalog_of(site.path, tmp_path / "serial")
    serial.rebuild()
    parallel = catalog_of(site.path, tmp_path / "parallel")
    everything = list(items(parallel.service.snapshot_at(site.head)))
    parallel.parse(everything[10:15])  # in the parse cache already
    monkeypatch.setattr("cms.index.catalog.PARALLEL_PARSE", 1)
    monkeypatch.setattr("cms.index.catalog.CHUNK", 7)
    parallel.rebuild()
    assert dump(parallel) == dump(serial)
    ids = "SELECT id, path FROM entries ORDER BY id"
    assert (
        parallel.current().db.execute(ids).fetchall() == serial.current().db.execute(ids).fetchall()
    )
    assert parallel.documents.missing({item.key for item in everything}) == []
    for catalog in (serial, parallel):
        catalog.close()
        catalog.store.close()


def test_a_reset_branch_is_followed_too(tmp_path: Path) -> None:
    site = generated_site(tmp_path / "site", 9, count=10)
    first = site.head
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    rng = random.Random(1)
    for _ in range(3):
        random_commit(site, rng)
    assert dump(catalog)["meta"]["commit"] == site.head
    site.repo.git.reset("--hard", first)
    moved = dump(catalog, history=False)  # what changed on either side is looked up later
    fresh = catalog_of(site.path, tmp_path / "fresh")
    fresh.rebuild()
    assert moved == dump(fresh, history=False)
    snap = catalog.service.snapshot()
    page, _ = catalog.page(snap, "articles", Query(page_size=100), follow=True)
    assert [e.change for e in page.entries] == [e.change for e in snap.with_history(page.entries)]
    for each in (catalog, fresh):
        each.close()
        each.store.close()


CRASH = """
import os, signal, sys
from pathlib import Path
from cms.content import ContentService
from cms.background import IndexTask
from cms.content.parsed import pack, unpack
from cms.index import Catalog, Index, common, filters
from cms.index.catalog import items
from cms.index.limit import QueryTooSlow
from cms.index.sql import where_sql
from cms.storage import GitStore

original = Index.insert

def crash(self, snapshot, items, search=True):
    original(self, snapshot, list(items), search)
    os.kill(os.getpid(), signal.SIGKILL)  # after rows were deleted and added, before COMMIT

Index.insert = crash
catalog = Catalog(ContentService(GitStore(sys.argv[1]), "admin/config.yml"), Path(sys.argv[2]))
catalog.current()
"""


def test_a_crash_during_an_update_leaves_the_old_commit(tmp_path: Path) -> None:
    site = generated_site(tmp_path / "site", 3, count=20)
    folder = tmp_path / "index"
    catalog = catalog_of(site.path, folder)
    catalog.rebuild()
    before = dump(catalog)
    old = site.head
    catalog.close()
    random_commit(site, random.Random(4))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.run(
        [sys.executable, "-c", CRASH, str(site.path), str(folder)], env=env, check=False
    )
    assert process.returncode == -signal.SIGKILL
    reopened = catalog_of(site.path, folder)
    index = reopened._file()
    assert index is not None and index.commit() == old
    assert index.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert dump_index(index) == before
    assert dump(reopened)["meta"]["commit"] == site.head  # the next read moves it on
    reopened.close()
    reopened.store.close()
    catalog.store.close()


@given(st.text() | st.text(st.characters(max_codepoint=127)))
def test_fold_is_the_case_folded_text_without_its_marks(text: str) -> None:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    assert fold(text) == "".join(c for c in decomposed if not unicodedata.combining(c))


@given(
    st.lists(st.tuples(st.text(), st.text(), st.text()), min_size=1, max_size=4),
    st.tuples(st.text(), st.text(), st.text()),
)
def test_search_texts_come_back_as_they_were_packed(batch, later) -> None:
    """Any text (NUL included; lone surrogates, which UTF-8 cannot hold, aside) is read back
    as packed, by the SQL view FTS5 reads, and by a connection that did not make the
    dictionary."""
    batch = [tuple(t.encode("utf-8", "replace").decode() for t in texts) for texts in batch]
    later = tuple(t.encode("utf-8", "replace").decode() for t in later)
    db = sqlite3.connect(":memory:")
    store = TextStore(db)
    db.executescript(TEXT_TABLES)
    packed = [*store.pack(batch), *store.pack([later])]
    db.executemany("INSERT INTO texts (id, packed) VALUES (?, ?)", enumerate(packed))
    viewed = db.execute("SELECT title, text, body FROM search_texts ORDER BY id").fetchall()
    assert viewed == [*batch, later]
    assert [tuple(TextStore(db).unpack(p)) for p in packed] == [*batch, later]
    db.close()


# -- over HTTP --------------------------------------------------------------------------------


def test_search_folds_accents_and_case_and_ranks(client) -> None:
    for words in ("perennisation", "PÉRENNISATION", "Pérennisation"):
        response = client.get("/api/v1/search", query_string={"q": words})
        assert response.status_code == 200
        hits = response.get_json()
        assert hits, words
        assert all("<mark>" in hit["snippet"] for hit in hits)
        assert "pérennisation" in " ".join(hit["snippet"] for hit in hits).lower()
    interet = client.get("/api/v1/search?q=INTERET").get_json()
    assert any("intérêt" in hit["snippet"].lower() for hit in interet)
    prefix = client.get("/api/v1/search?q=numériq").get_json()
    assert len(prefix) >= 3
    scores = [hit["score"] for hit in prefix]
    assert scores == sorted(scores, reverse=True)
    assert {"collection", "slug", "path", "title", "snippet", "version", "commit"} <= set(prefix[0])
    response = client.get("/api/v1/search?q=numérique&collection=personnes")
    assert {hit["collection"] for hit in response.get_json()} <= {"personnes"}
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total"] == len(response.get_json())


def test_search_errors_and_hostile_text(client) -> None:
    assert client.get("/api/v1/search").status_code == 400
    assert client.get("/api/v1/search?q=%20%2A%22").status_code == 400
    assert client.get("/api/v1/search?q=x&collection=nope").status_code == 404
    assert client.get("/api/v1/search?q=x&page=0").status_code == 400
    for text in ('"unbalanced', "a OR b NOT c", "title:x", "NEAR(a b)", "*", "^a"):
        response = client.get("/api/v1/search", query_string={"q": text})
        assert response.status_code in (200, 400), text
        assert response.get_json() is not None
    listed = client.get("/api/v1/collections/pages/entries?q=perennisation")
    assert listed.status_code == 200
    assert [e["slug"] for e in listed.get_json()]
    assert client.get("/api/v1/collections/pages/entries?q=").status_code == 400


def test_snippets_escape_the_text(sample_copy, tmp_path: Path) -> None:
    sample_copy.commit({"docs/xss.md": "---\ntitle: Piège\n---\n<script>alert('piège')</script>\n"})
    app = make_app(sample_copy.path, tmp_path / "instance")
    hits = app.test_client().get("/api/v1/search?q=alert").get_json()
    snippets = " ".join(hit["snippet"] for hit in hits)
    assert "<script>" not in snippets and "&lt;script&gt;" in snippets


def wait_ready(client) -> None:
    """Poll /readyz as a load balancer does, until the index built at start is ready."""
    deadline = time.monotonic() + 20
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the index was not built in 20 s"
        time.sleep(0.05)


def test_outside_commits_are_served_by_the_next_read(sample_copy, tmp_path: Path) -> None:
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    wait_ready(client)
    before = client.get("/api/v1/search?q=zanzibar").get_json()
    assert before == []
    commit = sample_copy.commit(
        {"docs/zanzibar.md": "---\ntitle: Zanzibar\n---\nUne île.\n"}, "Outside"
    )
    found = client.get("/api/v1/search?q=zanzibar")
    assert [hit["slug"] for hit in found.get_json()] == ["zanzibar"]
    assert found.headers["X-Content-Commit"] == commit
    listed = client.get("/api/v1/collections/docs/entries?filter[title]=Zanzibar")
    assert [e["slug"] for e in listed.get_json()] == ["zanzibar"]
    assert listed.get_json()[0]["updated_at"] is not None
    assert client.get("/readyz").headers["X-Content-Commit"] == commit


def test_other_refs_are_answered_at_their_commit(sample_copy, tmp_path: Path) -> None:
    first = sample_copy.head
    sample_copy.commit({"docs/zanzibar.md": "---\ntitle: Zanzibar\n---\nUne île.\n"})
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    old = client.get(f"/api/v1/search?q=zanzibar&ref={first}")
    assert old.status_code == 200 and old.get_json() == []
    assert old.headers["X-Content-Commit"] == first
    assert "immutable" in old.headers["Cache-Control"]
    docs = client.get(f"/api/v1/collections/docs/entries?ref={first}").get_json()
    assert "zanzibar" not in [e["slug"] for e in docs]
    now = client.get("/api/v1/collections/docs/entries").get_json()
    assert "zanzibar" in [e["slug"] for e in now]


def test_readyz_waits_for_the_index(sample_copy, tmp_path: Path) -> None:
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    wait_ready(client)
    catalog = app.extensions["cms.index"]
    catalog.close()
    catalog.path.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    listed = client.get("/api/v1/collections/docs/entries")
    assert listed.status_code == 503 and listed.get_json()["code"] == 503
    # One entry is still served, from git.
    assert client.get("/api/v1/collections/docs/entries/bienvenue").status_code == 200
    catalog.rebuild()
    assert client.get("/readyz").status_code == 200
    close_app(app)


def test_index_cli(sample_copy, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CMS_REPO": str(sample_copy.path),
        "CMS_INSTANCE": str(tmp_path / "instance"),
    }
    cms = [str(Path(sys.executable).with_name("cms"))]
    status = subprocess.run([*cms, "index", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and "not built" in status.stdout
    rebuilt = subprocess.run([*cms, "index", "rebuild"], env=env, capture_output=True, text=True)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Indexing entries" in rebuilt.stderr and "indexed 13 entries" in rebuilt.stderr
    status = subprocess.run(
        [*cms, "index", "status", "--format", "json"], env=env, capture_output=True, text=True
    )
    state = json.loads(status.stdout)
    assert status.returncode == 0 and state["state"] == "current"
    assert state["commit"] == sample_copy.head and state["entries"] == 13
    sample_copy.commit({"docs/x.md": "---\ntitle: X\n---\n"})
    status = subprocess.run([*cms, "index", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and "behind" in status.stdout


def test_a_write_leaves_the_index_at_its_commit(sample_copy, tmp_path: Path) -> None:
    """The read after a write finds the index already moved: the write paid for it."""
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    catalog = app.extensions["cms.index"]
    catalog.current()  # built
    made = client.post(
        "/api/v1/collections/personnes/entries",
        json={"fields": {"title": "Grace Hopper", "role": "eig"}},
        headers=bearer(app),
    )
    assert made.status_code == 201
    status = catalog.status()
    assert status.current and status.commit == made.headers["X-Content-Commit"]
    # A commit from elsewhere (a fetch, a person with git) is applied by the background.
    sample_copy.commit({"personnes/loup-theron.md": "---\ntitle: Loup\nrole: eig\n---\n"})
    assert not catalog.status().current
    app.extensions["cms.background"].tick()
    assert catalog.status().current


def test_a_long_tie_in_search_scores_is_ordered_by_slug(tmp_path: Path) -> None:
    """Eighty entries with the same text score the same: pages follow their slugs, even
    where the tie runs far past the page (more than the rows read past it)."""
    site = Site(tmp_path / "site")
    files = {"admin/config.yml": CONFIG}
    for number in range(80):
        files[f"articles/note-{number:02d}.md"] = (
            "---\ntitle: Même note\ndate: 2024-01-02\ndraft: false\n---\nTexte identique.\n"
        )
    site.commit(files, "Eighty equal notes")
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    pages = [
        [slug for _, slug in page]
        for page in search_pages_of(catalog, "identique", pages=(1, 2, 5), size=10)
    ]
    assert pages == [
        [f"note-{n:02d}" for n in range(0, 10)],
        [f"note-{n:02d}" for n in range(10, 20)],
        [f"note-{n:02d}" for n in range(40, 50)],
    ]
    catalog.close()
    catalog.store.close()


def test_snippets_are_fts5s_own_for_each_hit(tmp_path: Path) -> None:
    """A page's snippets are made apart from the ranking (only for the page's entries); each
    is the one FTS5's ``snippet()`` gives for that entry over the whole index."""
    site = generated_site(tmp_path / "site", seed=11)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    index = catalog.current()
    checked = 0
    for word in ("pérennisation", "ecol", "élan zèbre", "zzz"):
        match = match_query(word)
        expected = dict(
            index.db.execute(
                f"SELECT rowid, snippet(search, -1, '{MARK_START}', '{MARK_END}', '…', 16) "
                "FROM search WHERE search MATCH ?",
                [match],
            ).fetchall()
        )
        for page in (1, 2):
            hits, total = index.search(word, None, page, 7)
            assert total == len(expected)
            for entry_id, _, snippet in hits:
                assert snippet == highlight(expected[entry_id])
                checked += 1
    assert checked > 10
    catalog.close()
    catalog.store.close()


def test_a_search_with_nothing_to_rank_only_counts(tmp_path: Path) -> None:
    """Ranking reads every match: a page past the last match, or collections that hold none,
    are answered from the count alone."""
    site = generated_site(tmp_path / "site", seed=12)
    catalog = catalog_of(site.path, tmp_path / "index")
    catalog.rebuild()
    index = catalog.current()
    statements: list[str] = []
    for collections, page in ((["auteurs"], 1), (None, 1_000), (["articles"], 1_000)):
        expected = index.search("pérennisation", collections, 1, 10)[1]
        statements.clear()
        index.db.set_trace_callback(statements.append)
        assert index.search("pérennisation", collections, page, 10) == ([], expected)
        index.db.set_trace_callback(None)
        assert not [s for s in statements if "rank" in s], statements
    hits, total = index.search("pérennisation", ["articles"], 1, 10)
    assert len(hits) == 10 and total > 10
    catalog.close()
    catalog.store.close()
