"""Hostile files in the content repository and hostile requests: each is a problem on that entry
or a clear 4xx, never a 500 elsewhere, and nothing is written that does not read back as sent."""

from __future__ import annotations

import json
import os
import time

import pytest

from cms.index import limit as sql_limit
from tests.conftest import bearer, make_app
from tests.test_api_writes import Repo, git

CONFIG = """
collections:
  - name: notes
    label: Notes
    folder: notes
    create: true
    delete: true
    fields:
      - {name: title, label: Title, required: false}
      - {name: body, label: Body, widget: markdown, required: false}
  - name: wiki
    label: Wiki
    folder: wiki
    create: true
    nested: {depth: 3}
    fields:
      - {name: title, label: Title}
"""
NOTES = "/api/v1/collections/notes/entries"


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * width) + "]")
    return "---\n" + "\n".join(lines) + "\n---\nboom\n"


@pytest.fixture
def hostile(make_site, tmp_path):
    deep = '{"title": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}\nbody\n"
    site = make_site(
        {
            "admin/config.yml": CONFIG,
            "notes/fine.md": "---\ntitle: Fine\n---\nFine body.\n",
            "notes/plain.md": "Just a body, no front matter.\n",
            "notes/deep.md": deep,
            "notes/bomb.md": alias_bomb(),
            "notes/loop.md": "---\ntitle: &t [*t]\n---\n",
            "notes/tall.md": "---\n"
            + "a:\n"
            + "".join("  " * n + "b:\n" for n in range(1, 300))
            + "---\n",
            "wiki/page.md": "---\ntitle: Page\n---\n",
            "secret.md": "---\ntitle: Secret\n---\nOutside the collection.\n",
        }
    )
    os.symlink("../secret.md", site.path / "notes" / "link.md")
    os.symlink("/etc", site.path / "wiki" / "out")
    git(site.path, "add", "notes/link.md", "wiki/out")
    git(site.path, "commit", "-q", "-m", "Links")
    app = make_app(site.path, tmp_path / "instance")
    return app, app.test_client(), Repo(site.path)


# -- 8, 9: deep nesting and alias bombs -----------------------------------------------------------


def test_deep_files_and_alias_bombs_are_problems_on_their_entry(hostile) -> None:
    _, client, _ = hostile
    start = time.monotonic()
    for slug, problem in [
        ("deep", "nested more than 100 levels"),
        ("bomb", "YAML aliases expand it"),
        ("loop", "contains itself"),
        ("tall", "nested more than 100 levels"),
    ]:
        answer = client.get(f"{NOTES}/{slug}")
        assert answer.status_code == 200, slug
        assert any(problem in p["message"] for p in answer.get_json()["problems"]), slug
    listed = client.get(NOTES + "?page_size=100")
    assert listed.status_code == 200
    assert "fine" in {e["slug"] for e in listed.get_json()}
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/collections/wiki/entries").status_code == 200
    assert client.get("/api/v1/search?q=fine").status_code == 200
    assert time.monotonic() - start < 10  # a 399-byte bomb used to take 15 s and 1.2 GB


def test_a_deep_entry_can_be_deleted_and_a_deep_body_is_a_400(hostile) -> None:
    app, client, repo = hostile
    editor = bearer(app)
    deep = client.get(f"{NOTES}/deep")
    gone = client.delete(f"{NOTES}/deep", headers={**editor, "If-Match": deep.headers["ETag"]})
    assert gone.status_code == 204
    repo.assert_one_commit()
    nested: object = "x"
    for _ in range(10_000):
        nested = [nested]
    body = '{"fields": {"title": ' + "[" * 10_000 + "]" * 10_000 + "}}"
    refused = client.post(NOTES, data=body, headers={**editor, "Content-Type": "application/json"})
    assert refused.status_code == 400
    assert "nested more than 100 levels" in refused.get_json()["message"]
    refused = client.post(
        NOTES,
        data='{"fields": {"title": ' + "[" * 150 + "]" * 150 + "}}",
        headers={**editor, "Content-Type": "application/json"},
    )
    assert refused.status_code == 400
    repo.assert_unchanged()


def test_restoring_an_alias_bomb_is_a_422(hostile) -> None:
    app, client, repo = hostile
    fine = client.get(f"{NOTES}/fine")
    bomb = client.get(f"{NOTES}/bomb").get_json()["version"]
    git(repo.path, "mv", "notes/bomb.md", "notes/old.md")
    restored = client.post(
        f"{NOTES}/fine/restore",
        json={"version": bomb},
        headers={**bearer(app), "If-Match": fine.headers["ETag"]},
    )
    assert restored.status_code in (404, 422)
    assert repo.head() == repo.before


