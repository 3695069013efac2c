"""Scheduled publishing: kept as refs, carried out in the background, failures kept with
their reason, and once only with two replicas on one remote, across a restart."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.server import Server
from cms.auth import TokenStore
from tests.conftest import bearer, make_app

PEOPLE = "/api/v1/collections/personnes/entries"
DRAFT = "cms/personnes/ada"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def draft(client, admin: dict) -> None:
    assert client.post("/api/v1/branches", json={"name": DRAFT}, headers=admin).status_code == 201
    made = client.post(
        f"{PEOPLE}?branch={DRAFT}", json={"fields": {"title": "Ada", "role": "eig"}}, headers=admin
    )
    assert made.status_code == 201


def test_a_draft_is_published_when_its_time_comes(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i")
    client = app.test_client()
    admin = bearer(app, "admin", name="Ada Admin", email="ada@example.org")
    draft(client, admin)
    at = soon(1.5)
    made = client.post(f"/api/v1/branches/{DRAFT}/schedule", json={"at": at}, headers=admin)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["state"] == "pending" and made.get_json()["by"] == "Ada Admin"
    assert made.headers["Location"].endswith(f"/api/v1/schedules/{DRAFT}")
    listed = client.get("/api/v1/schedules", headers=bearer(app, "reader")).get_json()
    assert [s["branch"] for s in listed] == [DRAFT]
    head = sample_copy.head
    app.extensions["cms.background"].tick()
    assert sample_copy.head == head  # not yet
    time.sleep(1.6)
    app.extensions["cms.background"].tick()
    assert sample_copy.head == git(sample_copy.path, "rev-parse", DRAFT)  # a fast-forward
    assert client.get(PEOPLE + "/ada").status_code == 200
    assert client.get("/api/v1/schedules", headers=admin).get_json() == []
    assert git(sample_copy.path, "for-each-ref", "refs/cms/") == ""
    assert git(sample_copy.path, "status", "--porcelain") == ""


def test_schedules_are_checked_listed_and_cancelled(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i")
    client = app.test_client()
    admin = bearer(app, "admin")
    draft(client, admin)
    url = f"/api/v1/branches/{DRAFT}/schedule"
    for at in ("2026-12-24 08:00", "tomorrow", "2026-12-24T08:00:00"):
        answer = client.post(url, json={"at": at}, headers=admin)
        assert answer.status_code == 422, at
    assert client.post(url, json={"at": soon(60)}, headers=bearer(app)).status_code == 403
    assert (
        client.post(
            "/api/v1/branches/nope/schedule", json={"at": soon(60)}, headers=admin
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/branches/main/schedule", json={"at": soon(60)}, headers=admin
        ).status_code
        == 409
    )
    assert client.post(url, json={"at": soon(60)}, headers=admin).status_code == 201
    git(sample_copy.path, "fsck", "--strict", "--no-progress")  # every object it names is there
    assert client.post(url, json={"at": soon(30)}, headers=admin).status_code == 409
    one = f"/api/v1/schedules/{DRAFT}"
    assert client.get(one, headers=bearer(app, "reader")).status_code == 200
    assert client.get(one).status_code == 401
    assert client.delete(one, headers=bearer(app)).status_code == 403
    assert client.delete(one, headers=admin).status_code == 204
    assert client.get(one, headers=admin).status_code == 404
    assert client.delete(one, headers=admin).status_code == 404
    git(sample_copy.path, "fsck", "--strict", "--no-progress")


def test_a_schedule_that_cannot_publish_is_kept_as_failed(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i")
    client = app.test_client()
    admin = bearer(app, "admin")
    client.post("/api/v1/branches", json={"name": DRAFT}, headers=admin)
    path = "personnes/loup-theron.md"
    for branch, title in ((DRAFT, "Loup ici"), ("main", "Loup là")):
        current = client.get(f"{PEOPLE}/loup-theron?ref={branch}", headers=admin)
        changed = client.patch(
            f"{PEOPLE}/loup-theron?branch={branch}",
            json={"fields": {"title": title}},
            headers={**admin, "If-Match": current.headers["ETag"]},
        )
        assert changed.status_code == 200
    client.post(f"/api/v1/branches/{DRAFT}/schedule", json={"at": soon(-1)}, headers=admin)
    head = sample_copy.head
    for _ in range(3):
        app.extensions["cms.background"].tick()
    assert sample_copy.head == head
    (schedule,) = client.get("/api/v1/schedules", headers=admin).get_json()
    assert schedule["state"] == "failed" and "same files" in schedule["error"]
    assert path in git(sample_copy.path, "show", "HEAD", "--stat")


def test_once_with_two_replicas_and_across_a_restart(sample_repo, tmp_path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(sample_repo), str(remote)], check=True)
    servers, secrets, works = {}, {}, {}

    def start(name: str) -> Server:
        return Server(works[name], tmp_path / f"{name}-instance", workers=2, threads=2,
                      CMS_REMOTE=str(remote), CMS_SYNC_INTERVAL="1")  # fmt: skip

    for name in ("a", "b"):
        works[name] = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(remote), str(works[name])], check=True)
        _, secrets[name] = TokenStore(tmp_path / f"{name}-instance").create(
            f"Admin {name}", "admin", f"{name}@example.org"
        )
        servers[name] = start(name)

    def call(name: str, method: str, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {secrets[name]}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        return servers[name].request(method, path, data, headers)

    try:
        assert call("a", "POST", "/api/v1/branches", {"name": DRAFT})[0] == 201
        made = call(
            "a", "POST", f"{PEOPLE}?branch={DRAFT}", {"fields": {"title": "Ada", "role": "eig"}}
        )
        assert made[0] == 201
        # The published branch moves on meanwhile: the publish will be a merge commit.
        moved = call("b", "POST", PEOPLE, {"fields": {"title": "Grace", "role": "eig"}})
        assert moved[0] == 201
        scheduled = call("a", "POST", f"/api/v1/branches/{DRAFT}/schedule", {"at": soon(6)})
        assert scheduled[0] == 201, scheduled[2]
        servers["a"].stop()  # a restart: the schedule is a ref, on the remote too
        servers["a"] = start("a")
        # The replica that publishes pushes the merge, then removes the schedule: the other
        # one can fetch the merge in between and still hold the schedule until its next sync
        # (a second later). Both replicas are waited for, each listing no schedule.
        deadline = time.monotonic() + 30
        while True:
            listed = {n: json.loads(call(n, "GET", "/api/v1/schedules")[2]) for n in works}
            heads = {n: git(works[n], "rev-parse", "main") for n in works}
            settled = (
                git(remote, "for-each-ref", "refs/cms/") == ""
                and set(heads.values()) == {git(remote, "rev-parse", "main")}
                and listed == {n: [] for n in works}
            )
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert settled, (git(remote, "for-each-ref", "refs/cms/"), heads, listed)
    finally:
        for server in servers.values():
            server.stop()
    merges = git(remote, "log", "--merges", "--format=%an|%s", "main").splitlines()
    assert len(merges) == 1, merges
    assert merges[0].startswith(f"Admin a|Publish {DRAFT} (scheduled for ")
    assert git(remote, "ls-tree", "--name-only", "main", "personnes/ada.md") == "personnes/ada.md"
    for repo in (remote, works["a"], works["b"]):
        subprocess.run(["git", "fsck", "--no-progress"], cwd=repo, check=True, capture_output=True)
    combined = servers["a"].output + servers["b"].output
    assert combined.count("published cms/personnes/ada as scheduled") >= 1
