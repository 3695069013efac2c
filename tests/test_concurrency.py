"""50 concurrent edits against a real multi-worker server: every distinct edit lands as its own
commit, exactly one of the edits racing on one entry wins, nothing is lost or duplicated."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from bench.server import Server
from cms.auth import TokenStore

PEOPLE = 26
CONFIG = """\
collections:
  - name: people
    folder: people
    create: true
    fields:
      - {name: title}
      - {name: score, widget: number, value_type: int}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def test_fifty_concurrent_edits(make_site, tmp_path: Path) -> None:
    files = {"admin/config.yml": CONFIG}
    for n in range(PEOPLE):
        files[f"people/p{n:02d}.md"] = f"---\ntitle: Person {n}\nscore: 0\n---\n"
    site = make_site(files)
    start = site.head
    instance = tmp_path / "instance"
    _, secret = TokenStore(instance).create("Load Tester", "editor", "load@example.org")
    auth = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    server = Server(site.path, instance, workers=4)
    try:
        versions = {}
        for n in range(PEOPLE):
            _, headers, _ = server.get(f"/api/v1/collections/people/entries/p{n:02d}")
            versions[n] = headers["ETag"]

        # 25 edits on distinct entries (p01..p25), 25 racing on p00 with the same If-Match.
        jobs = [(n, n, versions[n]) for n in range(1, PEOPLE)]
        jobs += [(0, 100 + k, versions[0]) for k in range(25)]
        barrier = threading.Barrier(len(jobs))
        results: list[tuple[int, int, int, dict]] = []
        lock = threading.Lock()

        def edit(person: int, score: int, version: str) -> None:
            body = json.dumps({"fields": {"score": score}, "message": f"score {score}"}).encode()
            barrier.wait()
            status, _, raw = server.request(
                "PATCH",
                f"/api/v1/collections/people/entries/p{person:02d}",
                body,
                {**auth, "If-Match": version},
            )
            with lock:
                results.append((person, score, status, json.loads(raw) if raw else {}))

        threads = [threading.Thread(target=edit, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()

    assert len(results) == 50
    distinct = [r for r in results if r[0] != 0]
    shared = [r for r in results if r[0] == 0]
    assert all(status == 200 for _, _, status, _ in distinct), distinct
    winners = [r for r in shared if r[2] == 200]
    assert len(winners) == 1, [r[2] for r in shared]
    assert sorted(r[2] for r in shared) == [200] + [412] * 24

    commits = git(site.path, "rev-list", f"{start}..HEAD").split()
    assert len(commits) == 26  # one per successful edit, no more
    messages = git(site.path, "log", "--format=%s", f"{start}..HEAD").splitlines()
    assert len(set(messages)) == 26
    assert git(site.path, "status", "--porcelain") == ""
    fsck = subprocess.run(
        ["git", "fsck", "--strict", "--no-progress"], cwd=site.path, capture_output=True, text=True
    )
    assert fsck.returncode == 0 and "dangling" not in fsck.stdout + fsck.stderr
    # Every edit that was answered 200 is in the final content, none other.
    for n in range(1, PEOPLE):
        text = (site.path / "people" / f"p{n:02d}.md").read_text()
        assert f"score: {n}\n" in text
    winning_score = winners[0][1]
    assert f"score: {winning_score}\n" in (site.path / "people" / "p00.md").read_text()
    history = git(site.path, "log", "--format=%an <%ae>|%cn", f"{start}..HEAD").splitlines()
    assert set(history) == {"Load Tester <load@example.org>|CMS"}
