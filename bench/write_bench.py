"""Write benchmark: edits through a real gunicorn server (2 workers x 4 threads), each one a
commit, on a generated repository (default: 10,000 entries and 5,000 commits).

    .venv/bin/python bench/write_bench.py [--entries 10000] [--commits 5000] [--edits 200]

The repository is generated once into bench/out/ (see bench/generate.py) and copied for each
run, so runs start from the same state. Reports, for one-field PATCHes (each with its If-Match,
read before the timed request), the sequential latency (p50, p95, commits per second) and the
throughput of --concurrency clients editing distinct entries; then checks that the branch grew
by exactly the number of successful edits and that `git fsck` is clean.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import generate
from bench.server import ROOT, Server
from cms.auth import TokenStore


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Client:
    def __init__(self, server: Server, token: str) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        self.auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def edit(self, slug: str, version: str, minutes: int) -> tuple[int, float]:
        body = json.dumps({"fields": {"minutes": minutes}}).encode()
        start = time.perf_counter()
        self.connection.request(
            "PATCH",
            f"/api/v1/collections/articles/entries/{slug}",
            body=body,
            headers={**self.auth, "If-Match": f'"{version}"'},
        )
        response = self.connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - start) * 1000


def versions_of(repo: Path) -> dict[str, str]:
    """Each article's version (its blob sha: the ETag the API gives), read from git."""
    listing = subprocess.run(
        ["git", "ls-tree", "HEAD", "articles/"], cwd=repo, capture_output=True, text=True
    ).stdout
    versions = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        versions[Path(path).stem] = meta.split()[2]
    return versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    source = ROOT / "bench" / "out" / f"site-{args.entries}-{args.commits}"
    if not source.exists():
        print(f"generating {source} ...", flush=True)
        generate(args.entries, args.commits, source)
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "site"
        shutil.copytree(source, repo, symlinks=True)
        instance = Path(scratch) / "instance"
        _, token = TokenStore(instance).create("Bench", "editor", "bench@example.org")
        start_head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        versions = versions_of(repo)
        slugs = sorted(versions)
        with Server(repo, instance) as server:
            client = Client(server, token)
            client.edit(slugs[0], versions[slugs[0]], 99)  # warm up: opens the repository
            timings = []
            ok = 1
            for index in range(args.edits):
                slug = slugs[1 + index]
                status, elapsed = client.edit(slug, versions[slug], 1000 + index)
                ok += status == 200
                timings.append(elapsed)
            # Concurrent: each client edits its own entries.
            per_client = args.edits // args.concurrency
            concurrent_timings: list[float] = []
            statuses: list[int] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.concurrency)

            def run(worker: int) -> None:
                own = Client(server, token)
                barrier.wait()
                for k in range(per_client):
                    slug = slugs[1 + args.edits + worker * per_client + k]
                    status, elapsed = own.edit(slug, versions[slug], 2000 + k)
                    with lock:
                        statuses.append(status)
                        concurrent_timings.append(elapsed)

            threads = [threading.Thread(target=run, args=(w,)) for w in range(args.concurrency)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
        ok += sum(s == 200 for s in statuses)
        grown = subprocess.run(
            ["git", "rev-list", "--count", f"{start_head}..HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        fsck = subprocess.run(
            ["git", "fsck", "--no-progress"], cwd=repo, capture_output=True, text=True
        )
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
        ).stdout
    print(f"repository: {args.entries} entries, {args.commits} commits")
    print("| edits | p50 ms | p95 ms | commits/s |")
    print("|---|---|---|---|")
    print(
        f"| sequential ({len(timings)}) | {statistics.median(timings):.1f} | "
        f"{percentile(timings, 0.95):.1f} | {len(timings) / (sum(timings) / 1000):.1f} |"
    )
    print(
        f"| {args.concurrency} clients ({len(statuses)}) | "
        f"{statistics.median(concurrent_timings):.1f} | "
        f"{percentile(concurrent_timings, 0.95):.1f} | {len(statuses) / wall:.1f} |"
    )
    print(
        f"successful edits {ok}, new commits {grown}, git fsck exit {fsck.returncode}, "
        f"work tree {'clean' if not status else 'DIRTY'}"
    )


if __name__ == "__main__":
    main()
