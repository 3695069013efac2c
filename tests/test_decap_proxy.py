"""Decap's proxy protocol at /admin/api/v1, on real repositories: every action, the editorial
workflow, the errors, minimal diffs, and the read answers compared with the reference
``decap-server`` (npm, git mode) on the same fixture."""

from __future__ import annotations

import base64
import json
import shutil
import urllib.request
from pathlib import Path

import git
import pytest

from bench.server import DecapServer
from tests.conftest import bearer, make_app

CONFIG = """\
backend:
  name: git-gateway
  branch: main
  commit_messages:
    create: "Créer {{collection}} “{{slug}}”"
local_backend: true
publish_mode: editorial_workflow
media_folder: static/img
public_folder: /img
collections:
  - name: posts
    label: Posts
    label_singular: Post
    folder: content/posts
    create: true
    fields:
      - {name: title, label: Title, widget: string}
      - {name: date, label: Date, widget: datetime}
      - {name: tags, label: Tags, widget: list, required: false}
      - {name: summary, label: Summary, widget: text, required: false}
      - {name: body, label: Body, widget: markdown}
  - name: authors
    label: Authors
    folder: content/authors
    fields:
      - {name: title, label: Name, widget: string}
  - name: pages
    label: Pages
    files:
      - name: home
        label: Home
        file: content/home.md
        fields:
          - {name: title, label: Title, widget: string}
          - {name: body, label: Body, widget: markdown}
"""

POST = """\
---
# Written by hand: this comment stays.
title: 'Hello: world'
date: 2024-01-02T10:00:00Z
tags: [a, b]
summary: >
  A folded summary
  on two lines.
---
The body, with *emphasis*.
"""

# What Decap's editor sends back after the title was changed: the whole file re-serialised by
# its YAML library (comment gone, quotes and folding changed, flow list expanded, the date
# rewritten with milliseconds).
POST_FROM_DECAP = """\
---
title: Hello, world
date: 2024-01-02T10:00:00.000Z
tags:
  - a
  - b
summary: |
  A folded summary on two lines.
---
The body, with *emphasis*.
"""

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

FILES = {
    "admin/config.yml": CONFIG,
    "content/posts/hello.md": POST,
    "content/posts/second.md": "---\ntitle: Second\ndate: 2024-02-01T09:00:00Z\n---\nText.\n",
    "content/authors/ada.md": "---\ntitle: Ada\n---\n",
    "content/home.md": "---\ntitle: Home\n---\nWelcome.\n",
    "content/posts/notes.txt": "not an entry\n",
    "static/img/logo.png": PNG,
    "static/img/sub/deep.png": PNG,
    "secrets/.env": "TOKEN=do-not-leak\n",
}


@pytest.fixture
def site(make_site):
    return make_site(FILES)


@pytest.fixture
def app(site, tmp_path):
    return make_app(site.path, tmp_path / "instance")


class Proxy:
    def __init__(self, app, role: str = "editor", name: str = "Éditrice Test") -> None:
        self.client = app.test_client()
        self.headers = bearer(app, role, name=name)

    def __call__(self, action: str, status: int = 200, **params):
        response = self.client.post(
            "/admin/api/v1",
            json={"action": action, "params": {"branch": "main", **params}},
            headers=self.headers,
        )
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()


@pytest.fixture
def proxy(app) -> Proxy:
    return Proxy(app)


def head(site, ref: str = "main") -> str:
    return site.repo.rev_parse(ref).hexsha


def last_diff(site, ref: str = "main") -> str:
    return site.repo.git.show("--format=", "--unified=0", ref)


# -- reads ------------------------------------------------------------------------------------


def test_info(proxy: Proxy) -> None:
    answer = proxy("info")
    assert answer["publish_modes"] == ["simple", "editorial_workflow"]
    assert isinstance(answer["repo"], str) and isinstance(answer["type"], str)


