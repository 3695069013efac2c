"""The example front end (examples/frontend) in headless Chromium, talking to a real server
from another origin (CORS), with every request off this machine refused."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import Server, free_port
from cms.auth import TokenStore
from cms.settings import PROJECT_ROOT
from tests.test_server import ARTIFACTS, browser  # noqa: F401 (a fixture)

FRONTEND = PROJECT_ROOT / "examples" / "frontend"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sites(sample_copy, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    handler = functools.partial(Quiet, directory=FRONTEND)
    static = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=static.serve_forever, daemon=True)
    thread.start()
    # A draft of the home page, to preview with a reader token.
    site = sample_copy
    site.repo.git.checkout("-q", "-b", "cms/pages/accueil")
    text = (site.path / "pages" / "accueil.md").read_text(encoding="utf-8")
    site.commit({"pages/accueil.md": text.replace("title: Page d'accueil", "title: Accueil 2027")})
    site.repo.git.checkout("-q", "main")
    server = Server(site.path, tmp_path / "instance", CMS_CORS_ORIGINS=origin)
    try:
        yield f"{origin}/?api={server.base}", tmp_path / "instance"
    finally:
        server.stop()
        static.shutdown()
        static.server_close()


@pytest.mark.browser
def test_the_example_front_end_renders_the_sample(browser, sites) -> None:  # noqa: F811
    url, instance = sites
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    refused: list[str] = []

    def route(request_route) -> None:
        if request_route.request.url.startswith("http://127.0.0.1:"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/api/v1/" in r.url else None)
    page.goto(url)
    page.get_by_role("heading", level=1).wait_for(timeout=20_000)
    assert page.get_by_role("heading", level=1).inner_text() == "Page d'accueil"
    page.get_by_text("Hugo Stéphan").wait_for()  # a person of the expanded relation
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "example-home.png"), full_page=True)
    page.reload()  # the same answer again: revalidated with If-None-Match
    page.get_by_text("304 revalidated").wait_for(timeout=10_000)
    assert 304 in answers
    page.goto(url + "&view=news")
    page.get_by_role("link", name="Une 2ème promotion").click()
    page.get_by_text("Après le succès de la première promotion").wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "example-post.png"), full_page=False)
    # A draft, previewed with a reader token and its branch.
    _, secret = TokenStore(instance).create("Preview", "reader")
    page.goto(url)
    page.fill("input[name=token]", secret)
    page.fill("input[name=ref]", "cms/pages/accueil")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="Accueil 2027").wait_for(timeout=10_000)
    assert refused == [] and errors == []
    context.close()
