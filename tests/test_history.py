"""History, diff and sync over HTTP, checked against git itself on repositories with renames,
deletions and merges."""

from __future__ import annotations

import json

from tests.conftest import Site, bearer, make_app

CONFIG = """\
backend: {name: git-gateway, branch: main}
media_folder: static/img
collections:
  - name: posts
    label: Posts
    folder: posts
    create: true
    delete: true
    fields:
      - {name: title, widget: string}
      - name: hero
        widget: object
        required: false
        fields:
          - {name: title, widget: string}
          - name: btn
            widget: object
            fields: [{name: label, widget: string}, {name: url, widget: string}]
      - {name: tags, widget: list, required: false}
      - {name: body, widget: markdown}
"""


def post(title: str, url: str = "/a", body: str = "Un texte.\n", tags: str = "[un]") -> str:
    return (
        f"---\ntitle: {title}\nhero:\n  title: Héros\n  btn:\n    label: Aller\n    url: {url}\n"
        f"tags: {tags}\n---\n{body}"
    )


def history_site(make_site) -> Site:
    site = make_site({"admin/config.yml": CONFIG, "posts/un.md": post("Un")}, name="hist")
    site.commit({"posts/deux.md": post("Deux")}, "Add deux")
    site.commit({"posts/un.md": post("Un, encore", url="/b")}, "Edit un")
    site.repo.git.mv("posts/un.md", "posts/premier.md")
    site.commit({}, "Rename un to premier")
    site.commit({"posts/premier.md": post("Premier", body="Un texte.\nEt plus.\n")}, "Edit")
    site.commit({"posts/deux.md": None}, "Delete deux")
    # A merge: a side branch edits one post while main adds another.
    base = site.head
    site.repo.git.checkout("-q", "-b", "side")
    site.commit({"posts/premier.md": post("Premier", url="/c", body="Un texte.\nEt plus.\n")})
    site.repo.git.checkout("-q", "main")
    site.commit({"posts/trois.md": post("Trois")}, "Add trois")
    site.repo.git.merge("-q", "--no-ff", "-m", "Merge side", "side")
    assert site.repo.git.merge_base(base, site.head) == base
    return site


def git_follow(site: Site, path: str) -> list[tuple[str, str, str]]:
    """(commit, status, path) of ``git log --follow --name-status``, as git prints them."""
    output = site.repo.git.log(
        "--follow", "-M", "--name-status", "--format=%x01%H", "main", "--", path
    )
    found = []
    for block in output.split("\x01")[1:]:
        sha, *lines = [line for line in block.splitlines() if line]
        for line in lines:
            status, *paths = line.split("\t")
            found.append((sha, status[0], paths[-1]))
    return found


def test_history_equals_git_log_follow(make_site, tmp_path) -> None:
    site = history_site(make_site)
    client = make_app(site.path, tmp_path / "instance").test_client()
    response = client.get("/api/v1/collections/posts/entries/premier/history")
    assert response.status_code == 200
    versions = response.get_json()
    expected = git_follow(site, "posts/premier.md")
    status = {"added": "A", "modified": "M", "renamed": "R", "deleted": "D"}
    assert [(v["commit"], status[v["change"]], v["path"]) for v in versions] == expected
    assert [v["message"] for v in versions][-1] == "Create the site"
    renamed = next(v for v in versions if v["change"] == "renamed")
    assert renamed["previous_path"] == "posts/un.md"
    for version in versions:  # each version is the file's blob at that commit
        blob = site.repo.git.rev_parse(f"{version['commit']}:{version['path']}")
        assert version["version"] == blob
    first_page = client.get(
        "/api/v1/collections/posts/entries/premier/history?page_size=2"
    ).get_json()
    assert first_page == versions[:2]
    meta = json.loads(
        client.get("/api/v1/collections/posts/entries/premier/history?page_size=2").headers[
            "X-Pagination"
        ]
    )
    assert meta["total"] == len(versions)
    assert client.get("/api/v1/collections/posts/entries/deux/history").status_code == 404


def git_name_status(site: Site, old: str, new: str) -> list[tuple[str, str]]:
    output = site.repo.git.diff("--name-status", "-M", old, new)
    return [(line.split("\t")[0][0], line.split("\t")[-1]) for line in output.splitlines()]