def test_entries_by_folder_reads_git_not_the_work_tree(proxy: Proxy, site) -> None:
    (site.path / "content/posts/hello.md").write_text("---\ntitle: uncommitted\n---\n")
    answer = proxy("entriesByFolder", folder="content/posts", extension="md", depth=1)
    assert [e["file"]["path"] for e in answer] == [
        "content/posts/hello.md",
        "content/posts/second.md",
    ]
    assert answer[0]["data"] == POST  # the committed text, not the checkout's
    blob = site.repo.rev_parse("main:content/posts/hello.md").hexsha
    assert answer[0]["file"]["id"] == blob


def test_entries_by_files_and_get_entry(proxy: Proxy) -> None:
    answer = proxy("entriesByFiles", files=[{"path": "content/home.md", "label": "Home"}])
    assert answer[0]["data"].startswith("---\ntitle: Home")
    assert answer[0]["file"]["label"] == "Home"
    missing = proxy("getEntry", path="content/posts/nope.md")
    assert missing == {"data": None, "file": {"path": "content/posts/nope.md", "id": None}}


@pytest.mark.parametrize(
    "path", ["secrets/.env", "admin/config.yml", "content/posts/notes.txt", ".git/config"]
)
def test_only_entry_files_are_read(proxy: Proxy, path: str) -> None:
    if path.startswith(".git"):
        proxy("getEntry", 422, path=path)
        return
    assert proxy("getEntry", path=path)["data"] is None


@pytest.mark.parametrize("path", ["../outside.md", "/etc/passwd/../../..", "a\\..\\b", ""])
def test_paths_outside_the_repository_are_422(proxy: Proxy, path: str) -> None:
    answer = proxy("getEntry", 422, path=path)
    assert "must resolve to a path under the configured repository" in answer["error"]


def test_media(proxy: Proxy) -> None:
    listed = proxy("getMedia", mediaFolder="static/img")
    assert [m["path"] for m in listed] == ["static/img/logo.png"]  # not recursive
    assert base64.b64decode(listed[0]["content"]) == PNG
    assert listed[0]["encoding"] == "base64" and listed[0]["name"] == "logo.png"
    one = proxy("getMediaFile", path="static/img/sub/deep.png")
    assert base64.b64decode(one["content"]) == PNG
    assert proxy("getMedia", mediaFolder="secrets") == []
    proxy("getMediaFile", 404, path="secrets/.env")


def test_deploy_preview_and_unknown_actions(proxy: Proxy) -> None:
    assert proxy("getDeployPreview", collection="posts", slug="hello") is None
    answer = proxy("getNotes", 422)
    assert answer["error"].startswith("Unknown action")


def test_a_missing_branch_is_422(proxy: Proxy) -> None:
    response = proxy.client.post(
        "/admin/api/v1",
        json={"action": "getEntry", "params": {"branch": "nope", "path": "content/home.md"}},
        headers=proxy.headers,
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "Default branch 'nope' doesn't exist"


# -- simple saves -----------------------------------------------------------------------------


def persist(proxy: Proxy, files, assets=(), status: int = 200, workflow: bool = False, **opts):
    return proxy(
        "persistEntry",
        status,
        dataFiles=list(files),
        assets=list(assets),
        options={
            "commitMessage": opts.pop("message", "Update Post “hello”"),
            "useWorkflow": workflow,
            "status": "draft",
            **opts,
        },
    )


def test_a_decap_save_changes_only_the_changed_field(proxy: Proxy, site) -> None:
    before = head(site)
    answer = persist(
        proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}]
    )
    assert answer == {"message": "entry persisted"}
    commit = site.repo.commit("main")
    assert commit.parents[0].hexsha == before  # one commit
    assert commit.message.strip() == "Update Post “hello”"
    assert (commit.author.name, commit.author.email) == ("Éditrice Test", "ed@example.org")
    diff = last_diff(site)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == ["-title: 'Hello: world'", "+title: Hello, world"]
    text = site.repo.git.show("main:content/posts/hello.md")
    assert "# Written by hand: this comment stays." in text and "tags: [a, b]" in text


def test_a_save_that_changes_nothing_makes_no_commit(proxy: Proxy, site) -> None:
    before = head(site)
    same = POST_FROM_DECAP.replace("Hello, world", "'Hello: world'")
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": same}])
    assert head(site) == before


