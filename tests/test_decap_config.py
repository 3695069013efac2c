"""Decap configs and files read as Decap reads them, each from a minimal snippet."""

from __future__ import annotations

import threading

import pytest

from cms.content.document import parse
from cms.content.validation import validate
from cms.errors import ConfigError
from tests.conftest import bearer, make_app

CAMEL = """
collections:
  - name: authors
    label: Authors
    folder: authors
    create: true
    fields:
      - {name: name, label: Name}
      - {name: age, label: Age, widget: number, valueType: int, required: false}
  - name: posts
    label: Posts
    folder: posts
    create: true
    fields:
      - {name: title, label: Title}
      - name: author
        widget: relation
        collection: authors
        valueField: name
        searchFields: [name]
        displayFields: [name]
      - {name: date, widget: datetime, dateFormat: DD.MM.YYYY, timeFormat: false, required: false}
"""


def test_camel_case_widget_options_are_read_as_decap_reads_them(make_site, tmp_path) -> None:
    site = make_site(
        {
            "admin/config.yml": CAMEL,
            "authors/ada.md": "---\nname: Ada\nage: 36.5\n---\n",
            "posts/first.md": "---\ntitle: First\nauthor: Ada\n---\n",
        }
    )
    app = make_app(site.path, tmp_path / "i")  # used to stop: "a relation widget needs value_field"
    client = app.test_client()
    post = client.get("/api/v1/collections/posts/entries/first?include=author")
    assert post.status_code == 200
    assert post.get_json()["problems"] == []
    listed = client.get("/api/v1/collections/posts/entries?include=author").get_json()
    assert listed[0]["included"]["author"]["slug"] == "ada"
    ada = client.get("/api/v1/collections/authors/entries/ada").get_json()
    assert [p["field"] for p in ada["problems"]] == ["age"]  # valueType: int is applied
    findings = validate(app.extensions["cms"].snapshot())
    warnings = [f.line() for f in findings if f.severity == "warning"]
    assert any("'valueField' is deprecated" in w and "'value_field'" in w for w in warnings)
    assert any("posts.date" in w and "'dateFormat'" in w for w in warnings)
    described = client.get("/api/v1/collections/posts").get_json()
    author = next(f for f in described["fields"] if f["name"] == "author")
    assert author["value_field"] == "name" and "valueField" not in author


UNQUOTED_SLUG = """
collections:
  - name: redirects
    label: Redirects
    folder: redirects
    create: true
    slug: {{slug}}
    fields:
      - {name: title, label: Title}
"""


def test_a_slug_template_that_is_not_a_string_is_a_config_problem(make_site, tmp_path) -> None:
    site = make_site(
        {"admin/config.yml": UNQUOTED_SLUG, "redirects/old.md": "---\ntitle: Old\n---\n"}
    )
    app = make_app(site.path, tmp_path / "i")
    client = app.test_client()
    assert client.get("/api/v1/collections/redirects/entries/old").status_code == 200
    described = client.get("/api/v1/collections/redirects").get_json()
    assert described["slug"] == "{{slug}}"
    assert "line 6" in described["problems"][0] and "not a string" in described["problems"][0]
    findings = [f.line() for f in validate(app.extensions["cms"].snapshot())]
    assert any("line 6" in f and "not a string" in f for f in findings)
    before = site.head
    made = client.post(
        "/api/v1/collections/redirects/entries",
        json={"fields": {"title": "New"}},
        headers=bearer(app),
    )
    assert made.status_code == 409
    assert "line 6" in made.get_json()["message"]
    assert site.head == before
    assert not any("ordereddict" in p.name for p in (site.path / "redirects").iterdir())


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("---\ntags:\n  - melody\t\n  - rock\n---\n", {"tags": ["melody", "rock"]}),
        ("---\ntitle: Titre\t \t\nn: 1\n---\n", {"title": "Titre", "n": 1}),
        ("---\na: |\n  keep\t\n---\n", {"a": "keep\t\n"}),
    ],
)
def test_a_trailing_tab_after_a_value_is_white_space(text, fields) -> None:
    document = parse(text.encode())
    assert document.problems == []
    assert document.data == fields


def test_a_tab_that_yaml_refuses_is_named() -> None:
    document = parse(b"---\n\tb: 1\n---\n")
    assert document.data == {}
    assert "line 2" in document.problems[0] and "'\\t'" in document.problems[0]


