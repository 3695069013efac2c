"""Media over the JSON API and at their public URLs, on a real repository."""

from __future__ import annotations

import io

import pytest

from tests.conftest import bearer, make_app
from tests.test_decap_proxy import FILES, PNG

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
CONFIG = FILES["admin/config.yml"].replace(
    "      - {name: title, label: Name, widget: string}\n",
    "      - {name: title, label: Name, widget: string}\n"
    "    media_folder: /static/authors\n"
    "    public_folder: /people\n",
)


@pytest.fixture
def site(make_site):
    return make_site({**FILES, "admin/config.yml": CONFIG, "static/authors/ada.png": PNG})


@pytest.fixture
def app(site, tmp_path):
    return make_app(site.path, tmp_path / "instance", CMS_MEDIA_MAX_BYTES=4096)


def upload(client, headers, name: str, data: bytes, **form):
    return client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), name), **form},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_list_every_media_folder_and_one(app, site) -> None:
    client = app.test_client()
    listed = client.get("/api/v1/media")
    assert listed.status_code == 200
    assert [m["path"] for m in listed.get_json()] == [
        "static/authors/ada.png",
        "static/img/logo.png",
    ]
    first = listed.get_json()[1]
    assert first == {
        "path": "static/img/logo.png",
        "name": "logo.png",
        "folder": "static/img",
        "version": site.repo.rev_parse("main:static/img/logo.png").hexsha,
        "size": len(PNG),
        "url": "/img/logo.png",
        "content_type": "image/png",
    }
    assert client.get("/api/v1/media?folder=static/authors").get_json()[0]["url"] == (
        "/people/ada.png"
    )
    assert client.get("/api/v1/media?folder=secrets").status_code == 404
    paged = client.get("/api/v1/media?page_size=1&page=2")
    assert [m["name"] for m in paged.get_json()] == ["logo.png"]
    assert '"total": 2' in paged.headers["X-Pagination"]


def test_files_are_served_at_their_public_urls(app, site) -> None:
    client = app.test_client()
    served = client.get("/img/logo.png")
    assert served.status_code == 200 and served.data == PNG
    assert served.mimetype == "image/png"
    version = site.repo.rev_parse("main:static/img/logo.png").hexsha
    assert served.headers["ETag"] == f'"{version}"'
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"].startswith("public, max-age=0, s-maxage=1")
    again = client.get("/img/logo.png", headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 304 and again.data == b""
    pinned = client.get(f"/img/logo.png?ref={site.head}")
    assert "immutable" in pinned.headers["Cache-Control"]
    assert client.get("/people/ada.png").data == PNG
    assert client.get(f"/api/v1/media/static/img/logo.png?ref={site.head}").data == PNG
    for path in ("/img/missing.png", "/img/../secrets/.env", "/secrets/.env", "/nothing"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["code"] == 404
    assert client.post("/img/logo.png").status_code == 405


def test_upload_list_and_delete(app, site) -> None:
    client = app.test_client()
    headers = bearer(app)
    made = upload(client, headers, "photo.png", PNG)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["path"] == "static/img/photo.png" and body["url"] == "/img/photo.png"
    assert made.headers["Location"].endswith("/api/v1/media/static/img/photo.png")
    commit = site.repo.commit("main")
    assert list(commit.stats.files) == ["static/img/photo.png"]
    assert commit.author.name == "Éditrice Test" and commit.message.strip() == (
        "Upload “static/img/photo.png”"
    )
    assert client.get("/img/photo.png").data == PNG
    assert upload(client, headers, "photo.png", PNG).status_code == 409
    to_authors = upload(client, headers, "grace.png", PNG, folder="static/authors")
    assert to_authors.get_json()["url"] == "/people/grace.png"
    url = "/api/v1/media/static/img/photo.png"
    assert client.delete(url, headers=headers).status_code == 428
    stale = client.delete(url, headers={**headers, "If-Match": '"0000"'})
    assert stale.status_code == 412
    gone = client.delete(url, headers={**headers, "If-Match": f'"{body["version"]}"'})
    assert gone.status_code == 204
    assert client.get("/img/photo.png").status_code == 404
    assert "static/img/photo.png" not in site.repo.git.ls_tree("-r", "--name-only", "main")


@pytest.mark.parametrize(
    ("name", "data", "form", "status", "words"),
    [
        ("page.html", b"<html></html>", {}, 422, "not accepted"),
        ("fake.png", b"<html>not a png</html>", {}, 422, "is not a png file"),
        ("huge.png", PNG + b"\0" * 5000, {}, 413, "CMS_MEDIA_MAX_BYTES"),
        ("x.png", PNG, {"folder": "content/posts"}, 422, "not in a media folder"),
        ("x.png", PNG, {"folder": "static/img/../../secrets"}, 422, "not a path"),
        (".hidden.png", PNG, {}, 422, "not a path"),
        ("empty.png", b"", {}, 422, "empty"),
    ],
)
def test_bad_uploads_change_nothing(app, site, name, data, form, status, words) -> None:
    before = site.head
    answer = upload(app.test_client(), bearer(app), name, data, **form)
    assert answer.status_code == status
    assert words in answer.get_json()["message"]
    assert site.repo.rev_parse("main").hexsha == before


def test_an_svg_is_served_as_a_sandboxed_file(app) -> None:
    client = app.test_client()
    assert upload(client, bearer(app), "icon.svg", SVG).status_code == 201
    served = client.get("/img/icon.svg")
    assert served.mimetype == "image/svg+xml"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert "script-src" not in served.headers["Content-Security-Policy"]


def test_uploads_need_an_editor(app, site) -> None:
    client = app.test_client()
    assert upload(client, {}, "x.png", PNG).status_code == 401
    assert upload(client, bearer(app, "reader"), "x.png", PNG).status_code == 403
    assert client.delete("/api/v1/media/static/img/logo.png").status_code == 401


def test_drafts_media_needs_a_reader(app, site) -> None:
    site.repo.git.branch("cms/posts/x")
    client = app.test_client()
    assert client.get("/api/v1/media?ref=cms/posts/x").status_code == 200  # same as main
    site.repo.git.checkout("-q", "cms/posts/x")
    site.commit({"static/img/draft.png": PNG})
    site.repo.git.checkout("-q", "main")
    assert client.get("/img/draft.png?ref=cms/posts/x").status_code == 401
    assert client.get("/img/draft.png?ref=cms/posts/x", headers=bearer(app, "reader")).data == PNG


def test_an_upload_form_takes_nothing_else(app, site) -> None:
    before = site.head
    answer = upload(app.test_client(), bearer(app), "x.png", PNG, other="42")
    assert answer.status_code == 422 and "other" in str(answer.get_json()["errors"])
    assert site.repo.rev_parse("main").hexsha == before