def test_a_new_entry_and_its_image_are_one_commit(proxy: Proxy, site) -> None:
    raw = "---\ntitle: New\ndate: 2024-03-01T10:00:00.000Z\n---\n![](/img/new.png)\n"
    persist(
        proxy,
        [{"slug": "new", "path": "content/posts/new.md", "raw": raw}],
        [{"path": "static/img/new.png", "content": base64.b64encode(PNG).decode()}],
        message="Create Post “new”",
    )
    commit = site.repo.commit("main")
    assert sorted(commit.stats.files) == ["content/posts/new.md", "static/img/new.png"]
    assert site.repo.git.show("main:content/posts/new.md") + "\n" == raw


@pytest.mark.parametrize(
    ("path", "raw", "status", "message"),
    [
        ("content/posts/bad.md", "---\ndate: 2024-01-01\n---\n", 422, "title: is required"),
        ("content/authors/new.md", "---\ntitle: X\n---\n", 405, "does not allow creating"),
        (".github/workflows/x.md", "---\ntitle: X\n---\n", 422, "not a file of any collection"),
        ("admin/config.yml", "collections: []\n", 422, "not a file of any collection"),
        ("content/posts/x.md", "---\ntitle: [unclosed\n---\n", 422, "cannot be read"),
    ],
)
def test_bad_saves_change_nothing(proxy: Proxy, site, path, raw, status, message) -> None:
    before = head(site)
    answer = persist(proxy, [{"slug": "x", "path": path, "raw": raw}], status=status)
    assert message in answer["error"]
    assert head(site) == before
    assert site.repo.git.status("--porcelain") == ""


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("static/img/x.html", b"<script>alert(1)</script>", "are not accepted"),
        ("static/img/x.png", b"<html>not a png</html>", "is not a png file"),
        ("content/posts/x.png", PNG, "not in a media folder"),
        ("static/img/x.svg", b"<html><script>x</script></html>", "is not an SVG"),
    ],
)
def test_bad_uploads_change_nothing(proxy: Proxy, site, path, content, message) -> None:
    before = head(site)
    answer = proxy(
        "persistMedia",
        422,
        asset={"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"},
        options={"commitMessage": "Upload"},
    )
    assert message in answer["error"]
    assert head(site) == before


def test_persist_media_and_delete_files(proxy: Proxy, site) -> None:
    answer = proxy(
        "persistMedia",
        asset={"path": "static/img/up.png", "content": base64.b64encode(PNG).decode()},
        options={"commitMessage": "Upload “static/img/up.png”"},
    )
    assert answer["path"] == "static/img/up.png" and answer["name"] == "up.png"
    assert site.repo.commit("main").message.strip() == "Upload “static/img/up.png”"
    proxy(
        "deleteFiles",
        paths=["static/img/up.png", "content/posts/second.md", "content/posts/gone.md"],
        options={"commitMessage": "Delete"},
    )
    assert sorted(site.repo.commit("main").stats.files) == [
        "content/posts/second.md",
        "static/img/up.png",
    ]
    before = head(site)
    for path, status in [("admin/config.yml", 422), ("content/home.md", 405)]:
        proxy("deleteFiles", status, paths=[path], options={"commitMessage": "x"})
        proxy("deleteFile", status, path=path, options={"commitMessage": "x"})
    assert head(site) == before


# -- the editorial workflow -------------------------------------------------------------------


