"""deploy/nginx.conf, run for real in front of a real server: the published branch's answers
are served from the cache and follow a new commit within a second or two, answers to a token
never touch the cache, a full sha's answer is kept."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cache_bench import need, nginx_config
from bench.server import Server, free_port
from tests.conftest import Site

ENTRY = "/api/v1/collections/pages/entries/accueil"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, dict(answer.headers), answer.read()


@pytest.fixture
def cache(sample_copy: Site, tmp_path: Path) -> Iterator[tuple[str, Server, Site]]:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        need("nginx")
    server = Server(sample_copy.path, tmp_path / "instance", CMS_REQUEST_LOG="false")
    # nginx's workers run as nginx's user: its files are where that user can reach them.
    folder = Path(tempfile.mkdtemp(prefix="cms-nginx-"))
    folder.chmod(0o755)
    (folder / "cache").mkdir(mode=0o777)
    (folder / "cache").chmod(0o777)
    port = free_port()
    config = nginx_config(folder, [server.port], port, free_port())
    subprocess.run(["nginx", "-c", str(config)], check=True)
    try:
        for _ in range(50):
            try:
                get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server, sample_copy
    finally:
        subprocess.run(["nginx", "-c", str(config), "-s", "stop"], check=False)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_cache_serves_the_published_branch_and_follows_commits(cache) -> None:
    base, _, site = cache
    _, first, body = get(base + ENTRY)
    assert first["X-Cache-Status"] == "MISS"
    _, again, same = get(base + ENTRY)
    assert again["X-Cache-Status"] == "HIT" and same == body
    path = site.path / "pages" / "accueil.md"
    text = path.read_text(encoding="utf-8")
    site.commit({"pages/accueil.md": text.replace("title: ", "title: Nouvel ", 1)}, "Edit")
    deadline = time.monotonic() + 5
    while b"Nouvel" not in body:
        assert time.monotonic() < deadline, "the cache did not follow the commit in 5 s"
        time.sleep(0.2)
        _, _, body = get(base + ENTRY)


def test_a_token_never_reads_nor_fills_the_cache(cache) -> None:
    base, server, _ = cache
    from cms.auth import TokenStore

    _, secret = TokenStore(Path(server.instance)).create("Reader", "reader")
    headers = {"Authorization": f"Bearer {secret}"}
    url = base + ENTRY + "?fields=title"
    _, answer, _ = get(url, headers)
    assert answer["X-Cache-Status"] == "BYPASS" and answer["Cache-Control"].startswith("private")
    _, anonymous, _ = get(url)
    assert anonymous["X-Cache-Status"] == "MISS"  # the token's answer was not stored


def test_a_full_sha_is_kept(cache) -> None:
    base, _, site = cache
    url = f"{base}{ENTRY}?ref={site.head}"
    get(url)
    _, answer, _ = get(url)
    assert answer["X-Cache-Status"] == "HIT" and "immutable" in answer["Cache-Control"]
