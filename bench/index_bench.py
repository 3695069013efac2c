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

The sequential timings and the "concurrent" rates of the scenarios come from a client in
Python (``http.client``, one thread per connection), which itself tops out at about 700
requests a second here. The comparison of one entry with decap-server uses wrk instead
(Debian's package, installed when missing), and measures the stack's own ceiling beside it
(bench/ceiling.py): a Flask view that reads nothing, on the same gunicorn worker.
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
from bench.server import Ceiling, DecapServer, Server
from bench.wrk import wrk
from cms.auth import TokenStore

RUBRIQUES = ["actualité", "portrait", "dossier", "événement", "tribune"]
COMMON = VOCABULARY[0]  # the most common word of the generated text


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def tree_rss(pid: int, field: str = "VmHWM") -> int:
    """The largest resident set (kB; ``VmHWM``: its peak, ``VmRSS``: now) of any process in a
    process tree, read from /proc (starting no process: sampling must not slow what it
    measures)."""
    peak = 0
    children: list[str] = []
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                peak = int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    except OSError:
        return peak
    return max([peak, *(tree_rss(int(child), field) for child in children)])


def disk_sizes(instance: Path) -> tuple[int, int]:
    """Bytes on disk of the index files (with their WAL) and of the parse cache."""
    index = parse = 0
    for path in instance.rglob("*"):
        if not path.is_file() or path.is_symlink():  # the branch's link to its index file
            continue
        if path.name.startswith(("parsed.sqlite", "documents.sqlite")):
            parse += path.stat().st_size
        elif ".sqlite" in path.name and path.parent.name == "index":
            index += path.stat().st_size
    return index, parse


AUTH: dict[str, str] = {}  # an editor's token: drafts are read by editors only


def fetch(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    headers = AUTH if "ref=cms/" in path else {}
    connection.request("GET", quote(path, safe="/?=&[]+,-_.%"), headers=headers)
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


def concurrently(run, items: list, workers: int) -> float:
    """Items per second when ``workers`` threads each ``run`` their share of ``items``."""
    threads = [threading.Thread(target=run, args=(items[i::workers],)) for i in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(items) / (time.perf_counter() - start)


def run_concurrent(server: Server, paths: list[str], workers: int) -> float:
    def run(share: list[str]) -> None:
        connection = http.client.HTTPConnection(server.host, server.port)
        for path in share:
            fetch(connection, path)
        connection.close()

    return concurrently(run, paths, workers)


def git(repo: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip()


def outside_commit(repo: Path, path: str, text: str, ref: str = "refs/heads/main") -> str:
    """Commit one file on main with plumbing, as a push would, and point ``ref`` at it: the
    work tree is not touched."""
    with tempfile.NamedTemporaryFile() as index_file:
        env = {**os.environ, "GIT_INDEX_FILE": index_file.name}
        head = git(repo, "rev-parse", "refs/heads/main")
        git(repo, "read-tree", head, env=env)
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=text)
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env)
        commit = git(repo, "commit-tree", tree, "-p", head, "-m", f"Bench: edit {path}")
        git(repo, "update-ref", ref, commit, *([head] if ref == "refs/heads/main" else []))
        return commit


def commit_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "refs/heads/main"))


def draft_branch(repo: Path, slug: str) -> str:
    """A draft as the editor makes one: a branch of main with one entry changed."""
    name = f"cms/articles/{slug}"
    text = "---\ntitle: Brouillon du banc d’essai\ndate: 2024-01-01\n---\nTexte.\n"
    outside_commit(repo, f"articles/{slug}.md", text, ref=f"refs/heads/{name}")
    return name


