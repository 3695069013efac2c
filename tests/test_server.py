"""A real server process (`cms serve`, gunicorn) on the sample site, read over HTTP, and its docs
pages rendered in headless Chromium with every request off this machine refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from bench.server import Server
from cms.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def server(sample_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(sample_repo, tmp_path_factory.mktemp("server-instance"))
    yield running
    running.stop()


def test_home_page_over_http(server: Server, sample_repo: Path) -> None:
    status, headers, body = server.get("/api/v1/collections/pages/entries/accueil")
    assert status == 200
    entry = json.loads(body)
    with git.Repo(sample_repo) as repo:
        head = repo.head.commit.hexsha
    assert headers["X-Content-Commit"] == head
    assert headers["ETag"] == f'"{entry["version"]}"'
    assert entry["fields"]["intro"]["title"] == (
        "Nous facilitons le recrutement d'entrepreneur(e)s dans la fonction publique."
    )
    assert "d’intérêt général" in body.decode("utf-8")
    status, _, body = server.get(
        "/api/v1/collections/pages/entries/accueil", {"If-None-Match": headers["ETag"]}
    )
    assert (status, body) == (304, b"")


def test_errors_over_http_are_json(server: Server) -> None:
    status, headers, body = server.get("/api/v1/collections/pages/entries/..%2f..%2fetc%2fpasswd")
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == 404


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield launched
        launched.close()


def open_offline(browser, server: Server):
    """A page whose every request to another host is refused, and the list of those requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused: list[str] = []

    def route(route) -> None:
        if route.request.url.startswith(server.base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return context, context.new_page(), refused


@pytest.mark.browser
def test_swagger_ui_renders_offline(browser, server: Server) -> None:
    context, page, refused = open_offline(browser, server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.base + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = {p.strip() for p in page.locator(".opblock-summary-path").all_inner_texts()}
    _, _, spec = server.get("/api/v1/openapi.json")
    assert set(json.loads(spec)["paths"]) == paths  # every operation is shown
    assert page.locator(".info .title").inner_text().startswith("Git-backed CMS")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=True)
    assert refused == [] and errors == []
    context.close()


@pytest.mark.browser
def test_redoc_renders_offline(browser, server: Server) -> None:
    context, page, refused = open_offline(browser, server)
    page.goto(server.base + "/redoc")
    page.wait_for_selector("h2:has-text('Get one entry')", timeout=20_000)
    assert page.locator("h1").first.inner_text().startswith("Git-backed CMS")
    headings = page.locator("h2").all_inner_texts()
    assert {"List the collections", "List a collection's entries"} <= set(headings)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "redoc.png"), full_page=False)
    assert refused == []
    context.close()


def test_chromium_is_debian_s(browser) -> None:
    assert shutil.which("chromium") == CHROMIUM
