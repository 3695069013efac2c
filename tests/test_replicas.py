"""Two real servers (`cms serve`) on two clones of one remote served over git's smart HTTP
(`git http-backend`, with a password): concurrent edits across both, conflicts, convergence,
and the remote going away."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.server import Server, free_port
from cms.auth import TokenStore

PEOPLE = "/api/v1/collections/personnes/entries"
PASSWORD = "s3cret-pa55"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


class GitHost:
    """The bare repositories of ``root`` over HTTP on 127.0.0.1 (tests/git_http.py)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("git_http.py")), str(root),
             str(self.port), f"cms:{PASSWORD}"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"ready"

    def url(self, name: str) -> str:
        return f"http://cms:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def host(sample_repo: Path, tmp_path: Path):
    root = tmp_path / "host"
    root.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(sample_repo), str(root / "site.git")], check=True
    )
    served = GitHost(root)
    yield served
    served.stop()


def start_replica(host: GitHost, tmp_path: Path, name: str) -> tuple[Server, str, Path]:
    work = tmp_path / name
    subprocess.run(["git", "clone", "-q", host.url("site.git"), str(work)], check=True)
    git(work, "remote", "set-url", "origin", "https://example.org/not-used.git")
    instance = tmp_path / f"{name}-instance"
    _, secret = TokenStore(instance).create(f"Editor {name}", "editor", f"{name}@example.org")
    server = Server(
        work, instance, workers=2, threads=4,
        CMS_REMOTE=host.url("site.git"), CMS_SYNC_INTERVAL="2", CMS_REMOTE_TIMEOUT="10",
    )  # fmt: skip
    return server, secret, work


def create(server: Server, secret: str, slug: str) -> tuple[int, dict, dict]:
    body = json.dumps({"slug": slug, "fields": {"title": slug.title(), "role": "eig"}})
    status, headers, data = server.request(
        "POST",
        PEOPLE,
        body.encode(),
        {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    return status, headers, json.loads(data)


def test_forty_concurrent_edits_across_two_replicas(host: GitHost, tmp_path: Path) -> None:
    remote = tmp_path / "host" / "site.git"
    start = git(remote, "rev-parse", "main")
    a, secret_a, work_a = start_replica(host, tmp_path, "a")
    b, secret_b, work_b = start_replica(host, tmp_path, "b")
    try:
        # 30 entries of their own, then 5 slugs that both replicas create at once.
        jobs = [(a, secret_a, f"person-{n}") if n % 2 else (b, secret_b, f"person-{n}")
                for n in range(30)]  # fmt: skip
        for n in range(5):
            jobs += [(a, secret_a, f"both-{n}"), (b, secret_b, f"both-{n}")]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda job: (job[2], *create(*job)), jobs))
        made = [(slug, headers) for slug, status, headers, _ in answers if status == 201]
        refused = [(slug, body) for slug, status, _, body in answers if status != 201]
        assert len(made) == 35, refused
        assert sorted(slug for slug, _ in refused) == [f"both-{n}" for n in range(5)]
        assert [body["code"] for _, body in refused] == [409] * 5, refused
        # Every edit that landed is on the remote exactly once.
        commits = git(remote, "rev-list", f"{start}..main").split()
        assert len(commits) == 35 == len(set(commits))
        assert {h["X-Content-Commit"] for _, h in made} == set(commits)
        files = git(remote, "ls-tree", "--name-only", "main", "personnes/").split()
        assert {f"personnes/{slug}.md" for slug, _ in made} <= set(files)
        # Both replicas reach the remote's head within the sync interval (2 s), plus a fetch.
        head = git(remote, "rev-parse", "main")
        landed = time.monotonic()
        deadline = landed + 2 + 3
        while time.monotonic() < deadline:
            heads = {git(work, "rev-parse", "main") for work in (work_a, work_b)}
            if heads == {head}:
                break
            time.sleep(0.2)
        assert heads == {head}
        print(f"both replicas at the remote's head {time.monotonic() - landed:.2f} s after")
        for server in (a, b):
            status, _, body = server.get("/api/v1/status")
            remote_state = json.loads(body)["remote"]
            assert remote_state["state"] == "ok"
            assert PASSWORD not in body.decode()
            assert server.get(PEOPLE + "/both-3")[0] == 200
        for repo in (remote, work_a, work_b):
            subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=repo, check=True,
                           capture_output=True)  # fmt: skip
        for work in (work_a, work_b):
            assert git(work, "status", "--porcelain") == ""

        # The remote goes away: reads answer, writes are 503 and change nothing.
        host.stop()
        for server, secret, work in ((a, secret_a, work_a), (b, secret_b, work_b)):
            assert server.get(PEOPLE + "/person-1")[0] == 200
            status, headers, body = create(server, secret, "while-down")
            assert status == 503, body
            assert "Retry-After" in headers
            assert git(work, "rev-parse", "main") == head
            assert git(work, "status", "--porcelain") == ""
        assert git(remote, "rev-parse", "main") == head
    finally:
        a.stop()
        b.stop()
    for server in (a, b):
        assert PASSWORD not in server.output
        assert quote(PASSWORD) not in server.output
