"""Full-text search side by side: SQLite FTS5 as the index runs it, and tantivy (a maintained
Rust engine with top-k ranking), on the same texts.

    .venv/bin/python bench/search_engines.py --index CMS_INSTANCE/index/main.sqlite [WORD ...]

It reads the search rows (title, text, body) of a built index file, builds a tantivy index of
them in a temporary folder (lowercased, accents folded, the same column weights 10/2/1 as
boosts), and times, for each word, the best 70 matches and the number of matches, as the
search API asks for its first page. Only for measuring: the server does not use tantivy.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import tantivy

from cms.index.texts import TextStore


def build(rows: list[tuple], folder: str) -> tantivy.Index:
    schema = tantivy.SchemaBuilder()
    schema.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in ("title", "text", "body"):
        schema.add_text_field(name, stored=False, tokenizer_name="folded")
    index = tantivy.Index(schema.build(), path=folder)
    index.register_tokenizer(
        "folded",
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build(),
    )
    writer = index.writer(heap_size=100_000_000, num_threads=1)
    for rowid, title, text, body in rows:
        writer.add_document(
            tantivy.Document(id=rowid, title=title or "", text=text or "", body=body or "")
        )
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def timed(run, repeat: int) -> tuple[float, float, int]:
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        total = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("words", nargs="*", default=["pérennisation", "numérique"])
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.index}?mode=ro", uri=True)
    TextStore(db)  # FTS5 reads the texts through the view ``search_texts``
    rows = db.execute("SELECT rowid, title, text, body FROM search").fetchall()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        index = build(rows, folder)
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(
            f"{len(rows)} rows; tantivy built in {time.perf_counter() - start:.1f} s, "
            f"{size / 1e6:.0f} MB"
        )
        searcher = index.searcher()
        print("| word | matches | FTS5 p50 / max ms | tantivy p50 / max ms |")
        print("|---|---|---|---|")
        for word in args.words:
            match = f'"{word}"*'

            def fts5(match: str = match) -> int:
                db.execute(
                    "SELECT rowid, rank FROM search WHERE search MATCH ? ORDER BY rank LIMIT 70",
                    (match,),
                ).fetchall()
                return db.execute(
                    "SELECT count(*) FROM search WHERE search MATCH ?", (match,)
                ).fetchone()[0]

            query = index.parse_query(
                word, ["title", "text", "body"], field_boosts={"title": 10, "text": 2, "body": 1}
            )

            def engine(query: tantivy.Query = query) -> int:
                return searcher.search(query, 70, count=True).count

            f50, fmax, found = timed(fts5, args.repeat)
            t50, tmax, counted = timed(engine, args.repeat)
            print(
                f"| {word} | {found} / {counted} | {f50:.1f} / {fmax:.1f} | "
                f"{t50:.1f} / {tmax:.1f} |"
            )


if __name__ == "__main__":
    main()