def test_refs_with_ancestry_on_every_ref_parameter(make_site, tmp_path) -> None:
    site = make_site(
        {"admin/config.yml": UNQUOTED_SLUG, "redirects/old.md": "---\ntitle: Old\n---\n"}
    )
    site.commit({"redirects/old.md": "---\ntitle: Newer\n---\n"}, "Edit")
    client = make_app(site.path, tmp_path / "i").test_client()
    entry = "/api/v1/collections/redirects/entries/old"
    assert client.get(f"{entry}?ref=HEAD~1").get_json()["fields"]["title"] == "Old"
    assert client.get(f"{entry}?ref=main^").get_json()["fields"]["title"] == "Old"
    assert client.get(f"{entry}?ref=HEAD").get_json()["fields"]["title"] == "Newer"
    listed = client.get("/api/v1/collections/redirects/entries?ref=main~1").get_json()
    assert listed[0]["fields"]["title"] == "Old"
    diff = client.get(f"{entry}/diff?from=HEAD~1&to=HEAD").get_json()
    assert diff["fields"][0]["old"] == "Old"
    sync = client.get("/api/v1/sync?since=main~1").get_json()
    assert [item["slug"] for item in sync["items"]] == ["old"]
    assert client.get(f"{entry}?ref=main~5").status_code == 404
    assert client.get(f"{entry}?ref=main~1:x").status_code == 400


LEGACY = """
collections:
  - name: people
    label: People
    folder: people
    create: true
    fields:
      - {name: title, label: Name}
      - {name: role, label: Role, widget: select, options: [eig, sponsor]}
      - {name: links, label: Links, widget: list, min: 1}
      - {name: bio, label: Bio, widget: markdown, required: false}
"""


def test_legacy_problems_do_not_block_an_edit_of_another_field(make_site, tmp_path) -> None:
    files = {"admin/config.yml": LEGACY}
    for number in range(20):
        # Years old: a required list left empty, a role no longer offered, a duplicate key.
        duplicate = "title: Doublon\n" if number % 3 == 0 else ""
        files[f"people/p{number:02d}.md"] = (
            f"---\ntitle: Person {number}\n{duplicate}role: alumni\nlinks: []\n---\nBio.\n"
        )
    site = make_site(files)
    app = make_app(site.path, tmp_path / "i")
    editor = bearer(app)
    before = site.head
    results: list[int] = [0] * 20

    def edit(number: int) -> None:
        client = app.test_client()
        url = f"/api/v1/collections/people/entries/p{number:02d}"
        current = client.get(url)
        answer = client.patch(
            url,
            json={"fields": {"bio": f"Bio {number}"}},
            headers={**editor, "If-Match": current.headers["ETag"]},
        )
        results[number] = answer.status_code
        if answer.status_code == 200:
            assert {p["field"] for p in answer.get_json()["problems"]} >= {"role", "links"}

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20
    commits = site.repo.git.rev_list(f"{before}..HEAD").split()
    assert len(commits) == 20
    # A problem the change itself introduces is still refused, and so is a bad create.
    client = app.test_client()
    current = client.get("/api/v1/collections/people/entries/p01")
    worse = client.patch(
        "/api/v1/collections/people/entries/p01",
        json={"fields": {"title": None}},
        headers={**editor, "If-Match": current.headers["ETag"]},
    )
    assert worse.status_code == 422
    assert list(worse.get_json()["errors"]["json"]["fields"]) == ["title"]
    created = client.post(
        "/api/v1/collections/people/entries",
        json={"fields": {"title": "New", "role": "alumni", "links": []}},
        headers=editor,
    )
    assert created.status_code == 422


DATES = """
collections:
  - name: events
    label: Events
    folder: events
    create: true
    fields:
      - {name: title, label: Title}
      - {name: day, label: Day, widget: datetime, format: DD/MM/YYYY, time_format: false}
      - {name: at, label: At, widget: datetime, required: false}
      - {name: old, label: Old, widget: date, required: false}
"""


def test_dates_are_real_calendar_dates_sorted_in_the_fields_format(make_site, tmp_path) -> None:
    site = make_site(
        {
            "admin/config.yml": DATES,
            "events/a.md": "---\ntitle: A\nday: 05/01/2025\nold: 2020-01-01\n---\n",
            "events/b.md": "---\ntitle: B\nday: 20/12/2024\n---\n",
            "events/c.md": "---\ntitle: C\nday: 29/02/2024\n---\n",
            "events/d.md": "---\ntitle: D\nday: 31/02/2024\nat: 2024-13-45 99:99:99 +01:00\n---\n",
            "events/e.md": "---\ntitle: E\nday: 01/03/2024\nold: 2020-02-30\n---\n",
        }
    )
    client = make_app(site.path, tmp_path / "i").test_client()
    url = "/api/v1/collections/events/entries"
    problems = {
        e["slug"]: sorted(p["field"] for p in e["problems"])
        for e in client.get(url + "?page_size=100").get_json()
    }
    assert problems == {"a": [], "b": [], "c": [], "d": ["at", "day"], "e": ["old"]}
    order = [e["slug"] for e in client.get(url + "?sort=day").get_json()]
    assert order[:4] == ["c", "e", "b", "a"]  # as dates, not as text ("01/03" < "05/01"...)
    since = client.get(url + "?filter[day][gte]=01/03/2024&sort=-day").get_json()
    assert [e["slug"] for e in since] == ["a", "b", "e"]
    iso = client.get(url + "?filter[day][lt]=2024-12-31&sort=day").get_json()
    assert [e["slug"] for e in iso] == ["c", "e", "b"]
    assert client.get(url + "?filter[day][gte]=31/02/2024").status_code == 400
    query_run = client.get(url + "?sort=day&q=A").get_json()
    assert [e["slug"] for e in query_run] == ["a"]