def test_sync_equals_git_diff_mapped_to_entries(make_site, tmp_path) -> None:
    site = history_site(make_site)
    client = make_app(site.path, tmp_path / "instance").test_client()
    commits = site.repo.git.rev_list("--reverse", "main").split()
    change = {"added": "A", "modified": "M", "renamed": "R", "deleted": "D"}
    for old in commits[:-1]:
        answer = client.get(f"/api/v1/sync?since={old}&page_size=100")
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["since"] == old and body["next"] == site.head
        got = sorted((change[i["change"]], i["path"]) for i in body["items"])
        expected = sorted(
            (status, path)
            for status, path in git_name_status(site, old, site.head)
            if path.startswith("posts/")
        )
        assert got == expected, old
        for item in body["items"]:
            if item["change"] == "deleted":
                assert item["entry"] is None and item["previous"]["version"]
            else:
                assert item["entry"]["version"] == item["version"]
    everything = client.get("/api/v1/sync").get_json()
    assert everything["since"] is None
    assert sorted(i["slug"] for i in everything["items"]) == ["premier", "trois"]
    assert all(i["change"] == "added" for i in everything["items"])
    paged = client.get(f"/api/v1/sync?since={commits[0]}&page_size=1")
    assert f"ref={site.head}" in paged.headers["Link"]
    assert client.get("/api/v1/sync?since=0123456789").status_code == 404