def test_the_editorial_workflow_from_draft_to_published(app, proxy: Proxy, site) -> None:
    published = head(site)
    raw = "---\ntitle: Draft post\ndate: 2024-05-01T10:00:00.000Z\n---\nSoon.\n"
    persist(
        proxy,
        [{"slug": "draft-post", "path": "content/posts/draft-post.md", "raw": raw}],
        [{"path": "static/img/draft.png", "content": base64.b64encode(PNG).decode()}],
        workflow=True,
        collectionName="posts",
        message="Create Post “draft-post”",
    )
    assert head(site) == published  # nothing published yet
    assert proxy("unpublishedEntries") == ["posts/draft-post"]
    assert site.repo.git.config("branch.cms/posts/draft-post.description") == "decap-cms/draft"
    # The published branch moves on: the draft's changes are still only its own.
    site.commit({"content/posts/other.md": "---\ntitle: Other\ndate: 2024-01-01\n---\n"})
    entry = proxy("unpublishedEntry", id="posts/draft-post")
    assert entry["collection"] == "posts" and entry["slug"] == "draft-post"
    assert entry["status"] == "draft"
    assert sorted(d["path"] for d in entry["diffs"]) == [
        "content/posts/draft-post.md",
        "static/img/draft.png",
    ]
    assert all(d["newFile"] for d in entry["diffs"])
    data = proxy(
        "unpublishedEntryDataFile",
        collection="posts",
        slug="draft-post",
        id="content/posts/draft-post.md",
        path="content/posts/draft-post.md",
    )
    assert data == {"data": raw}
    media = proxy(
        "unpublishedEntryMediaFile",
        collection="posts",
        slug="draft-post",
        id="static/img/draft.png",
        path="static/img/draft.png",
    )
    assert base64.b64decode(media["content"]) == PNG
    # A second save adds a commit to the draft.
    persist(
        proxy,
        [
            {
                "slug": "draft-post",
                "path": "content/posts/draft-post.md",
                "raw": raw.replace("Soon.", "Soon, really."),
            }
        ],
        workflow=True,
        collectionName="posts",
    )
    assert site.repo.git.rev_list("--count", "main..cms/posts/draft-post") == "2"
    proxy(
        "updateUnpublishedEntryStatus",
        collection="posts",
        slug="draft-post",
        newStatus="pending_publish",
    )
    assert proxy("unpublishedEntry", collection="posts", slug="draft-post")["status"] == (
        "pending_publish"
    )
    # Editors cannot publish; admins can.
    answer = proxy("publishUnpublishedEntry", 403, collection="posts", slug="draft-post")
    assert "admin" in answer["error"]
    admin = Proxy(app, "admin", name="Ada Admin")
    admin("publishUnpublishedEntry", collection="posts", slug="draft-post")
    assert site.repo.git.show("main:content/posts/draft-post.md") == raw.replace(
        "Soon.", "Soon, really."
    ).rstrip("\n")
    assert "cms/posts/draft-post" not in [h.name for h in site.repo.heads]
    assert proxy("unpublishedEntries") == []
    proxy("unpublishedEntry", 404, collection="posts", slug="draft-post")


def test_a_draft_of_an_existing_entry_and_its_deletion(proxy: Proxy, site) -> None:
    persist(
        proxy,
        [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}],
        workflow=True,
        collectionName="posts",
    )
    entry = proxy("unpublishedEntry", id="posts/hello")
    assert [(d["path"], d["newFile"], d["status"]) for d in entry["diffs"]] == [
        ("content/posts/hello.md", False, "modified")
    ]
    assert site.repo.git.show("--format=", "--unified=0", "cms/posts/hello").count("\n+") == 2
    answer = proxy("deleteUnpublishedEntry", collection="posts", slug="hello")
    assert answer == {"message": "deleted branch: cms/posts/hello"}
    proxy("unpublishedEntry", 404, id="posts/hello")
    with pytest.raises(git.GitCommandError):
        site.repo.git.config("branch.cms/posts/hello.description")


def test_a_draft_that_fails_validation_leaves_no_branch(proxy: Proxy, site) -> None:
    persist(
        proxy,
        [{"slug": "bad", "path": "content/posts/bad.md", "raw": "---\ndate: x\n---\n"}],
        status=422,
        workflow=True,
        collectionName="posts",
    )
    assert [h.name for h in site.repo.heads] == ["main"]


def test_status_names_are_checked(proxy: Proxy) -> None:
    persist(
        proxy,
        [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}],
        workflow=True,
        collectionName="posts",
    )
    proxy("updateUnpublishedEntryStatus", 422, collection="posts", slug="hello", newStatus="x")


# -- sessions ---------------------------------------------------------------------------------


