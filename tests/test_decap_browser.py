"""The real Decap CMS app (the pinned npm release, served at /admin/) editing the sample site
through this server, in headless Chromium, with every request off this machine refused."""

from __future__ import annotations

import struct
import subprocess
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import Server
from cms.auth import TokenStore
from cms.storage.seed import seed_repository
from cms.vendor import install
from tests.test_server import ARTIFACTS, browser, open_offline  # noqa: F401 (a fixture)

NEWS = "2018-01-16-deuxieme-promotion"
NEWS_PATH = f"actualites/{NEWS}.md"
TITLE = "Une 2ème promotion d’entrepreneurs d’intérêt général est arrivée !"


def png(width: int, height: int) -> bytes:
    rows = b"".join(b"\x00" + bytes([200, 60, 90]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return done.stdout


class Editor:
    def __init__(self, tmp_path: Path, workflow: bool, role: str) -> None:
        install()  # the app's files (a no-op when `make` installed them)
        self.repo = tmp_path / "site"
        seed_repository(Path(__file__).resolve().parent.parent / "content", self.repo)
        if workflow:
            config = self.repo / "admin" / "config.yml"
            text = config.read_text(encoding="utf-8")
            config.write_text(
                text.replace("locale: fr\n", "locale: fr\npublish_mode: editorial_workflow\n"),
                encoding="utf-8",
            )
            git(self.repo, "commit", "-qam", "Use the editorial workflow")
        instance = tmp_path / "instance"
        instance.mkdir()
        names = {"editor": "Camille Martin", "admin": "Ada Admin"}
        _, self.secret = TokenStore(instance).create(names[role], role, f"{role}@example.org")
        self.name = names[role]
        self.server = Server(self.repo, instance)

    def head(self) -> str:
        return git(self.repo, "rev-parse", "main").strip()


@pytest.fixture
def simple(tmp_path: Path) -> Iterator[Editor]:
    editor = Editor(tmp_path, workflow=False, role="editor")
    yield editor
    editor.server.stop()


@pytest.fixture
def workflow(tmp_path: Path) -> Iterator[Editor]:
    editor = Editor(tmp_path, workflow=True, role="admin")
    yield editor
    editor.server.stop()


def sign_in(page, editor: Editor) -> None:
    page.goto(editor.server.base + "/admin/")
    page.fill("#token", editor.secret)
    page.click("button[type=submit]")
    page.get_by_role("button", name="Se connecter").click()  # Decap's own login step


def open_news(page, editor: Editor):
    page.goto(f"{editor.server.base}/admin/#/collections/actualites/entries/{NEWS}")
    title = page.locator("input").first
    title.wait_for(timeout=20_000)
    return title


def wait_for(page, condition, seconds: float = 20) -> None:
    """Wait in Playwright (its request routing runs only while it is called), not in sleep."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def changed_lines(repo: Path, commit: str) -> list[str]:
    diff = git(repo, "show", "--format=", "--unified=0", commit, "--", NEWS_PATH)
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.mark.browser
def test_an_editor_changes_one_field_and_uploads_an_image(browser, simple: Editor) -> None:  # noqa: F811
    context, page, refused = open_offline(browser, simple.server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, simple)
    page.wait_for_selector("text=Actualités", timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "decap-collections.png"))
    before = simple.head()

    # One field changed and saved: one commit, whose diff is that field's lines.
    title = open_news(page, simple)
    title.fill(TITLE)
    page.get_by_role("button", name="Publier").first.click()
    page.get_by_text("Publier maintenant").click()
    page.wait_for_selector("text=Entrée enregistrée", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "decap-saved.png"))
    commits = git(simple.repo, "rev-list", f"{before}..main").split()
    assert len(commits) == 1
    assert git(simple.repo, "log", "-1", "--format=%an <%ae>", "main").strip() == (
        "Camille Martin <editor@example.org>"
    )
    assert changed_lines(simple.repo, "main") == [
        "-title: Une 2ème promotion d’entrepreneurs d’intérêt général entre aujourd’hui dans",
        "-  l’administration !",
        f"+title: {TITLE}",
    ]
    assert git(simple.repo, "status", "--porcelain") == ""

    # An image uploaded into the entry: in media_folder, served at its public URL.
    image = png(64, 40)
    upload = simple.repo.parent / "photo-promo.png"
    upload.write_bytes(image)
    before = simple.head()
    page.get_by_role("button", name="Ajouter une ou diaporama").click()
    page.get_by_role("button", name="Choisir une image").last.click()
    page.locator("input[type=file]").last.set_input_files(str(upload))
    page.get_by_role("button", name="Choisir les éléments sélectionnés").click()
    page.get_by_label("Texte alternatif").last.fill("Photo de la promotion")
    page.get_by_role("button", name="Publier").first.click()
    page.get_by_text("Publier maintenant").click()
    wait_for(page, lambda: simple.head() != before)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "decap-image.png"))
    added = git(simple.repo, "log", "--format=", "--name-status", f"{before}..main").split()
    assert "static/img/photo-promo.png" in added, added
    text = git(simple.repo, "show", f"main:{NEWS_PATH}")
    assert "/img/photo-promo.png" in text
    with urllib.request.urlopen(simple.server.base + "/img/photo-promo.png") as served:
        assert served.read() == image
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["ETag"]
    assert refused == [] and errors == []
    context.close()


@pytest.mark.browser
def test_the_editorial_workflow_in_the_app(browser, workflow: Editor) -> None:  # noqa: F811
    context, page, refused = open_offline(browser, workflow.server)
    sign_in(page, workflow)
    published = workflow.head()
    title = open_news(page, workflow)
    title.fill("Une 2ème promotion (brouillon)")
    page.get_by_role("button", name="Enregistrer").first.click()
    page.wait_for_selector("text=Entrée enregistrée", timeout=20_000)
    draft = f"cms/actualites/{NEWS}"
    assert workflow.head() == published  # saved as a draft, nothing published
    assert git(workflow.repo, "config", f"branch.{draft}.description").strip() == (
        "decap-cms/draft"
    )
    page.get_by_role("button", name="Statut: Brouillon").click()
    page.get_by_role("menuitem", name="Prêt").click()
    page.wait_for_timeout(1000)
    assert git(workflow.repo, "config", f"branch.{draft}.description").strip() == (
        "decap-cms/pending_publish"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "decap-workflow-ready.png"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Publish this entry?"
    page.get_by_role("button", name="Publier").first.click()
    page.get_by_text("Publier maintenant").click()
    page.wait_for_selector("text=Entrée publiée", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "decap-workflow-published.png"))
    assert draft not in git(workflow.repo, "branch", "--list", draft)
    assert "title: Une 2ème promotion (brouillon)" in git(
        workflow.repo, "show", f"main:{NEWS_PATH}"
    )
    assert git(workflow.repo, "log", "-1", "--format=%an", "main").strip() == "Ada Admin"
    assert refused == []
    context.close()


def test_the_app_is_served_compressed_and_immutable(simple: Editor) -> None:
    from cms.vendor import DECAP_VERSION

    request = urllib.request.Request(
        f"{simple.server.base}/admin/decap-{DECAP_VERSION}/decap-cms.js",
        headers={"Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
        assert response.headers["Content-Encoding"] == "gzip"
        assert "immutable" in response.headers["Cache-Control"]
    assert len(body) < 2_000_000  # 5.2 MB uncompressed