# -- 10: a body stays a body ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "---\nunknown_key: 42\nx: &a [*a]\n---\nInjected.\n",
        "+++\nunknown_key = 42\n+++\nInjected.\n",
        '{"unknown_key": 42}\nInjected.\n',
    ],
)
def test_a_body_that_looks_like_front_matter_stays_the_body(hostile, body) -> None:
    app, client, repo = hostile
    plain = client.get(f"{NOTES}/plain")
    assert plain.get_json()["fields"] == {}
    patched = client.patch(
        f"{NOTES}/plain",
        json={"body": body},
        headers={**bearer(app), "If-Match": plain.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.get_json()
    again = client.get(f"{NOTES}/plain").get_json()
    assert again["fields"] == {}
    assert again["body"] == body
    assert again["problems"] == []
    repo.assert_one_commit()


def test_a_long_block_scalar_never_ends_the_front_matter(hostile) -> None:
    app, client, _repo = hostile
    fine = client.get(f"{NOTES}/fine")
    patched = client.patch(
        f"{NOTES}/fine",
        json={"fields": {"title": "\n:\n\n"}},
        headers={**bearer(app), "If-Match": fine.headers["ETag"]},
    )
    assert patched.status_code == 200
    again = client.get(f"{NOTES}/fine").get_json()
    assert again["fields"]["title"] == "\n:\n\n"
    assert again["body"] == "Fine body.\n"


# -- 11: symbolic links ---------------------------------------------------------------------------


def test_symlinks_are_never_entries(hostile) -> None:
    app, client, repo = hostile
    assert client.get(f"{NOTES}/link").status_code == 404
    head = repo.head()
    assert client.get(f"{NOTES}/link?ref={head}").status_code == 404
    listed = {e["slug"] for e in client.get(NOTES + "?page_size=100").get_json()}
    assert "link" not in listed
    assert client.get("/api/v1/search?q=outside").get_json() == []
    patched = client.patch(
        f"{NOTES}/link", json={"body": "x"}, headers={**bearer(app), "If-Match": "*"}
    )
    assert patched.status_code == 404
    created = client.post(
        NOTES, json={"slug": "link", "fields": {"title": "x"}}, headers=bearer(app)
    )
    assert created.status_code in (409, 422)
    assert (repo.path / "secret.md").read_text().endswith("Outside the collection.\n")
    repo.assert_unchanged()


def test_no_write_goes_through_a_symlinked_folder(hostile) -> None:
    app, client, repo = hostile
    wiki = "/api/v1/collections/wiki/entries"
    answers = [
        client.post(
            wiki, json={"slug": f"out/{name}", "fields": {"title": "x"}}, headers=bearer(app)
        )
        for name in ("passwd", "no-such-file-here")  # /etc/passwd.md or not: the same answer
    ]
    assert {a.status_code for a in answers} == {422}
    assert answers[0].get_json()["message"] == answers[1].get_json()["message"].replace(
        "no-such-file-here", "passwd"
    )
    repo.assert_unchanged()


# -- 12: rendered HTML ----------------------------------------------------------------------------

PAYLOADS = [
    '<td style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999">x</td>',
    '<th style="background:url(https://evil.example/x.png)">x</th>',
    '<td style="width:expression(alert(1))">x</td>',
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    '<svg><animate onbegin="alert(1)"/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<div style="display:none">hidden</div>',
    "<style>body{display:none}</style>",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
]


def test_rendered_html_keeps_no_script_and_no_dangerous_css(hostile) -> None:
    app, client, _ = hostile
    fine = client.get(f"{NOTES}/fine")
    body = "| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n<table><tr>" + "".join(PAYLOADS) + "</tr></table>\n"
    client.patch(
        f"{NOTES}/fine",
        json={"body": body},
        headers={**bearer(app), "If-Match": fine.headers["ETag"]},
    )
    html = client.get(f"{NOTES}/fine?render=html").get_json()["html"]
    for bad in ("position", "url(", "expression", "<script", "onerror", 'href="javascript'):
        assert bad not in html
    for bad in ("onbegin", "<iframe", "<style", "display", 'href="data:'):
        assert bad not in html
    assert 'style="text-align:center"' in html


# -- 13: bounded memory ---------------------------------------------------------------------------


def test_the_entry_cache_is_bounded_by_bytes(hostile) -> None:
    app, _, _ = hostile
    cache = app.extensions["cms"].entries
    assert cache.max_bytes is not None and cache.max_bytes <= 256 << 20


def test_an_index_of_another_version_opens_no_connection_per_request(hostile) -> None:
    app, client, _ = hostile
    catalog = app.extensions["cms.index"]
    assert client.get(NOTES).status_code == 200
    catalog.current().db.execute("UPDATE meta SET value = 'old' WHERE key = 'version'")

    def open_files() -> int:
        return sum(
            1
            for fd in os.listdir("/proc/self/fd")
            if os.path.realpath(f"/proc/self/fd/{fd}") == str(catalog.path)
        )

    os.utime(catalog.path)
    before = open_files()
    for _ in range(30):
        client.get("/api/v1/collections/notes/entries/fine")
    assert open_files() <= before


# -- 14-16: HTTP semantics ------------------------------------------------------------------------


def test_cheap_500s_are_4xx(hostile) -> None:
    app, client, _ = hostile
    fine = client.get(f"{NOTES}/fine")
    etag = fine.headers["ETag"]
    odd = client.patch(
        f"{NOTES}/fine", json={"body": "x"}, headers={**bearer(app), "If-Match": '"a", ""'}
    )
    assert odd.status_code == 412
    for url in (NOTES, "/api/v1/search?q=fine&x=1", f"{NOTES}/fine/history"):
        joiner = "&" if "?" in url else "?"
        answer = client.get(f"{url}{joiner}page=9223372036854775808")
        assert answer.status_code == 400, url
    many = ",".join(str(n) for n in range(300))
    assert client.get(f"{NOTES}?filter[title][in]={many}").status_code == 400
    assert client.get(f"{NOTES}?filter[title][in]=" + ",".join("ab" * 50)).status_code == 200
    assert etag


def test_history_of_a_slug_outside_latin_1(make_site, tmp_path) -> None:
    site = make_site({"admin/config.yml": CONFIG, "notes/hugo-ste\u0301phan.md": "x\n"})
    client = make_app(site.path, tmp_path / "i").test_client()
    answer = client.get("/api/v1/collections/notes/entries/hugo-ste%CC%81phan/history")
    assert answer.status_code == 200
    assert "hugo-ste%CC%81phan" in answer.headers["Link"]
    answer.headers["Link"].encode("latin-1")


def test_etags_compare_weakly_for_reads_and_strongly_for_writes(hostile) -> None:
    app, client, repo = hostile
    fine = client.get(f"{NOTES}/fine")
    weak = "W/" + fine.headers["ETag"]
    assert client.get(f"{NOTES}/fine", headers={"If-None-Match": weak}).status_code == 304
    listed = client.get(NOTES)
    again = client.get(NOTES, headers={"If-None-Match": "W/" + listed.headers["ETag"]})
    assert again.status_code == 304
    refused = client.patch(
        f"{NOTES}/fine", json={"body": "x"}, headers={**bearer(app), "If-Match": weak}
    )
    assert refused.status_code == 412
    repo.assert_unchanged()


def test_a_405_names_the_methods_allowed(hostile) -> None:
    app, client, _ = hostile
    answer = client.put(f"{NOTES}/fine/history", headers=bearer(app))
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert answer.get_json()["message"]
    answer = client.delete("/api/v1/refs")
    assert answer.status_code == 405 and "GET" in answer.headers["Allow"]


def test_message_q_from_and_since_are_checked_as_documented(hostile) -> None:
    app, client, _ = hostile
    fine = client.get(f"{NOTES}/fine")
    empty = client.patch(
        f"{NOTES}/fine",
        json={"body": "x", "message": ""},
        headers={**bearer(app), "If-Match": fine.headers["ETag"]},
    )
    assert empty.status_code == 422
    assert client.get(f"{NOTES}?q=").status_code == 400
    assert client.get(f"{NOTES}/fine/diff?from=").status_code == 400
    assert client.get("/api/v1/sync?since=").status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    entries = spec["paths"]["/api/v1/collections/{collection}/entries"]["get"]
    q = next(p for p in entries["parameters"] if p["name"] == "q")
    assert q["schema"]["minLength"] == 1
    sync = spec["paths"]["/api/v1/sync"]["get"]
    since = next(p for p in sync["parameters"] if p["name"] == "since")
    assert "pattern" not in since["schema"]  # any ref: `main~5` too
    patch = spec["components"]["schemas"]["EntryPatch"]["properties"]["message"]
    assert patch["minLength"] == 1
    assert spec["paths"]["/api/v1/refs"]["get"]["responses"]["default"]


def test_a_path_named_like_a_file_is_refused(hostile) -> None:
    app, client, repo = hostile
    wiki = "/api/v1/collections/wiki/entries"
    answer = client.post(
        wiki, json={"slug": "page.md/x", "fields": {"title": "x"}}, headers=bearer(app)
    )
    assert answer.status_code == 422
    assert "is a file" in answer.get_json()["message"] or "regular" in answer.get_json()["message"]
    repo.assert_unchanged()


def test_parses_made_by_older_rules_are_dropped(tmp_path) -> None:
    from cms.content.parsed import Documents, pack

    path = tmp_path / "parsed.sqlite"
    documents = Documents(path, lambda blob: b"---\ntitle: New\n---\n")
    db = documents._connection()
    db.execute(
        "INSERT INTO docs VALUES (?, 'frontmatter', ?)",
        (bytes.fromhex("b1"), pack('{"title": "Old"}', "", "[]")),
    )
    db.execute("UPDATE meta SET value = '1' WHERE key = 'parser'")
    documents.close()
    reopened = Documents(path, lambda blob: b"---\ntitle: New\n---\n")
    assert reopened.get("b1", "frontmatter").data == {"title": "New"}
    reopened.close()


def test_a_query_past_the_time_limit_is_stopped_and_the_server_goes_on(
    make_site, tmp_path, monkeypatch
):
    monkeypatch.setattr(sql_limit, "CHECK_EVERY", 1_000)  # the small site's queries are short
    files = {"admin/config.yml": CONFIG}
    for number in range(400):
        files[f"notes/n{number:03d}.md"] = f"---\ntitle: Note {number} fine words\n---\nBody.\n"
    site = make_site(files)
    app = make_app(site.path, tmp_path / "i", CMS_SQL_TIME_LIMIT_MS="0.000001")
    client = app.test_client()
    url = f"{NOTES}?sort=-title&filter[title][contains]=fine&page_size=100"
    stopped = client.get(url)
    assert stopped.status_code == 400
    assert "CMS_SQL_TIME_LIMIT_MS" in stopped.get_json()["message"]
    assert client.get("/api/v1/search?q=fine").status_code == 400
    assert client.get(f"{NOTES}/n001").status_code == 200
    assert client.get("/readyz").status_code == 200
    for limit, folder in (("0", "j"), ("1000", "k")):
        other = make_app(site.path, tmp_path / folder, CMS_SQL_TIME_LIMIT_MS=limit)
        assert len(other.test_client().get(url).get_json()) == 100


def test_a_nul_in_a_commit_message_is_refused_and_nothing_is_written(hostile) -> None:
    """git fsck --strict refuses a commit whose message holds a NUL byte (nulInCommit)."""
    app, client, site = hostile
    head = site.head
    fine = client.get(f"{NOTES}/fine")
    for answer in (
        client.patch(
            f"{NOTES}/fine",
            json={"body": "x", "message": "a\u0000b"},
            headers={**bearer(app), "If-Match": fine.headers["ETag"]},
        ),
        client.delete(
            f"{NOTES}/fine?message=a%00b", headers={**bearer(app), "If-Match": fine.headers["ETag"]}
        ),
        client.post(
            "/api/v1/changesets",
            json={"message": "a\u0000b", "operations": [
                {"op": "patch", "collection": "notes", "slug": "fine",
                 "if_match": fine.headers["ETag"].strip('"'), "fields": {"title": "T"}}
            ]},
            headers=bearer(app),
        ),
    ):  # fmt: skip
        assert answer.status_code in (400, 422), answer.get_json()
        assert "NUL" in json.dumps(answer.get_json()) or answer.status_code == 422
    assert site.head == head


@pytest.mark.parametrize("message", ["\x1c", " \u2028\t", "x" * 10_001])
def test_a_message_given_in_the_query_is_checked_as_one_in_a_body(hostile, message) -> None:
    """A delete's `?message=` follows the rules of a body's `message`: not only white space
    (as Python and git count it: git strips it to nothing and refuses an empty message), at
    most 10,000 characters. Refused with a 422 naming it, and nothing is written."""
    app, client, site = hostile
    head = site.head
    fine = client.get(f"{NOTES}/fine")
    answer = client.delete(
        f"{NOTES}/fine", query_string={"message": message},
        headers={**bearer(app), "If-Match": fine.headers["ETag"]},
    )  # fmt: skip
    assert answer.status_code == 422, answer.get_json()
    assert "message" in json.dumps(answer.get_json())
    assert site.head == head
    assert client.get(f"{NOTES}/fine").status_code == 200
