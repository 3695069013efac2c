"""Decap's i18n, in its three structures: reads, lists and search in a locale (untranslated
fields from the default locale), writes to a locale's file or key, and the config checks."""

from __future__ import annotations

import pytest

from cms.errors import ConfigError
from cms.model import load_model
from tests.conftest import bearer, make_app

CONFIG = """
i18n:
  structure: {structure}
  locales: [fr, en]
  default_locale: fr
collections:
  - name: posts
    label: Posts
    folder: posts
    create: true
    i18n: true
    fields:
      - {{name: title, label: Title, i18n: true}}
      - {{name: date, label: Date, widget: datetime}}
      - {{name: tags, label: Tags, widget: list, i18n: duplicate, required: false}}
      - {{name: body, label: Body, widget: markdown, i18n: true}}
  - name: plain
    label: Plain
    folder: plain
    fields:
      - {{name: title, label: Title}}
"""
FR = "---\ntitle: Bonjour\ndate: 2024-01-02\ntags: [a]\n---\nCorps français.\n"
EN = "---\ntitle: Hello\ntags: [b]\n---\nEnglish body.\n"
SINGLE = (
    "---\nfr:\n  title: Bonjour\n  date: 2024-01-02\n  tags: [a]\n  body: Corps français.\n"
    "en:\n  title: Hello\n  tags: [b]\n  body: English body.\n---\n"
)
LAYOUTS = {
    "multiple_folders": {"posts/fr/hello.md": FR, "posts/en/hello.md": EN, "posts/fr/seul.md": FR},
    "multiple_files": {"posts/hello.fr.md": FR, "posts/hello.en.md": EN, "posts/seul.fr.md": FR},
    "single_file": {"posts/hello.md": SINGLE, "posts/seul.md": SINGLE.split("en:")[0] + "---\n"},
}
ENGLISH_FILE = {
    "multiple_folders": "posts/en/hello.md",
    "multiple_files": "posts/hello.en.md",
    "single_file": "posts/hello.md",
}


@pytest.fixture(params=sorted(LAYOUTS))
def site(request, make_site, tmp_path):
    structure = request.param
    files = {"admin/config.yml": CONFIG.format(structure=structure), **LAYOUTS[structure]}
    files["plain/x.md"] = "---\ntitle: X\n---\n"
    repo = make_site(files)
    app = make_app(repo.path, tmp_path / "instance")
    return structure, repo, app, app.test_client()


URL = "/api/v1/collections/posts/entries"


def test_reads_lists_and_search_in_a_locale(site) -> None:
    structure, _, _, client = site
    listed = client.get(URL).get_json()
    assert [e["slug"] for e in listed] == ["hello", "seul"]  # one entry per slug
    assert {e["locale"] for e in listed} == {"fr"}
    hello = client.get(f"{URL}/hello").get_json()
    assert hello["fields"] == {"title": "Bonjour", "date": "2024-01-02", "tags": ["a"]}
    assert hello["body"].strip() == "Corps français."
    assert hello["problems"] == []
    english = client.get(f"{URL}/hello?locale=en").get_json()
    assert english["locale"] == "en"
    # translated and duplicated fields from English, the date (i18n: none) from French
    assert english["fields"] == {"title": "Hello", "date": "2024-01-02", "tags": ["b"]}
    assert english["body"].strip() == "English body."
    assert english["path"] == ENGLISH_FILE[structure]
    assert client.get(f"{URL}/seul?locale=en").status_code == 404
    in_english = client.get(f"{URL}?locale=en").get_json()
    assert [(e["slug"], e["locale"]) for e in in_english] == [("hello", "en"), ("seul", "fr")]
    assert in_english[0]["fields"]["title"] == "Hello"
    hits = client.get("/api/v1/search?q=bonjour&locale=en").get_json()
    assert {(h["slug"], h["title"], h["locale"]) for h in hits} == {
        ("hello", "Hello", "en"),
        ("seul", "Bonjour", "fr"),  # no English: the French values, and says so
    }
    assert client.get(f"{URL}/hello?locale=de").status_code == 400
    assert client.get("/api/v1/collections/plain/entries/x?locale=en").status_code == 400
    described = client.get("/api/v1/collections/posts").get_json()
    assert described["i18n"] == {
        "structure": structure,
        "locales": ["fr", "en"],
        "default_locale": "fr",
    }


