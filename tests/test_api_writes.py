"""Writes over HTTP on real repositories: every status, and the repository checked after each
(one new commit for a success, none for a failure, `git status` clean, `git fsck` clean)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from cms.storage import faults
from tests.conftest import bearer, make_app

NEWS = "/api/v1/collections/actualites/entries"
NEWS_ONE = NEWS + "/2018-01-16-deuxieme-promotion"
HOME = "/api/v1/collections/pages/entries/accueil"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


class Repo:
    """What a test checks of the repository around a request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.before = self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD").strip()

    def commits_since_start(self) -> list[str]:
        return git(self.path, "rev-list", f"{self.before}..HEAD").split()

    def assert_clean(self) -> None:
        assert git(self.path, "status", "--porcelain") == ""
        fsck = subprocess.run(
            ["git", "fsck", "--strict", "--no-progress"],
            cwd=self.path,
            capture_output=True,
            text=True,
            check=False,
        )
        # Objects of a refused write may stay unreachable (`git gc` prunes them); nothing
        # a ref, a reflog or the index names may be missing.
        assert fsck.returncode == 0, fsck.stderr
        assert "missing" not in fsck.stdout + fsck.stderr
        leftovers = list((self.path / ".git" / "objects").glob("incoming-*"))
        assert leftovers == []

    def assert_unchanged(self) -> None:
        assert self.head() == self.before
        self.assert_clean()

    def assert_one_commit(self) -> str:
        commits = self.commits_since_start()
        assert len(commits) == 1, commits
        self.assert_clean()
        self.before = commits[0]
        return commits[0]


@pytest.fixture
def site(sample_copy, tmp_path):
    app = make_app(sample_copy.path, tmp_path / "instance")
    return app, app.test_client(), Repo(sample_copy.path)


NEW_POST = {
    "fields": {
        "title": "Une 8ème promotion d’entrepreneur(e)s d’intérêt général",
        "date": "2024-09-02 09:00:00 +02:00",
        "tags": ["promotion"],
    },
    "body": "Le programme accueille sa **8ème promotion**.\n",
}


def test_create_commits_one_decap_style_file(site) -> None:
    app, client, repo = site
    headers = bearer(app, "editor", "Éditrice Test", "ed@example.org")
    response = client.post(NEWS, json=NEW_POST, headers=headers)
    assert response.status_code == 201, response.get_json()
    entry = response.get_json()
    slug = entry["slug"]
    # Decap's rules: lower case, apostrophes dropped, other characters outside a URI (the
    # brackets here) replaced by "-", accents kept (slug.encoding: unicode).
    assert slug.split("-", 3)[3] == "une-8ème-promotion-dentrepreneur-e-s-dintérêt-général"
    commit = repo.assert_one_commit()
    assert response.headers["X-Content-Commit"] == commit
    assert response.headers["ETag"] == f'"{entry["version"]}"'
    assert response.headers["Location"] == f"{NEWS}/{quote(slug)}"
    assert entry["fields"] == NEW_POST["fields"]
    assert entry["body"] == NEW_POST["body"]
    log = git(repo.path, "log", "-1", "--format=%an|%ae|%cn|%ce|%s")
    assert (
        log.strip() == f"Éditrice Test|ed@example.org|CMS|cms@localhost|Create Actualité “{slug}”"
    )
    text = (repo.path / "actualites" / f"{slug}.md").read_text(encoding="utf-8")
    assert text == (
        "---\n"
        "title: Une 8ème promotion d’entrepreneur(e)s d’intérêt général\n"
        "date: 2024-09-02 09:00:00 +02:00\n"
        "tags:\n"
        "  - promotion\n"
        "---\n"
        "Le programme accueille sa **8ème promotion**.\n"
    )
    assert client.get(response.headers["Location"]).get_json()["fields"] == NEW_POST["fields"]


def test_create_with_a_taken_slug(site) -> None:
    app, client, repo = site
    headers = bearer(app)
    payload = {**NEW_POST, "slug": "2018-01-16-deuxieme-promotion"}
    response = client.post(NEWS, json=payload, headers=headers)
    assert response.status_code == 409
    repo.assert_unchanged()
    person = {"fields": {"title": "Hugo Stéphan", "role": "eig"}}
    first = client.post("/api/v1/collections/personnes/entries", json=person, headers=headers)
    assert first.status_code == 201
    assert first.get_json()["slug"] == "hugo-stéphan-1"
    second = client.post("/api/v1/collections/personnes/entries", json=person, headers=headers)
    assert second.get_json()["slug"] == "hugo-stéphan-2"
    assert len(repo.commits_since_start()) == 2
    repo.assert_clean()