def test_diff_field_by_field_and_body(make_site, tmp_path) -> None:
    site = history_site(make_site)
    client = make_app(site.path, tmp_path / "instance").test_client()
    first = site.repo.git.rev_list("--reverse", "main").split()[0]
    # The entry was `un` then; it is `premier` now: compare `premier` across a rename by ref.
    old_un = client.get(f"/api/v1/collections/posts/entries/un/diff?from={first}&to={first}")
    assert old_un.status_code == 200 and old_un.get_json()["fields"] == []
    answer = client.get(f"/api/v1/collections/posts/entries/trois/diff?from={first}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["from"]["version"] is None and body["to"]["commit"] == site.head
    assert {c["path"] for c in body["fields"]} == {"title", "hero", "tags"}
    assert all(c["change"] == "added" for c in body["fields"])
    side = site.repo.git.rev_parse("side")
    before_side = site.repo.git.rev_parse("side~1")
    nested = client.get(
        f"/api/v1/collections/posts/entries/premier/diff?from={before_side}&to={side}"
    ).get_json()
    assert nested["fields"] == [
        {"path": "hero.btn.url", "change": "changed", "old": "/a", "new": "/c"}
    ]
    edited = site.repo.git.rev_parse("main~3")  # "Edit", on main before the merge
    renamed = site.repo.git.rev_parse("main~4")
    older = client.get(
        f"/api/v1/collections/posts/entries/premier/diff?from={renamed}&to={edited}"
    ).get_json()
    assert {"path": "title", "change": "changed", "old": "Un, encore", "new": "Premier"} in older[
        "fields"
    ]
    assert "+Et plus." in older["body"] and older["body"].startswith("--- posts/premier.md@")
    assert client.get("/api/v1/collections/posts/entries/premier/diff").status_code == 400
    assert client.get("/api/v1/collections/posts/entries/nope/diff?from=main").status_code == 404
    assert client.get("/api/v1/collections/posts/entries/premier/diff?from=nope").status_code == 404


def test_restore_writes_a_past_version_as_one_commit(make_site, tmp_path) -> None:
    site = history_site(make_site)
    app = make_app(site.path, tmp_path / "instance")
    client = app.test_client()
    auth = bearer(app, "editor")
    url = "/api/v1/collections/posts/entries/premier"
    current = client.get(url).get_json()["version"]
    versions = client.get(f"{url}/history").get_json()
    oldest = versions[-1]  # `un` as first written, under its old path
    head = site.head

    assert client.post(f"{url}/restore", json={"version": oldest["version"]}).status_code == 401
    missing = client.post(f"{url}/restore", json={"version": oldest["version"]}, headers=auth)
    assert missing.status_code == 428
    stale = client.post(
        f"{url}/restore", json={"version": oldest["version"]}, headers={**auth, "If-Match": '"x"'}
    )
    assert stale.status_code == 412
    unknown = client.post(
        f"{url}/restore", json={"version": "nope"}, headers={**auth, "If-Match": current}
    )
    assert unknown.status_code == 404
    assert site.head == head

    restored = client.post(
        f"{url}/restore", json={"version": oldest["version"]}, headers={**auth, "If-Match": current}
    )
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["version"] == oldest["version"]
    assert site.head != head and site.repo.git.rev_parse(f"{site.head}~1") == head
    assert site.repo.git.rev_parse(f"{site.head}:posts/premier.md") == oldest["version"]
    assert site.repo.head.commit.message.startswith("Restore Posts “premier” to ")
    assert site.repo.git.status("--porcelain") == ""

    # By ref: the state at the commit that renamed it; restoring the current one is no commit.
    renamed = next(v for v in versions if v["change"] == "renamed")
    again = client.post(
        f"{url}/restore",
        json={"version": renamed["commit"], "message": "Back to the rename"},
        headers={**auth, "If-Match": oldest["version"]},
    )
    assert again.status_code == 200 and again.get_json()["version"] == renamed["version"]
    assert site.repo.head.commit.message.strip() == "Back to the rename"
    same = site.head
    noop = client.post(
        f"{url}/restore",
        json={"version": renamed["version"]},
        headers={**auth, "If-Match": renamed["version"]},
    )
    assert noop.status_code == 200 and site.head == same


# -- changesets ---------------------------------------------------------------------------------


def versions(client) -> dict[str, str]:
    listed = client.get("/api/v1/collections/posts/entries").get_json()
    return {e["slug"]: e["version"] for e in listed}


def test_a_changeset_makes_one_commit_or_none(make_site, tmp_path) -> None:
    site = history_site(make_site)
    app = make_app(site.path, tmp_path / "instance")
    client = app.test_client()
    auth = bearer(app, "editor")
    now = versions(client)
    head = site.head
    good = [
        {
            "op": "patch",
            "collection": "posts",
            "slug": "premier",
            "fields": {"hero": {"btn": {"url": "/d"}}},
            "if_match": now["premier"],
        },
        {"op": "delete", "collection": "posts", "slug": "trois", "if_match": now["trois"]},
        {
            "op": "create",
            "collection": "posts",
            "slug": "quatre",
            "fields": {"title": "Quatre"},
            "body": "Texte.",
        },
    ]
    failing = [
        *good[:2],
        {
            "op": "create",
            "collection": "posts",
            "slug": "cinq",
            "fields": {"title": 5},
            "body": "x",
        },
    ]
    bad = client.post(
        "/api/v1/changesets", json={"message": "Trois choses", "operations": failing}, headers=auth
    )
    assert bad.status_code == 422 and "2" in bad.get_json()["errors"]["operations"]
    stale = [{**good[0], "if_match": now["trois"]}, good[1]]
    refused = client.post(
        "/api/v1/changesets", json={"message": "x", "operations": stale}, headers=auth
    )
    assert refused.status_code == 412 and "0" in refused.get_json()["errors"]["operations"]
    unmatched = [{k: v for k, v in good[1].items() if k != "if_match"}]
    assert (
        client.post(
            "/api/v1/changesets", json={"message": "x", "operations": unmatched}, headers=auth
        ).status_code
        == 428
    )
    empty_base = client.post(
        "/api/v1/changesets",
        json={"message": "x", "base": "", "operations": good},
        headers=auth,
    )
    assert empty_base.status_code == 422 and "base" in empty_base.get_json()["errors"]["json"]
    assert site.head == head and site.repo.git.status("--porcelain") == ""

    landed = client.post(
        "/api/v1/changesets",
        json={"message": "Trois choses", "base": head, "operations": good},
        headers=auth,
    )
    assert landed.status_code == 201, landed.get_json()
    body = landed.get_json()
    assert body["commit"] == site.head and site.repo.git.rev_parse(f"{site.head}~1") == head
    assert site.repo.head.commit.message.strip() == "Trois choses"
    assert [(o["op"], o["slug"], o["version"] is None) for o in body["operations"]] == [
        ("patch", "premier", False),
        ("delete", "trois", True),
        ("create", "quatre", False),
    ]
    changed = site.repo.git.diff("--name-status", head, site.head).splitlines()
    assert sorted(changed) == ["A\tposts/quatre.md", "D\tposts/trois.md", "M\tposts/premier.md"]
    assert site.repo.git.status("--porcelain") == ""


def test_a_changeset_lands_on_a_moved_branch_unless_its_entries_moved(make_site, tmp_path) -> None:
    site = history_site(make_site)
    app = make_app(site.path, tmp_path / "instance")
    client = app.test_client()
    auth = bearer(app, "editor")
    base = site.head
    now = versions(client)
    site.commit({"posts/trois.md": post("Trois, revu")}, "Someone else edits trois")
    moved = site.head
    disjoint = [
        {"op": "patch", "collection": "posts", "slug": "premier", "fields": {"title": "P"},
         "if_match": now["premier"]},
    ]  # fmt: skip
    landed = client.post(
        "/api/v1/changesets",
        json={"message": "Disjoint", "base": base, "operations": disjoint},
        headers=auth,
    )
    assert landed.status_code == 201
    assert site.repo.git.rev_parse(f"{site.head}~1") == moved
    overlapping = [
        {"op": "patch", "collection": "posts", "slug": "trois", "fields": {"title": "T"},
         "if_match": now["trois"]},
    ]  # fmt: skip
    head = site.head
    clash = client.post(
        "/api/v1/changesets",
        json={"message": "Overlap", "base": base, "operations": overlapping},
        headers=auth,
    )
    assert clash.status_code == 409
    assert clash.get_json()["errors"]["conflicts"] == [
        {"operation": 0, "collection": "posts", "slug": "trois"}
    ]
    assert site.head == head


def test_concurrent_changesets_on_disjoint_entries_both_land(make_site, tmp_path) -> None:
    import threading

    site = history_site(make_site)
    app = make_app(site.path, tmp_path / "instance")
    auth = bearer(app, "editor")
    base = site.head
    now = versions(app.test_client())
    answers: dict[str, int] = {}

    def send(slug: str) -> None:
        operations = [
            {"op": "patch", "collection": "posts", "slug": slug,
             "fields": {"title": f"{slug} en même temps"}, "if_match": now[slug]},
        ]  # fmt: skip
        response = app.test_client().post(
            "/api/v1/changesets",
            json={"message": f"Edit {slug}", "base": base, "operations": operations},
            headers=auth,
        )
        answers[slug] = response.status_code

    threads = [threading.Thread(target=send, args=(slug,)) for slug in ("premier", "trois")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {"premier": 201, "trois": 201}
    log = site.repo.git.log("--format=%s", f"{base}..main").splitlines()
    assert sorted(log) == ["Edit premier", "Edit trois"]
    assert site.repo.git.status("--porcelain") == ""


# -- drafts as branches ---------------------------------------------------------------------------


def test_draft_branch_edit_preview_publish(make_site, tmp_path) -> None:
    site = history_site(make_site)
    site.repo.git.branch("-D", "side")
    app = make_app(site.path, tmp_path / "instance")
    client = app.test_client()
    editor, admin = bearer(app, "editor"), bearer(app, "admin", name="Admin", email="a@x.org")
    draft = "cms/posts/premier"
    for bad in ("a..b", "-x", "x.lock", "a b", "x~1", "@"):
        assert client.post("/api/v1/branches", json={"name": bad}, headers=editor).status_code in (
            400,
            422,
        ), bad
    assert client.post("/api/v1/branches", json={"name": draft}).status_code == 401
    made = client.post("/api/v1/branches", json={"name": draft}, headers=editor)
    assert made.status_code == 201 and made.get_json()["commit"] == site.head
    assert client.post("/api/v1/branches", json={"name": draft}, headers=editor).status_code == 409

    now = versions(client)
    for slug in ("premier", "trois"):
        edit = client.patch(
            f"/api/v1/collections/posts/entries/{slug}?branch={draft}",
            json={"fields": {"title": f"{slug} (brouillon)"}},
            headers={**editor, "If-Match": now[slug]},
        )
        assert edit.status_code == 200
    published = client.get("/api/v1/collections/posts/entries/premier").get_json()
    assert published["fields"]["title"] == "Premier"
    preview = client.get(f"/api/v1/collections/posts/entries?ref={draft}", headers=editor)
    assert {e["fields"]["title"] for e in preview.get_json()} == {
        "premier (brouillon)",
        "trois (brouillon)",
    }
    listed = {b["name"]: b for b in client.get("/api/v1/branches", headers=editor).get_json()}
    assert listed[draft]["ahead"] == 2 and listed[draft]["behind"] == 0
    assert listed["main"]["published"]
    diff = client.get(
        f"/api/v1/collections/posts/entries/premier/diff?from=main&to={draft}", headers=editor
    ).get_json()
    assert diff["fields"] == [
        {"path": "title", "change": "changed", "old": "Premier", "new": "premier (brouillon)"}
    ]

    assert (
        client.post(f"/api/v1/branches/{draft}/publish", json={}, headers=editor).status_code == 403
    )
    done = client.post(f"/api/v1/branches/{draft}/publish", json={}, headers=admin)
    assert done.status_code == 200 and done.get_json()["fast_forward"] is True
    assert site.repo.git.rev_parse("main") == site.repo.git.rev_parse(draft)
    assert site.repo.git.status("--porcelain") == ""
    assert (
        (site.path / "posts/premier.md").read_text().startswith("---\ntitle: premier (brouillon)")
    )
    history = client.get("/api/v1/collections/posts/entries/premier/history").get_json()
    assert history[0]["message"].startswith("Update") and history[0]["change"] == "modified"
    again = client.post(f"/api/v1/branches/{draft}/publish", json={}, headers=admin).get_json()
    assert again["changed"] is False
    assert client.delete(f"/api/v1/branches/{draft}", headers=editor).status_code == 204
    assert client.delete("/api/v1/branches/main", headers=editor).status_code == 409


def test_publish_merges_or_refuses_a_conflict(make_site, tmp_path) -> None:
    site = history_site(make_site)
    site.repo.git.branch("-D", "side")
    app = make_app(site.path, tmp_path / "instance")
    client = app.test_client()
    editor, admin = bearer(app, "editor"), bearer(app, "admin", name="Admin", email="a@x.org")
    now = versions(client)
    for name in ("disjoint", "clash"):
        assert (
            client.post("/api/v1/branches", json={"name": name}, headers=editor).status_code == 201
        )
    client.patch(
        "/api/v1/collections/posts/entries/premier?branch=disjoint",
        json={"fields": {"title": "Sur la branche"}},
        headers={**editor, "If-Match": now["premier"]},
    )
    client.patch(
        "/api/v1/collections/posts/entries/trois?branch=clash",
        json={"fields": {"title": "Sur la branche"}},
        headers={**editor, "If-Match": now["trois"]},
    )
    client.patch(  # the published branch moves: trois changes there too
        "/api/v1/collections/posts/entries/trois",
        json={"fields": {"title": "Publié entre-temps"}},
        headers={**editor, "If-Match": now["trois"]},
    )
    head = site.head
    listed = {b["name"]: b for b in client.get("/api/v1/branches", headers=editor).get_json()}
    assert (listed["clash"]["ahead"], listed["clash"]["behind"]) == (1, 1)

    refused = client.post("/api/v1/branches/clash/publish", json={}, headers=admin)
    assert refused.status_code == 409
    assert refused.get_json()["errors"]["conflicts"] == [
        {"path": "posts/trois.md", "collection": "posts", "slug": "trois"}
    ]
    assert site.head == head and site.repo.git.status("--porcelain") == ""

    merged = client.post(
        "/api/v1/branches/disjoint/publish", json={"message": "Publier premier"}, headers=admin
    )
    assert merged.status_code == 200 and merged.get_json()["fast_forward"] is False
    commit = site.repo.head.commit
    assert [p.hexsha for p in commit.parents] == [head, site.repo.git.rev_parse("disjoint")]
    assert commit.message.strip() == "Publier premier" and commit.author.name == "Admin"
    assert site.repo.git.status("--porcelain") == ""
    titles = {e["slug"]: e["fields"]["title"] for e in client.get(
        "/api/v1/collections/posts/entries").get_json()}  # fmt: skip
    assert titles == {"premier": "Sur la branche", "trois": "Publié entre-temps"}