def test_writes_in_a_locale(site) -> None:
    structure, repo, app, client = site
    editor = bearer(app)
    english = client.get(f"{URL}/hello?locale=en")
    changed = client.patch(
        f"{URL}/hello?locale=en",
        json={"fields": {"title": "Hello again"}, "body": "New English body.\n"},
        headers={**editor, "If-Match": english.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["locale"] == "en"
    text = (repo.path / ENGLISH_FILE[structure]).read_text(encoding="utf-8")
    assert "Hello again" in text and "New English body." in text
    assert "date" not in text.split("en:")[-1]  # the untranslated date stays in French only
    french = client.get(f"{URL}/hello").get_json()
    assert french["fields"]["title"] == "Bonjour"
    assert french["body"].strip() == "Corps français."
    again = client.get(f"{URL}/hello?locale=en")
    refused = client.patch(
        f"{URL}/hello?locale=en",
        json={"fields": {"date": "2025-01-01"}},
        headers={**editor, "If-Match": again.headers["ETag"]},
    )
    assert refused.status_code == 422
    assert "not translated" in refused.get_json()["message"]
    fr = client.get(f"{URL}/hello")
    moved = client.patch(
        f"{URL}/hello",
        json={"fields": {"date": "2025-01-01"}},
        headers={**editor, "If-Match": fr.headers["ETag"]},
    )
    assert moved.status_code == 200
    assert client.get(f"{URL}/hello?locale=en").get_json()["fields"]["date"] == "2025-01-01"
    created = client.post(
        URL,
        json={"slug": "neuf", "fields": {"title": "Neuf", "date": "2024-05-01"}, "body": "N.\n"},
        headers=editor,
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["fields"]["title"] == "Neuf"
    current = client.get(f"{URL}/hello")
    gone = client.delete(f"{URL}/hello", headers={**editor, "If-Match": current.headers["ETag"]})
    assert gone.status_code == 204
    assert not (repo.path / ENGLISH_FILE[structure]).exists()
    assert repo.repo.git.status("--porcelain") == ""


@pytest.mark.parametrize(
    ("i18n", "problem"),
    [
        ("{structure: nested, locales: [fr]}", "structure"),
        ("{structure: single_file, locales: []}", "locales"),
        ("{structure: single_file, locales: [fr], default_locale: en}", "default_locale"),
    ],
)
def test_a_broken_i18n_config_names_the_problem(i18n, problem) -> None:
    text = f"i18n: {i18n}\ncollections:\n  - {{name: p, folder: p, i18n: true, fields: []}}\n"
    with pytest.raises(ConfigError, match=problem):
        load_model(text, "admin/config.yml")


def test_collection_i18n_true_needs_a_top_level_i18n() -> None:
    text = "collections:\n  - {name: p, folder: p, i18n: true, fields: []}\n"
    with pytest.raises(ConfigError, match="top-level"):
        load_model(text, "admin/config.yml")


FILES = """
i18n: {structure: single_file, locales: [en, de]}
collections:
  - name: pages
    label: Pages
    i18n: true
    files:
      - name: about
        label: About
        file: site/about.yml
        i18n: true
        fields: [{name: title, label: Title, i18n: true}]
      - name: settings
        label: Settings
        file: site/settings.yml
        fields: [{name: title, label: Title}]
"""


def test_a_file_of_a_file_collection_is_localized_only_with_its_own_i18n(make_site, tmp_path):
    repo = make_site(
        {
            "admin/config.yml": FILES,
            "site/about.yml": "en:\n  title: About\nde:\n  title: Über uns\n",
            "site/settings.yml": "title: Settings\n",
        }
    )
    client = make_app(repo.path, tmp_path / "i").test_client()
    base = "/api/v1/collections/pages/entries"
    assert client.get(f"{base}/about").get_json()["fields"] == {"title": "About"}
    assert client.get(f"{base}/about?locale=de").get_json()["fields"] == {"title": "Über uns"}
    settings = client.get(f"{base}/settings").get_json()
    assert settings["fields"] == {"title": "Settings"} and "locale" not in settings
    assert client.get(f"{base}/settings?locale=de").status_code == 400


# -- saves through Decap's editor (its proxy protocol) ----------------------------------------

NEW_FR = "---\ntitle: Nouveau\ndate: 2024-03-01\n---\nTexte.\n"
NEW_EN = "---\ntitle: New\n---\nText.\n"
NEW_FILES = {
    "multiple_folders": {"posts/fr/nouveau.md": NEW_FR, "posts/en/nouveau.md": NEW_EN},
    "multiple_files": {"posts/nouveau.fr.md": NEW_FR, "posts/nouveau.en.md": NEW_EN},
    "single_file": {
        "posts/nouveau.md": "---\nfr:\n  title: Nouveau\n  date: 2024-03-01\n  body: Texte.\n"
        "en:\n  title: New\n  body: Text.\n---\n"
    },
}


def decap_save(app, files: dict[str, str], status: int = 200):
    from tests.test_decap_proxy import Proxy

    return Proxy(app)(
        "persistEntry",
        status,
        dataFiles=[{"slug": "x", "path": path, "raw": raw} for path, raw in files.items()],
        assets=[],
        options={"commitMessage": "Save", "useWorkflow": False, "status": "draft"},
    )


def test_decap_creates_an_entry_in_every_locale(site) -> None:
    structure, repo, app, client = site
    decap_save(app, NEW_FILES[structure])
    assert sorted(repo.repo.commit("main").stats.files) == sorted(NEW_FILES[structure])
    english = client.get("/api/v1/collections/posts/entries/nouveau?locale=en").get_json()
    assert english["fields"]["title"] == "New" and english["fields"]["date"] == "2024-03-01"
    assert english["problems"] == []


def test_decap_changes_one_translation(site) -> None:
    structure, repo, app, client = site
    path = ENGLISH_FILE[structure]
    text = repo.repo.git.show(f"main:{path}") + "\n"
    decap_save(app, {path: text.replace("title: Hello", "title: Hi")})
    diff = repo.repo.git.show("--format=", "--unified=0", "main")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert [line[0] + line[1:].strip() for line in changed] == ["-title: Hello", "+title: Hi"]
    english = client.get("/api/v1/collections/posts/entries/hello?locale=en").get_json()
    assert english["fields"]["title"] == "Hi"


def test_decap_refuses_a_translation_that_breaks_the_model(site) -> None:
    structure, repo, app, _ = site
    before = repo.head
    bad = {
        "multiple_folders": {"posts/en/hello.md": "---\ntitle: [1, 2]\n---\n"},
        "multiple_files": {"posts/hello.en.md": "---\ntitle: [1, 2]\n---\n"},
        "single_file": {"posts/hello.md": SINGLE.replace("title: Hello", "title: [1, 2]")},
    }[structure]
    answer = decap_save(app, bad, status=422)
    assert "title" in answer["error"]
    assert repo.repo.rev_parse("main").hexsha == before