@pytest.mark.parametrize(
    "slug", ["../evil", "..", ".git", "a/b", "-rf", "a\\b", "nul\x00", ".hidden", "x" * 300, " a"]
)
def test_create_with_a_hostile_slug_is_400(site, slug: str) -> None:
    app, client, repo = site
    response = client.post(NEWS, json={**NEW_POST, "slug": slug}, headers=bearer(app))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"]["slug"]
    repo.assert_unchanged()


def test_create_rejects_a_body_that_breaks_the_model(site) -> None:
    app, client, repo = site
    payload = {"fields": {"title": "", "date": "hier", "tags": "une", "couleur": "bleu"}}
    response = client.post(NEWS, json=payload, headers=bearer(app))
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert errors["fields"] == {
        "title": ["is required"],
        "date": ["must be a date in the format YYYY-MM-DD HH:mm:ss Z, not 'hier'"],
        "tags": ["must be a list, not a string"],
        "couleur": ["is not a field of this collection"],
    }
    assert errors["body"] == ["is required"]
    repo.assert_unchanged()


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"fields": {"title": "\xff"}}', "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'{"fields": "x"}', "application/json", 422),
        (b'{"fields": {}, "extra": 1}', "application/json", 422),
        (b'{"fields": null}', "application/json", 422),
    ],
)
def test_malformed_bodies(site, data: bytes, content_type: str, status: int) -> None:
    app, client, repo = site
    response = client.post(NEWS, data=data, content_type=content_type, headers=bearer(app))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == status
    repo.assert_unchanged()


def test_a_body_that_is_not_json_is_415(site) -> None:
    app, client, repo = site
    data = json.dumps(NEW_POST)
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post(NEWS, data=data, content_type=content_type, headers=bearer(app))
        assert response.status_code == 415
        assert "application/json" in response.get_json()["message"]
    merge = client.get(NEWS_ONE).headers["ETag"]
    response = client.patch(
        NEWS_ONE,
        data=json.dumps({"fields": {"title": "Titre"}}),
        content_type="application/merge-patch+json",
        headers={**bearer(app), "If-Match": merge},
    )
    assert response.status_code == 200  # a +json type is JSON
    repo.assert_one_commit()