def test_no_session_is_a_401_and_writes_nothing(app, site) -> None:
    client = app.test_client()
    before = head(site)
    response = client.post(
        "/admin/api/v1",
        json={"action": "deleteFiles", "params": {"paths": ["content/posts/hello.md"]}},
    )
    assert response.status_code == 401 and "error" in response.get_json()
    reader = client.post("/admin/api/v1", json={"action": "info"}, headers=bearer(app, "reader"))
    assert reader.status_code == 403
    assert head(site) == before
    assert client.get("/admin/").status_code == 303
    assert client.get("/admin/config.yml").status_code == 401


def test_login_cookie_origin_and_logout(app, site) -> None:
    from cms.auth import TokenStore

    _, secret = TokenStore(Path(app.config["CMS_INSTANCE"])).create("Camille", "editor")
    client = app.test_client()
    here = {"Origin": "http://localhost"}
    page = client.get("/admin/login")
    assert page.status_code == 200 and b'name="token"' in page.data
    refused = client.post("/admin/login", data={"token": secret}, headers={"Origin": "http://evil"})
    assert refused.status_code == 403 and "Set-Cookie" not in refused.headers
    wrong = client.post("/admin/login", data={"token": "cms_x_y"}, headers=here)
    assert wrong.status_code == 401 and b"not valid" in wrong.data
    signed = client.post("/admin/login", data={"token": secret, "next": "//evil"}, headers=here)
    assert signed.status_code == 303 and signed.headers["Location"] == "/admin/"
    cookie = signed.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert flag in cookie
    assert client.get("/admin/config.yml").status_code == 200
    before = head(site)
    body = {
        "action": "deleteFiles",
        "params": {"branch": "main", "paths": ["content/posts/second.md"], "options": {}},
    }
    assert client.post("/admin/api/v1", json=body).status_code == 403  # no Origin
    forged = client.post("/admin/api/v1", json=body, headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403
    assert head(site) == before
    assert client.post("/admin/api/v1", json=body, headers=here).status_code == 200
    assert site.repo.commit("main").author.name == "Camille"
    out = client.post("/admin/logout", headers=here)
    assert out.status_code == 303
    assert client.post("/admin/api/v1", json={"action": "info"}, headers=here).status_code == 401


def test_a_revoked_token_ends_its_session(app) -> None:
    from cms.auth import TokenStore

    store = TokenStore(Path(app.config["CMS_INSTANCE"]))
    token, secret = store.create("Camille", "editor")
    client = app.test_client()
    here = {"Origin": "http://localhost"}
    client.post("/admin/login", data={"token": secret}, headers=here)
    assert client.post("/admin/api/v1", json={"action": "info"}, headers=here).status_code == 200
    store.revoke(token.id)
    assert client.post("/admin/api/v1", json={"action": "info"}, headers=here).status_code == 401


def test_the_config_is_rewritten_to_this_server(app) -> None:
    response = app.test_client().get("/admin/config.yml", headers=bearer(app))
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/yaml"
    assert "name: proxy" in text and "proxy_url: /admin/api/v1" in text
    assert "branch: main" in text and "local_backend" not in text
    assert "Créer {{collection}} “{{slug}}”" in text  # the site's commit messages stay
    assert text.endswith(CONFIG[CONFIG.index("publish_mode") :])  # the rest as the site has it


def test_a_body_over_the_limit_is_413_json(app, site) -> None:
    small = make_app(site.path, Path(app.config["CMS_INSTANCE"]), CMS_MEDIA_MAX_BYTES=1000)
    asset = {"path": "static/img/big.png", "content": "A" * (3 << 20)}
    response = small.test_client().post(
        "/admin/api/v1",
        json={"action": "persistMedia", "params": {"asset": asset, "options": {}}},
        headers=bearer(small),
    )
    assert response.status_code == 413 and "error" in response.get_json()
    too_big = PNG + b"\0" * 1000
    answer = Proxy(small)(
        "persistMedia",
        413,
        asset={"path": "static/img/big.png", "content": base64.b64encode(too_big).decode()},
        options={},
    )
    assert "CMS_MEDIA_MAX_BYTES" in answer["error"]


# -- compared with the reference decap-server -------------------------------------------------


@pytest.fixture
def reference(site, tmp_path):
    """decap-server in git mode on a clone of the same fixture."""
    clone = tmp_path / "reference"
    shutil.copytree(site.path, clone)
    server = DecapServer(clone, "git")
    url = server.url

    def call(action: str, **params):
        data = json.dumps({"action": action, "params": {"branch": "main", **params}}).encode()
        request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    yield call
    server.stop()


def without_ids(value):
    """Answers without the ``id`` cache keys: the reference hashes the file with SHA-256,
    this server names its git blob; both are opaque to Decap."""
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "id"}
    return value