VIEWS = """
collections:
  - name: posts
    label: Posts
    folder: content/posts
    create: true
    sortable_fields: [date, title]
    view_filters:
      - {label: Drafts, field: draft, pattern: true}
    view_groups:
      - {label: Year, field: date, pattern: '\\d{4}'}
    index_file: _index
    meta: {path: {widget: string, label: Path, index_file: index}}
    fields:
      - {name: title, label: Title}
      - {name: date, label: Date, widget: date}
      - {name: draft, label: Draft, widget: boolean, required: false}
"""


def test_list_view_options_are_described(make_site, tmp_path) -> None:
    site = make_site(
        {"admin/config.yml": VIEWS, "content/posts/a.md": "---\ntitle: A\ndate: 2024-02-30\n---\n"}
    )
    client = make_app(site.path, tmp_path / "i").test_client()
    described = client.get("/api/v1/collections/posts").get_json()
    assert described["sortable_fields"] == ["date", "title"]
    assert described["view_filters"] == [{"label": "Drafts", "field": "draft", "pattern": True}]
    assert described["view_groups"][0]["field"] == "date"
    assert described["index_file"] == "_index"
    assert described["meta"]["path"]["widget"] == "string"
    entry = client.get("/api/v1/collections/posts/entries/a").get_json()
    assert [p["field"] for p in entry["problems"]] == ["date"]  # the date widget: a real date


REDIRECTS = """
collections:
  - name: redirects
    label: Redirects
    folder: redirects
    extension: json
    format: json
    create: true
    fields:
      - {name: from, label: From}
      - {name: to, label: To}
"""


def test_an_entry_with_an_empty_slug_is_listed_and_addressed(make_site, tmp_path) -> None:
    site = make_site(
        {
            "admin/config.yml": REDIRECTS,
            "redirects/.json": '{"from": "/", "to": "/fr"}\n',
            "redirects/old.json": '{"from": "/old", "to": "/new"}\n',
            "redirects/.hidden.json": '{"from": "/h", "to": "/h"}\n',
        }
    )
    app = make_app(site.path, tmp_path / "i")
    client = app.test_client()
    url = "/api/v1/collections/redirects/entries"
    assert [e["slug"] for e in client.get(url).get_json()] == ["", "old"]
    empty = client.get(f"{url}/.empty")
    assert empty.status_code == 200
    assert empty.get_json()["slug"] == "" and empty.get_json()["path"] == "redirects/.json"
    changed = client.patch(
        f"{url}/.empty",
        json={"fields": {"to": "/en"}},
        headers={**bearer(app), "If-Match": empty.headers["ETag"]},
    )
    assert changed.status_code == 200
    assert '"to": "/en"' in (site.path / "redirects" / ".json").read_text()
    assert client.get(f"{url}/.empty/history").get_json()[0]["message"].startswith("Update")
    assert client.get(f"{url}/.hidden").status_code == 404


SLUG_FIELD = """
collections:
  - name: authors
    label: Authors
    folder: authors
    fields:
      - {name: name, label: Name}
      - {name: slug, label: Slug}
  - name: posts
    label: Posts
    folder: posts
    fields:
      - {name: title, label: Title}
      - {name: by_field, widget: relation, collection: authors, value_field: slug}
      - {name: by_file, widget: relation, collection: authors, value_field: "{{slug}}"}
"""


def test_value_field_slug_reads_the_field_and_only_slug_in_braces_the_file(make_site, tmp_path):
    site = make_site(
        {
            "admin/config.yml": SLUG_FIELD,
            "authors/ada.md": "---\nname: Ada\nslug: ada-lovelace\n---\n",
            "posts/good.md": "---\ntitle: Good\nby_field: ada-lovelace\nby_file: ada\n---\n",
            "posts/bad.md": "---\ntitle: Bad\nby_field: ada\nby_file: ada-lovelace\n---\n",
        }
    )
    app = make_app(site.path, tmp_path / "i")
    client = app.test_client()
    url = "/api/v1/collections/posts/entries?include=by_field,by_file&sort=title"
    bad, good = client.get(url).get_json()
    assert good["included"]["by_field"]["slug"] == "ada"
    assert good["included"]["by_file"]["slug"] == "ada"
    assert bad["included"] == {"by_field": None, "by_file": None}
    findings = {(f.path, f.field) for f in validate(app.extensions["cms"].snapshot())}
    assert findings == {("posts/bad.md", "by_field"), ("posts/bad.md", "by_file")}
    assert client.get("/api/v1/collections/authors/entries?filter[slug]=ada").get_json()


