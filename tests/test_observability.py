"""Request ids, the JSON request log, /metrics and /api/v1/status: in the app, and in a real
`cms serve` with two workers whose metrics add up."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.server import Server
from tests.conftest import bearer, make_app


def log_lines(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return [line for line in found if "request_id" in line]


def test_the_request_id_is_kept_or_made(client) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "front-1234.abc"})
    assert given.headers["X-Request-Id"] == "front-1234.abc"
    for bad in ("two words", "x" * 200, "é"):
        made = client.get("/healthz", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])


def test_one_json_line_per_request_and_never_a_token(sample_repo, tmp_path, capsys) -> None:
    app = make_app(sample_repo, tmp_path / "instance")
    client = app.test_client()
    headers = {**bearer(app, "reader"), "X-Request-Id": "abc-1"}
    secret = headers["Authorization"].split()[1]
    capsys.readouterr()
    answer = client.get("/api/v1/collections/pages/entries/accueil?ref=main", headers=headers)
    client.post("/admin/login", data={"token": secret}, headers={"Origin": "http://localhost"})
    err = capsys.readouterr().err
    lines = log_lines(err)
    assert len(lines) == 2
    line = lines[0]
    assert line["method"] == "GET" and line["status"] == 200
    assert line["path"] == "/api/v1/collections/pages/entries/accueil"  # no query string
    assert line["request_id"] == "abc-1"
    assert line["commit"] == answer.headers["X-Content-Commit"]
    assert isinstance(line["duration_ms"], float) and line["time"]
    assert secret not in err and secret.split("_", 2)[2] not in err


def test_the_log_can_be_turned_off(sample_repo, tmp_path, capsys) -> None:
    app = make_app(sample_repo, tmp_path / "instance", CMS_REQUEST_LOG=False)
    capsys.readouterr()
    app.test_client().get("/healthz")
    assert log_lines(capsys.readouterr().err) == []


def test_metrics_by_route_with_git_and_index_timings(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "instance")
    client = app.test_client()
    for slug in ("accueil", "programme", "candidats"):
        client.get(f"/api/v1/collections/pages/entries/{slug}")
    client.get("/api/v1/collections/personnes/entries?sort=title")
    text = client.get("/metrics").get_data(as_text=True)
    route = 'url_rule="/api/v1/collections/<string:collection>/entries/<entry:slug>"'
    counts = [line for line in text.splitlines() if line.startswith("cms_http_request_duration")]
    assert any(
        route in line
        and line.startswith("cms_http_request_duration_seconds_count")
        and line.endswith(" 3.0")
        for line in counts
    ), counts
    assert "accueil" not in text  # one series per route, not per URL
    assert re.search(r'cms_index_query_seconds_count\{query="query"\} [1-9]', text)


def test_a_write_records_its_lock_wait_and_git_processes(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    version = client.get("/api/v1/collections/pages/entries/accueil").get_json()["version"]
    client.patch(
        "/api/v1/collections/pages/entries/accueil",
        json={"fields": {"title": "Accueil"}},
        headers={**bearer(app), "If-Match": f'"{version}"'},
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'cms_write_lock_wait_seconds_count\{lock="write"\} [1-9]', text)
    assert re.search(r'cms_git_seconds_count\{command="update-ref"\} [1-9]', text)


def test_status(client, sample_repo) -> None:
    answer = client.get("/api/v1/status")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["published_branch"] == "main" and len(body["head"]) == 40
    assert body["collections"]["personnes"] == 8 and body["collections"]["pages"] == 3
    assert body["drafts"] == 0 and body["remote"] is None and body["version"]
    assert set(body["index"]) == {"built", "commit", "current", "entries"}


def test_status_follows_public_read(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "instance", CMS_PUBLIC_READ=False)
    assert app.test_client().get("/api/v1/status").status_code == 401
    assert app.test_client().get("/api/v1/status", headers=bearer(app, "reader")).status_code == 200


def test_a_real_server_adds_up_its_workers_and_logs_json(sample_repo, tmp_path) -> None:
    server = Server(sample_repo, tmp_path / "instance", workers=2, threads=2)
    try:
        for _ in range(40):
            status, _, _ = server.get("/api/v1/collections/pages/entries/accueil")
            assert status == 200
        _, _, body = server.get("/metrics")
        text = body.decode()
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("cms_http_request_duration_seconds_count") and "<entry:slug>" in line
        )
        assert total == 40
        assert (Path(tmp_path / "instance" / "metrics")).is_dir()
    finally:
        server.stop()
    lines = [line for line in log_lines(server.output) if line["path"].endswith("/accueil")]
    assert len(lines) == 40 and {line["status"] for line in lines} == {200}