def compare_with_decap_server(
    server: Server, repo: Path, slugs: list[str], connections: int, seconds: int
) -> None:
    """One entry, with ``connections`` connections, measured with wrk (bench/wrk.py): this
    server's API and the reference decap-server (npm, fs mode, reading the work tree) on the
    same site, in turns (three runs each, the median kept: the machine's speed drifts), then
    the ceiling of the stack (bench/ceiling.py). decap-server is warmed up for 10 s first:
    node compiles its hot code as it runs, and gets faster for about half a minute."""
    bodies = [
        json.dumps({"action": "getEntry", "params": {"branch": "main", "path": f"articles/{s}.md"}})
        for s in slugs
    ]
    paths = [f"/api/v1/collections/articles/entries/{s}" for s in slugs]
    reference_server = DecapServer(repo, "fs")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", reference_server.port)
        connection.request("POST", "/api/v1", bodies[0], {"Content-Type": "application/json"})
        answer = connection.getresponse()
        assert answer.status == 200 and b'"data":"---' in answer.read()
        connection.close()
        base = f"http://127.0.0.1:{reference_server.port}"
        wrk(base, 10, connections, bodies, "/api/v1")
        wrk(server.base, 2, connections, paths)
        references, ours = [], []
        for _ in range(3):
            references.append(wrk(base, seconds, connections, bodies, "/api/v1"))
            ours.append(wrk(server.base, seconds, connections, paths))
    finally:
        reference_server.stop()
    reference = statistics.median(references)
    print(
        f"one entry, {connections} connections (wrk, median of 3 runs of {seconds} s): "
        f"this server {statistics.median(ours):.0f} req/s ({', '.join(f'{r:.0f}' for r in ours)}), "
        f"decap-server (fs) {reference:.0f} req/s ({', '.join(f'{r:.0f}' for r in references)}): "
        f"x{statistics.median(ours) / reference:.2f}"
    )
    for name, what in (("flask_app", "a Flask view"), ("bare_app", "a bare WSGI callable")):
        with Ceiling(name) as ceiling:
            wrk(ceiling.base, 2, connections, paths)
            rate = wrk(ceiling.base, seconds, connections, paths)
        print(
            f"  the stack's ceiling, {what} answering without reading anything on the same "
            f"gunicorn worker: {rate:.0f} req/s, x{rate / reference:.2f} decap-server"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument(
        "--seconds",
        type=int,
        default=10,
        help="length of each wrk run (one entry, against decap-server)",
    )
    parser.add_argument(
        "--other-requests",
        type=int,
        default=200,
        help="requests of each scenario at a draft branch or an old commit",
    )
    parser.add_argument(
        "--no-decap", action="store_true", help="skip the comparison with decap-server"
    )
    parser.add_argument(
        "--other-concurrency",
        type=int,
        default=8,
        help="connections at once for the requests at a draft branch or an old commit",
    )
    parser.add_argument("--only", help="run only the scenarios whose name holds this text")
    parser.add_argument(
        "--instance",
        type=Path,
        help="the server's CMS_INSTANCE (kept; an index built there is reused, the build "
        "time is then a restart's)",
    )
    args = parser.parse_args()
    repo = args.repo.resolve()
    rng = random.Random(11)
    original = git(repo, "rev-parse", "refs/heads/main")
    slugs = [
        Path(p).stem for p in git(repo, "ls-tree", "--name-only", original, "articles/").split()
    ]
    with tempfile.TemporaryDirectory() as scratch:
        instance = args.instance or Path(scratch) / "instance"
        _, token = TokenStore(instance).create("Bench", "editor", "bench@example.org")
        AUTH["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        server = Server(repo, instance)
        peak, now = [0], [0]  # the largest RSS ever, and since `now` was last set to 0
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(server.process.pid))
                now[0] = max(now[0], tree_rss(server.process.pid, "VmRSS"))
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
                f"search, the most common word ({COMMON})": [
                    f"/api/v1/search?q={COMMON}&_={i}" for i in range(n)
                ],
            }
            # The same requests at a draft branch (the published branch and one commit) and at
            # an old commit of the published branch: neither is the index's own commit.
            draft = draft_branch(repo, rng.choice(slugs))
            old = git(repo, "rev-parse", f"{original}~{min(100, commit_count(repo) - 1)}")
            m = args.other_requests
            for label, ref in (("a draft branch", draft), ("an old commit", old)):
                scenarios[f"page of 20, one author, by date, at {label}"] = [
                    f"{path}&ref={ref}" for path in scenarios["page of 20, one author, by date"][:m]
                ]
                scenarios[f"search, one word, at {label}"] = [
                    f"{path}&ref={ref}" for path in scenarios["search, one word"][:m]
                ]
            print(f"{n} requests each, every one a different URL; concurrency {args.concurrency}")
            print(
                "| request | p50 ms | p95 ms | sequential req/s | concurrent req/s "
                "| largest RSS meanwhile, MB |"
            )
            print("|---|---|---|---|---|---|")
            for name, paths in scenarios.items():
                if args.only and args.only not in name:
                    continue
                now[0] = 0
                run_sequential(server, paths[: min(50, len(paths) // 4)])  # connections, caches
                timings = run_sequential(server, paths)
                fresh = [p.replace("_=", "__=") for p in paths]
                other = " at a" in name
                rate = run_concurrent(
                    server, fresh, args.other_concurrency if other else args.concurrency
                )
                print(
                    f"| {name} | {statistics.median(timings):.2f} | "
                    f"{percentile(timings, 0.95):.2f} | "
                    f"{1000 / statistics.mean(timings):.0f} | {rate:.0f} | "
                    f"{now[0] / 1024:.0f} |"
                )
            git(repo, "branch", "-D", draft)

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
            index_bytes, parse_bytes = disk_sizes(instance)
            print(
                f"on disk: index {index_bytes / 1e6:.0f} MB, parse cache {parse_bytes / 1e6:.0f} MB"
            )
            if not args.no_decap:
                compare_with_decap_server(server, repo, slugs, args.concurrency, args.seconds)
            done.set()
            sampler.join()
            print(f"peak RSS of any server process: {peak[0] / 1024:.0f} MB")
        finally:
            done.set()
            server.stop()
            git(repo, "update-ref", "refs/heads/main", original)


if __name__ == "__main__":
    main()