READ_CASES = [
    ("entriesByFolder", {"folder": "content/posts", "extension": "md", "depth": 1}),
    ("entriesByFolder", {"folder": "content/missing", "extension": "md", "depth": 1}),
    ("entriesByFiles", {"files": [{"path": "content/home.md", "label": "Home"}]}),
    ("getEntry", {"path": "content/posts/hello.md"}),
    ("getEntry", {"path": "content/posts/nope.md"}),
    ("getMedia", {"mediaFolder": "static/img"}),
    ("getMediaFile", {"path": "static/img/logo.png"}),
    ("getDeployPreview", {"collection": "posts", "slug": "hello"}),
    ("unpublishedEntries", {}),
    ("unpublishedEntry", {"collection": "posts", "slug": "hello"}),
]


@pytest.mark.parametrize(("action", "params"), READ_CASES, ids=[c[0] for c in READ_CASES])
def test_reads_answer_as_decap_server_does(reference, proxy: Proxy, action, params) -> None:
    status, expected = reference(action, **params)
    response = proxy.client.post(
        "/admin/api/v1",
        json={"action": action, "params": {"branch": "main", **params}},
        headers=proxy.headers,
    )
    assert response.status_code == status
    assert without_ids(response.get_json()) == without_ids(expected)
    if isinstance(expected, list) and expected and "id" in str(expected):
        assert all(
            isinstance(item["file" if "file" in item else "id"], dict | str) for item in expected
        )


def test_draft_reads_answer_as_decap_server_does(reference, proxy: Proxy) -> None:
    raw = "---\ntitle: Draft\ndate: 2024-05-01T10:00:00.000Z\n---\nSoon.\n"
    files = [{"slug": "draft", "path": "content/posts/draft.md", "raw": raw}]
    options = {"commitMessage": "Create", "useWorkflow": True, "status": "draft"}
    options["collectionName"] = "posts"
    status, _ = reference("persistEntry", dataFiles=files, assets=[], options=options)
    assert status == 200
    persist(proxy, files, workflow=True, collectionName="posts", message="Create")
    for action, params in [
        ("unpublishedEntries", {}),
        (
            "unpublishedEntryDataFile",
            {"collection": "posts", "slug": "draft", "id": "x", "path": "content/posts/draft.md"},
        ),
    ]:
        assert proxy(action, **params) == reference(action, **params)[1]
    mine = proxy("unpublishedEntry", id="posts/draft")
    theirs = reference("unpublishedEntry", id="posts/draft")[1]
    keys = ("collection", "slug", "status")
    assert {k: mine[k] for k in keys} == {k: theirs[k] for k in keys}
    assert [(d["path"], d["newFile"], d["status"]) for d in mine["diffs"]] == [
        (d["path"], d["newFile"], d["status"]) for d in theirs["diffs"]
    ]


# -- saves made from an older version ---------------------------------------------------------

SUMMARY_FROM_DECAP = POST_FROM_DECAP.replace("Hello, world", "'Hello: world'").replace(
    "A folded summary on two lines.", "A new summary."
)


def test_a_save_from_an_older_version_keeps_the_change_made_since(app, proxy: Proxy, site):
    other = Proxy(app, name="Bob Autre")
    for editor in (proxy, other):
        editor("getEntry", path="content/posts/hello.md")  # both open the same version
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}])
    # Bob's file still has the old title: only his own change (the summary) is written.
    persist(other, [{"slug": "hello", "path": "content/posts/hello.md", "raw": SUMMARY_FROM_DECAP}])
    text = site.repo.git.show("main:content/posts/hello.md")
    assert "title: Hello, world" in text and "A new summary." in text
    assert site.repo.commit("main").author.name == "Bob Autre"
    changed = [line for line in last_diff(site).splitlines() if line[:1] in "+-"]
    assert not any("title" in line for line in changed)