LIST_IN_FILE = """
collections:
  - name: settings
    label: Settings
    files:
      - name: sections
        label: Sections
        file: data/sections.yml
        fields:
          - name: docs
            widget: list
            fields: [{name: identifier, label: Id}, {name: title, label: Title}]
      - name: other
        label: Other
        file: data/other.yml
        fields:
          - name: docs
            widget: list
            fields: [{name: identifier, label: Id}]
  - name: posts
    label: Posts
    folder: posts
    fields:
      - {name: title, label: Title}
      - name: section
        widget: relation
        collection: settings
        file: sections
        value_field: docs.*.identifier
        search_fields: [docs.*.title]
        display_fields: [docs.*.title]
"""


def test_a_relation_into_a_list_of_one_file(make_site, tmp_path) -> None:
    site = make_site(
        {
            "admin/config.yml": LIST_IN_FILE,
            "data/sections.yml": "docs:\n  - {identifier: intro, title: Intro}\n"
            "  - {identifier: faq, title: FAQ}\n",
            "data/other.yml": "docs:\n  - {identifier: elsewhere}\n",
            "posts/a.md": "---\ntitle: A\nsection: faq\n---\n",
            "posts/b.md": "---\ntitle: B\nsection: elsewhere\n---\n",
        }
    )
    app = make_app(site.path, tmp_path / "i")
    client = app.test_client()
    a, b = client.get("/api/v1/collections/posts/entries?include=section&sort=title").get_json()
    assert a["included"]["section"]["slug"] == "sections"
    assert b["included"]["section"] is None  # only the file named by `file` counts
    findings = {(f.path, f.field) for f in validate(app.extensions["cms"].snapshot())}
    assert findings == {("posts/b.md", "section")}


def test_a_relation_to_a_missing_file_is_a_config_error(make_site, tmp_path) -> None:
    config = LIST_IN_FILE.replace("file: sections\n", "file: nowhere\n")
    site = make_site({"admin/config.yml": config})
    with pytest.raises(ConfigError, match="nowhere"):
        make_app(site.path, tmp_path / "i")


NESTED = """
collections:
  - name: pages
    label: Pages
    folder: pages
    create: true
    nested: {depth: 3}
    fields:
      - {name: title, label: Title}
"""


def test_nested_slugs_never_collide_with_sub_resources(make_site, tmp_path) -> None:
    site = make_site(
        {
            "admin/config.yml": NESTED,
            "pages/team.md": "---\ntitle: Team\n---\n",
            "pages/team/history.md": "---\ntitle: Our history\n---\n",
            "pages/team/diff.md": "---\ntitle: Diff\n---\n",
            "pages/about/people.md": "---\ntitle: People\n---\n",
        }
    )
    app = make_app(site.path, tmp_path / "i")
    client = app.test_client()
    base = "/api/v1/collections/pages"
    slugs = {e["slug"] for e in client.get(f"{base}/entries?page_size=100").get_json()}
    assert slugs == {"team", "team/history", "team/diff", "about/people"}
    # The documented URLs put the slug last: any slug, no collision.
    assert client.get(f"{base}/history/team/history").get_json()[0]["path"] == (
        "pages/team/history.md"
    )
    assert client.get(f"{base}/history/team").get_json()[0]["path"] == "pages/team.md"
    assert client.get(f"{base}/diff/team/diff?from=main").status_code == 200
    # The old URLs: the entry wins where one has that name, else the sub-resource.
    entry = client.get(f"{base}/entries/team/history")
    assert entry.get_json()["fields"]["title"] == "Our history"
    assert client.get(f"{base}/entries/team/diff").get_json()["fields"]["title"] == "Diff"
    people = client.get(f"{base}/entries/about/people/history").get_json()
    assert people[0]["path"] == "pages/about/people.md"
    changed = client.patch(
        f"{base}/entries/team/history",
        json={"fields": {"title": "Notre histoire"}},
        headers={**bearer(app), "If-Match": entry.headers["ETag"]},
    )
    assert changed.status_code == 200
    assert "Notre histoire" in (site.path / "pages" / "team" / "history.md").read_text()
    anonymous = client.patch(f"{base}/entries/team/history", json={"fields": {}})
    assert anonymous.status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/collections/{collection}/history/{slug}" in spec
    assert "/api/v1/collections/{collection}/entries/{slug}/history" not in spec
