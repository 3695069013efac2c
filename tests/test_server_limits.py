"""Limits and start-up over a real server process (gunicorn): a chunked body over the limit,
servers that do not share a control socket, and workers that start at once."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.server import Server
from cms.auth import TokenStore
from cms.settings import PROJECT_ROOT
from cms.storage.seed import seed_repository


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    seed_repository(PROJECT_ROOT / "content", path)
    return path


def chunked_post(server: Server, path: str, body: bytes, headers: dict[str, str]):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.putrequest("POST", path)
    for key, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        connection.putheader(key, value)
    connection.endheaders()
    for start in range(0, len(body), 65536):
        chunk = body[start : start + 65536]
        connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def test_a_chunked_body_over_the_limit_is_a_413(site: Path, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    _, secret = TokenStore(instance).create("Éd", "editor", "ed@example.org")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    with Server(site, instance, CMS_MAX_BODY_BYTES="10000") as server:
        big = json.dumps({"fields": {"title": "x" * 20_000}}).encode()
        status, body = chunked_post(server, "/api/v1/collections/personnes/entries", big, headers)
        assert status == 413, body
        assert json.loads(body)["code"] == 413
        small = json.dumps({"fields": {"title": "Ada", "role": "eig"}}).encode()
        status, body = chunked_post(server, "/api/v1/collections/personnes/entries", small, headers)
        assert status == 201, body


def test_two_servers_share_no_control_socket(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    first = Server(site, tmp_path / "one", HOME=str(home))
    second = Server(site, tmp_path / "two", HOME=str(home))
    try:
        first.stop()
        assert second.get("/healthz")[0] == 200
        assert not (home / ".gunicorn").exists()
    finally:
        second.stop()


def test_workers_starting_at_once_open_the_caches(tmp_path: Path) -> None:
    """Six processes open a new parse cache at the same moment, ten times: none fails."""
    script = (
        "import sys, time; from cms.content.parsed import Documents; from pathlib import Path\n"
        "start = float(sys.argv[2])\n"
        "while time.time() < start: pass\n"
        "Documents(Path(sys.argv[1]), None).close()\n"
    )
    for round_ in range(10):
        path = tmp_path / f"documents-{round_}.sqlite"
        start = time.time() + 1.0
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path), str(start)],
                cwd=PROJECT_ROOT,
                stderr=subprocess.PIPE,
                env={**os.environ},
            )
            for _ in range(6)
        ]
        for process in processes:
            _, error = process.communicate(timeout=60)
            assert process.returncode == 0, error.decode()


def test_gunicorns_own_errors_are_json(site: Path, tmp_path: Path) -> None:
    with Server(site, tmp_path / "instance") as server:
        long_filter = "x" * 6000  # over gunicorn's default 4,094, under 8,190: served
        status, _, body = server.get(f"/api/v1/collections/personnes/entries?q={long_filter}")
        assert status == 400 and json.loads(body)["code"] == 400
        status, headers, body = server.get("/api/v1/collections?ref=" + "x" * 9000)
        assert status == 414
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {
            "code": 414,
            "status": "URI Too Long",
            "message": json.loads(body)["message"],
        }
