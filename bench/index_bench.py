"""Index benchmark: cold build, peak RSS, incremental updates and indexed reads, against a real
gunicorn server (2 workers x 4 threads) on a generated site.

    .venv/bin/python bench/generate.py --entries 10000 --commits 5000 --out bench/out/site-10000
    .venv/bin/python bench/index_bench.py --repo bench/out/site-10000 [--requests 1000]

The server starts with an empty CMS_INSTANCE, so it builds the index (and parses every file)
from nothing: "cold build" is the time from the start of `cms serve` to the first 200 from
/readyz, and "peak RSS" the largest resident set of any of its processes (master, workers,
parse workers), sampled every 50 ms.

Every request of a scenario has its own URL (another slug, page, filter value or search word),
so none is answered from the server's cache of built responses: the figures are the index's.
"Incremental update" makes a one-file commit with git plumbing (outside the server) and times
the next list read, which applies the commit to the index first; the branch is put back where
it was at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import VOCABULARY, author_name
from bench.server import Server

RUBRIQUES = ["actualité", "portrait", "dossier", "événement", "tribune"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def tree_rss(pid: int) -> int:
    """Peak resident set (kB) of the largest process in a process tree."""
    peak = 0
    try:
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    except OSError:
        return 0
    return max([peak, *(tree_rss(int(child)) for child in children)])


def fetch(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", quote(path, safe="/?=&[]+,-_.%"))
    response = connection.getresponse()
    return response.status, response.read()


def run_sequential(server: Server, paths: list[str]) -> list[float]:
    connection = http.client.HTTPConnection(server.host, server.port)
    timings = []
    for path in paths:
        start = time.perf_counter()
        status, _ = fetch(connection, path)
        timings.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    connection.close()
    return timings


def run_concurrent(server: Server, paths: list[str], workers: int) -> float:
    def run(share: list[str]) -> None:
        connection = http.client.HTTPConnection(server.host, server.port)
        for path in share:
            fetch(connection, path)
        connection.close()

    threads = [threading.Thread(target=run, args=(paths[i::workers],)) for i in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(paths) / (time.perf_counter() - start)


def git(repo: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip()


def outside_commit(repo: Path, path: str, text: str) -> str:
    """Commit one file on main with plumbing, as a push would: the work tree is not touched."""
    with tempfile.NamedTemporaryFile() as index_file:
        env = {**os.environ, "GIT_INDEX_FILE": index_file.name}
        head = git(repo, "rev-parse", "refs/heads/main")
        git(repo, "read-tree", head, env=env)
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=text)
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env)
        commit = git(repo, "commit-tree", tree, "-p", head, "-m", f"Bench: edit {path}")
        git(repo, "update-ref", "refs/heads/main", commit, head)
        return commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    repo = args.repo.resolve()
    rng = random.Random(11)
    original = git(repo, "rev-parse", "refs/heads/main")
    slugs = [
        Path(p).stem for p in git(repo, "ls-tree", "--name-only", original, "articles/").split()
    ]
    with tempfile.TemporaryDirectory() as scratch:
        started = time.monotonic()
        server = Server(repo, Path(scratch) / "instance")
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(server.process.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            while server.get("/readyz")[0] != 200:
                time.sleep(0.05)
            build = time.monotonic() - started
            headers = server.get("/api/v1/collections/articles/entries")[1]
            total = json.loads(headers.get("X-Pagination", "{}")).get("total")
            print(f"repository: {repo} ({len(slugs)} articles, {total} listed)")
            authors = int(
                json.loads(server.get("/api/v1/collections/auteurs/entries")[1]["X-Pagination"])[
                    "total"
                ]
            )
            print(f"cold build (start to /readyz 200): {build:.1f} s")

            n = args.requests

            def word() -> str:
                """A word of the text's vocabulary, each as likely (common and rare alike)."""
                return rng.choice(VOCABULARY)

            scenarios = {
                "one entry": [
                    f"/api/v1/collections/articles/entries/{rng.choice(slugs)}" for _ in range(n)
                ],
                "page of 20, one author, by date": [
                    "/api/v1/collections/articles/entries?"
                    f"filter[author]={quote(author_name(rng.randrange(authors)))}"
                    f"&sort=-date&page_size=20&_={i}"
                    for i in range(n)
                ],
                "page of 20, rubrique and minutes, by date": [
                    "/api/v1/collections/articles/entries?"
                    f"filter[rubrique]={rng.choice(RUBRIQUES)}"
                    f"&filter[minutes][gte]={rng.randrange(1, 15)}"
                    f"&sort=-date&page={rng.randrange(1, 30)}&page_size=20&_={i}"
                    for i in range(n)
                ],
                "page of 20 with include": [
                    "/api/v1/collections/articles/entries?include=author&sort=title"
                    f"&page={rng.randrange(1, 200)}&page_size=20&_={i}"
                    for i in range(n)
                ],
                "search, one word": [f"/api/v1/search?q={word()}&_={i}" for i in range(n)],
                "search, a word and a prefix": [
                    f"/api/v1/search?q={word()}+{word()[:5]}&_={i}" for i in range(n)
                ],
            }
            print(f"{n} requests each, every one a different URL; concurrency {args.concurrency}")
            print("| request | p50 ms | p95 ms | sequential req/s | concurrent req/s |")
            print("|---|---|---|---|---|")
            for name, paths in scenarios.items():
                run_sequential(server, paths[:50])  # both workers' connections and caches
                timings = run_sequential(server, paths)
                fresh = [p.replace("_=", "__=") for p in paths]
                rate = run_concurrent(server, fresh, args.concurrency)
                print(
                    f"| {name} | {statistics.median(timings):.2f} | "
                    f"{percentile(timings, 0.95):.2f} | "
                    f"{1000 / statistics.mean(timings):.0f} | {rate:.0f} |"
                )

            updates = []
            for step in range(args.updates):
                slug = rng.choice(slugs)
                text = (
                    f"---\ntitle: Édition {step} du banc d’essai\ndate: 2024-01-01\n---\nTexte.\n"
                )
                outside_commit(repo, f"articles/{slug}.md", text)
                start = time.perf_counter()
                status, _, body = server.get(
                    "/api/v1/collections/articles/entries?filter[title]="
                    + quote(f"Édition {step} du banc d’essai")
                )
                updates.append((time.perf_counter() - start) * 1000)
                assert status == 200 and json.loads(body)[0]["slug"] == slug, body[:200]
            print(
                f"incremental update (one-file commit made outside, then the next list read): "
                f"p50 {statistics.median(updates):.1f} ms, max {max(updates):.1f} ms"
            )
            done.set()
            sampler.join()
            print(f"peak RSS of any server process: {peak[0] / 1024:.0f} MB")
        finally:
            done.set()
            server.stop()
            git(repo, "update-ref", "refs/heads/main", original)


if __name__ == "__main__":
    main()