def test_the_same_field_changed_twice_since_opening_is_a_409(app, proxy: Proxy, site):
    other = Proxy(app, name="Bob Autre")
    for editor in (proxy, other):
        editor("getEntry", path="content/posts/hello.md")
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}])
    before = head(site)
    theirs = POST_FROM_DECAP.replace("Hello, world", "Bonjour")
    answer = persist(
        other, [{"slug": "hello", "path": "content/posts/hello.md", "raw": theirs}], status=409
    )
    assert "changed since you opened it" in answer["error"] and "title" in answer["error"]
    assert head(site) == before


def test_an_editor_saving_twice_is_no_conflict_with_themself(proxy: Proxy, site) -> None:
    proxy("getEntry", path="content/posts/hello.md")
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}])
    again = POST_FROM_DECAP.replace("Hello, world", "Hello, world!")
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": again}])
    assert "title: Hello, world!" in site.repo.git.show("main:content/posts/hello.md")


# -- more of persistEntry ---------------------------------------------------------------------


def test_a_legacy_problem_elsewhere_does_not_block_a_save(make_site, tmp_path) -> None:
    broken = POST.replace("date: 2024-01-02T10:00:00Z\n", "")  # `date` is required
    site = make_site({**FILES, "content/posts/hello.md": broken})
    proxy = Proxy(make_app(site.path, tmp_path / "instance"))
    raw = broken.replace("'Hello: world'", "Hello again")
    persist(proxy, [{"slug": "hello", "path": "content/posts/hello.md", "raw": raw}])
    assert "title: Hello again" in site.repo.git.show("main:content/posts/hello.md")


def test_a_move_with_new_path(proxy: Proxy, site) -> None:
    persist(
        proxy,
        [
            {
                "slug": "renamed",
                "path": "content/posts/second.md",
                "newPath": "content/posts/renamed.md",
                "raw": "---\ntitle: Second\ndate: 2024-02-01T09:00:00Z\n---\nText.\n",
            }
        ],
    )
    files = site.repo.git.ls_tree("-r", "--name-only", "main", "content/posts").split()
    assert "content/posts/renamed.md" in files and "content/posts/second.md" not in files
    assert len(site.repo.commit("main").parents) == 1


def test_delete_file(proxy: Proxy, site) -> None:
    answer = proxy("deleteFile", path="content/posts/second.md", options={"commitMessage": "Bye"})
    assert answer == {"message": "deleted file content/posts/second.md"}
    assert site.repo.commit("main").message.strip() == "Bye"


@pytest.mark.parametrize(
    "path", ["static/img/../../admin/config.yml", "static/img/.hidden.png", "static/../x.png"]
)
def test_hostile_asset_paths_change_nothing(proxy: Proxy, site, path: str) -> None:
    before = head(site)
    persist(
        proxy,
        [{"slug": "hello", "path": "content/posts/hello.md", "raw": POST_FROM_DECAP}],
        [{"path": path, "content": base64.b64encode(PNG).decode()}],
        status=422,
    )
    assert head(site) == before


def test_an_unexpected_failure_is_a_json_500(app, proxy: Proxy, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["cms.decap"], "_persistMedia", broken)
    app.testing = False  # errors are handled, as in production
    answer = proxy("persistMedia", 500, asset={}, options={})
    assert answer["error"] == "Unknown error" and "boom" not in str(answer)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/admin\r\nX: y"])
def test_login_never_sends_elsewhere(app, target: str) -> None:
    from cms.auth import TokenStore

    _, secret = TokenStore(Path(app.config["CMS_INSTANCE"])).create("Camille", "editor")
    answer = app.test_client().post(
        "/admin/login",
        data={"token": secret, "next": target},
        headers={"Origin": "http://localhost"},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/"