def test_oversized_body_is_413(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i", CMS_MAX_BODY_BYTES="2048")
    repo = Repo(sample_copy.path)
    payload = {**NEW_POST, "body": "x" * 5000}
    response = app.test_client().post(NEWS, json=payload, headers=bearer(app))
    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    repo.assert_unchanged()


def test_auth(site) -> None:
    app, client, repo = site
    response = client.post(NEWS, json=NEW_POST)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cms"'
    assert (
        client.post(NEWS, json=NEW_POST, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert (
        client.post(NEWS, json=NEW_POST, headers={"Authorization": "Basic eDp5"}).status_code == 401
    )
    reader = bearer(app, "reader")
    assert client.post(NEWS, json=NEW_POST, headers=reader).status_code == 403
    # A malformed body from an anonymous caller is still a 401: auth comes first.
    assert client.post(NEWS, data=b"{", content_type="application/json").status_code == 401
    repo.assert_unchanged()
    assert client.post(NEWS, json=NEW_POST, headers=bearer(app, "admin")).status_code == 201


def test_file_collections_can_be_updated_not_created_or_deleted(site) -> None:
    app, client, repo = site
    headers = bearer(app)
    created = client.post(
        "/api/v1/collections/pages/entries", json={"fields": {"title": "x"}}, headers=headers
    )
    assert created.status_code == 405
    version = client.get(HOME).headers["ETag"]
    deleted = client.delete(HOME, headers={**headers, "If-Match": version})
    assert deleted.status_code == 405
    repo.assert_unchanged()


def test_if_match_is_required_and_checked(site) -> None:
    app, client, repo = site
    headers = bearer(app)
    patch = {"fields": {"title": "La 2ème promotion"}}
    assert client.patch(NEWS_ONE, json=patch, headers=headers).status_code == 428
    assert client.delete(NEWS_ONE, headers=headers).status_code == 428
    stale = {**headers, "If-Match": '"0123456789abcdef0123456789abcdef01234567"'}
    response = client.patch(NEWS_ONE, json=patch, headers=stale)
    assert response.status_code == 412
    assert response.get_json()["errors"]["version"] == client.get(NEWS_ONE).get_json()["version"]
    assert client.delete(NEWS_ONE, headers=stale).status_code == 412
    repo.assert_unchanged()
    missing = {**headers, "If-Match": "*"}
    assert client.patch(NEWS + "/absente", json=patch, headers=missing).status_code == 404
    assert client.patch(NEWS_ONE + "?branch=nope", json=patch, headers=missing).status_code == 404
    repo.assert_unchanged()


def test_patch_changes_only_the_lines_of_that_field(site) -> None:
    app, client, repo = site
    current = client.get(HOME)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    patch = {"fields": {"hero": {"btn": {"url": "/participer/candidats/"}}}}
    response = client.patch(HOME, json=patch, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["fields"]["hero"]["btn"]["url"] == "/participer/candidats/"
    assert response.headers["ETag"] != current.headers["ETag"]
    commit = repo.assert_one_commit()
    assert response.headers["X-Content-Commit"] == commit
    diff = git(repo.path, "diff", "--unified=0", f"{commit}~1", commit)
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        "-    url: https://www.eig.numerique.gouv.fr/participer/candidats/",
        "+    url: /participer/candidats/",
    ]
    # Decap's default message names the collection by its label_singular.
    assert git(repo.path, "log", "-1", "--format=%s").strip() == "Update Page “accueil”"


def test_put_replaces_and_keeps_untouched_lines(site) -> None:
    app, client, repo = site
    current = client.get(NEWS_ONE)
    entry = current.get_json()
    fields = dict(entry["fields"])
    fields["tags"] = [*fields["tags"], "promotion"]
    body = entry["body"].replace("11 entrepreneurs", "11 entrepreneur(e)s")
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    payload = {"fields": fields, "body": body, "message": "Ajoute une étiquette"}
    response = client.put(NEWS_ONE, json=payload, headers=headers)
    assert response.status_code == 200, response.get_json()
    commit = repo.assert_one_commit()
    assert git(repo.path, "log", "-1", "--format=%s").strip() == "Ajoute une étiquette"
    diff = git(repo.path, "diff", "--unified=0", f"{commit}~1", commit)
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed[0] == "+- promotion"  # this file writes lists flush with their key
    assert len([c for c in changed if c.startswith("-")]) == 1  # the one body line
    # The same content again: no commit, the entry as it is.
    again = client.put(
        NEWS_ONE, json=payload, headers={**headers, "If-Match": response.headers["ETag"]}
    )
    assert again.status_code == 200
    assert repo.commits_since_start() == []


def test_delete(site) -> None:
    app, client, repo = site
    url = "/api/v1/collections/personnes/entries/" + quote("thaïs-coutinho")
    version = client.get(url).headers["ETag"]
    response = client.delete(url, headers={**bearer(app), "If-Match": version})
    assert response.status_code == 204
    assert response.data == b""
    commit = repo.assert_one_commit()
    assert response.headers["X-Content-Commit"] == commit
    assert not (repo.path / "personnes" / "thaïs-coutinho.md").exists()
    assert client.get(url).status_code == 404
    assert git(repo.path, "log", "-1", "--format=%s").strip() == "Delete Personne “thaïs-coutinho”"


def test_write_to_another_branch_leaves_the_published_one_alone(site) -> None:
    app, client, repo = site
    git(repo.path, "branch", "cms/actualites/brouillon")
    headers = bearer(app)
    response = client.post(
        NEWS + "?branch=cms/actualites/brouillon", json=NEW_POST, headers=headers
    )
    assert response.status_code == 201
    assert repo.head() == repo.before
    repo.assert_clean()
    slug = response.get_json()["slug"]
    assert client.get(f"{NEWS}/{quote(slug)}").status_code == 404
    preview = client.get(
        f"{NEWS}/{quote(slug)}?ref=cms/actualites/brouillon", headers=bearer(app, "reader")
    )
    assert preview.status_code == 200
    assert not (repo.path / "actualites" / f"{slug}.md").exists()


def test_local_edits_in_the_work_tree_are_never_overwritten(site) -> None:
    app, client, repo = site
    path = repo.path / "pages" / "accueil.md"
    path.write_text(path.read_text(encoding="utf-8") + "# une note locale\n", encoding="utf-8")
    current = client.get(HOME)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    response = client.patch(HOME, json={"fields": {"title": "Accueil"}}, headers=headers)
    assert response.status_code == 409
    assert "# une note locale" in path.read_text(encoding="utf-8")
    assert repo.head() == repo.before
    git(repo.path, "checkout", "--", "pages/accueil.md")
    repo.assert_clean()


def test_a_branch_that_moves_before_the_ref_update_is_a_409(site) -> None:
    app, client, repo = site

    def someone_commits() -> None:
        git(repo.path, "commit", "-q", "--allow-empty", "-m", "Meanwhile")

    faults.at("before-ref", someone_commits)
    try:
        response = client.post(NEWS, json=NEW_POST, headers=bearer(app))
    finally:
        faults.at("before-ref", None)
    assert response.status_code == 409
    assert "moved" in response.get_json()["message"]
    assert git(repo.path, "log", "-1", "--format=%s").strip() == "Meanwhile"
    repo.assert_clean()
    assert not app.extensions["cms"].store.journal.path.exists()


def test_a_busy_lock_is_a_503_with_retry_after(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i", CMS_LOCK_TIMEOUT="0.2")
    repo = Repo(sample_copy.path)
    headers = bearer(app)
    store = app.extensions["cms"].store
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.write_lock.hold():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        response = app.test_client().post(NEWS, json=NEW_POST, headers=headers)
    finally:
        release.set()
        holder.join()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    repo.assert_unchanged()


def test_the_commit_body_of_a_write_reads_back(site) -> None:
    app, client, _ = site
    response = client.post(NEWS, json=NEW_POST, headers=bearer(app))
    entry = client.get(response.headers["Location"]).get_json()
    assert json.dumps(entry["fields"], sort_keys=True) == json.dumps(
        NEW_POST["fields"], sort_keys=True
    )
    assert entry["problems"] == []


def test_an_untracked_file_in_the_way_is_never_overwritten(site) -> None:
    app, client, repo = site
    person = {"slug": "nouvelle", "fields": {"title": "Nouvelle", "role": "eig"}}
    (repo.path / "personnes" / "nouvelle.md").write_text("brouillon local\n")
    response = client.post(
        "/api/v1/collections/personnes/entries", json=person, headers=bearer(app)
    )
    assert response.status_code == 409
    assert response.get_json()["errors"]["paths"] == ["personnes/nouvelle.md"]
    assert (repo.path / "personnes" / "nouvelle.md").read_text() == "brouillon local\n"
    assert repo.head() == repo.before


def test_patch_with_null_fields_is_422(site) -> None:
    app, client, repo = site
    headers = {**bearer(app), "If-Match": client.get(NEWS_ONE).headers["ETag"]}
    response = client.patch(NEWS_ONE, json={"fields": None}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["fields"] == ["must be an object"]
    repo.assert_unchanged()


@pytest.mark.parametrize(
    "slug", ["..%2f..%2fetc%2fpasswd", "..%2Fadmin%2Fconfig", ".git", "%2e%2e", "a%00b"]
)
def test_hostile_slugs_in_the_path_change_nothing(site, slug: str) -> None:
    app, client, repo = site
    headers = {**bearer(app), "If-Match": "*"}
    url = f"{NEWS}/{slug}"
    assert client.patch(url, json={"fields": {"title": "x"}}, headers=headers).status_code == 404
    assert client.put(url, json={"fields": {"title": "x"}}, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    repo.assert_unchanged()


def test_private_site_needs_a_reader_token(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "i", CMS_PUBLIC_READ="false")
    client = app.test_client()
    for url in (NEWS_ONE, NEWS, "/api/v1/collections", "/api/v1/refs"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="cms"'
    reader = bearer(app, "reader")
    assert client.get(NEWS_ONE, headers=reader).status_code == 200
    assert client.get(NEWS_ONE, headers=reader).headers["Cache-Control"] == "private, no-cache"


def test_commit_messages_from_the_config(make_site, tmp_path) -> None:
    config = (
        "backend:\n  name: git-gateway\n  commit_messages:\n"
        "    create: 'Nouveau {{ collection }} {{slug}} ({{author-name}}){{inconnu}}'\n"
        "collections:\n  - {name: notes, label: Notes, folder: notes, create: true,\n"
        "     fields: [{name: title}]}\n"
    )
    site = make_site({"admin/config.yml": config})
    app = make_app(site.path, tmp_path / "i")
    response = app.test_client().post(
        "/api/v1/collections/notes/entries",
        json={"fields": {"title": "Première"}},
        headers=bearer(app, "editor", "Éditrice Test"),
    )
    assert response.status_code == 201
    assert site.repo.head.commit.message.strip() == "Nouveau Notes première (Éditrice Test)"
