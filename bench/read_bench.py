"""Read benchmark: hot reads against a real gunicorn server (2 workers x 4 threads).

    .venv/bin/python bench/read_bench.py [--repo PATH] [--requests 2000] [--concurrency 8]

Without --repo it serves the sample site (seeded into a temporary folder). For each kind of
request it reports the sequential latency (one keep-alive connection: p50, p95) and the
throughput with --concurrency connections in parallel. Client and server share the machine's
cores, so the concurrent figures are a floor.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import ROOT, Server
from cms.storage.seed import seed_repository

BROWSER = {"Accept-Encoding": "gzip, deflate, br"}
SCENARIOS = [
    ("one entry", "/api/v1/collections/pages/entries/accueil", {}),
    ("one entry, 304", "/api/v1/collections/pages/entries/accueil", {"If-None-Match": None}),
    (
        "one entry, render=html",
        "/api/v1/collections/actualites/entries/2018-01-16-deuxieme-promotion?render=html",
        {},
    ),
    (
        "filtered, sorted page",
        "/api/v1/collections/personnes/entries?filter[role]=eig&sort=-title&page_size=20",
        {},
    ),
    (
        "page with include",
        "/api/v1/collections/pages/entries?include=talents.list,agents.list,profiles.list",
        {},
    ),
    ("collections", "/api/v1/collections", {}),
    # As a browser asks: brotli, the compressed bytes kept per body (cms.api.responses.encoded).
    (
        "filtered, sorted page, brotli",
        "/api/v1/collections/personnes/entries?filter[role]=eig&sort=-title&page_size=20",
        BROWSER,
    ),
    (
        "page with include, brotli",
        "/api/v1/collections/pages/entries?include=talents.list,agents.list,profiles.list",
        BROWSER,
    ),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def fetch(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> int:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def sequential(server: Server, path: str, headers: dict[str, str], count: int) -> list[float]:
    connection = http.client.HTTPConnection(server.host, server.port)
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        status = fetch(connection, path, headers)
        timings.append((time.perf_counter() - start) * 1000)
        if status not in (200, 304):
            raise RuntimeError(f"{path}: HTTP {status}")
    connection.close()
    return timings


def concurrent(
    server: Server, path: str, headers: dict[str, str], count: int, workers: int
) -> float:
    per_worker = max(1, count // workers)

    def run() -> None:
        connection = http.client.HTTPConnection(server.host, server.port)
        for _ in range(per_worker):
            fetch(connection, path, headers)
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_worker * workers / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        repo = args.repo
        if repo is None:
            repo = Path(scratch) / "site"
            seed_repository(ROOT / "content", repo)
        with Server(repo, Path(scratch) / "instance") as server:
            connection = http.client.HTTPConnection(server.host, server.port)
            connection.request("GET", SCENARIOS[0][1])
            response = connection.getresponse()
            response.read()
            etag = response.getheader("ETag")
            connection.close()
            print(f"{args.requests} requests each; concurrency {args.concurrency}")
            print("| request | p50 ms | p95 ms | sequential req/s | concurrent req/s |")
            print("|---|---|---|---|---|")
            for name, path, headers in SCENARIOS:
                headers = {k: (v or etag) for k, v in headers.items()}
                sequential(server, path, headers, 50)  # warm every worker's caches
                timings = sequential(server, path, headers, args.requests)
                rate = concurrent(server, path, headers, args.requests, args.concurrency)
                print(
                    f"| {name} | {statistics.median(timings):.2f} | "
                    f"{percentile(timings, 0.95):.2f} | {1000 / statistics.mean(timings):.0f} | "
                    f"{rate:.0f} |"
                )


if __name__ == "__main__":
    main()
