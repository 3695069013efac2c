"""Another Decap site, shaped differently from the sample, served with no code change."""

from __future__ import annotations

import json

import pytest

from tests.conftest import bearer, make_app

CONFIG = """
backend: {name: git-gateway, branch: trunk}
media_folder: static/uploads
collections:
  - name: authors
    label: Authors
    folder: data/authors
    extension: yml
    create: true
    identifier_field: name
    fields:
      - {name: name, label: Name}
      - {name: handle, label: Handle, pattern: ['^@', 'Starts with @']}
  - name: products
    label: Products
    label_singular: Product
    folder: catalogue/products
    create: true
    slug: "{{slug}}"
    fields:
      - {name: title, label: Title}
      - {name: layout, widget: hidden, default: product}
      - {name: price, widget: number, value_type: int, min: 0}
      - name: status
        widget: select
        options: [{label: In stock, value: in}, {label: Sold out, value: out}]
      - name: specs
        widget: object
        fields:
          - {name: weight, widget: number, value_type: float}
          - name: size
            widget: object
            fields: [{name: width, widget: number, value_type: int}, {name: unit}]
      - name: variants
        widget: list
        required: false
        fields:
          - {name: sku}
          - {name: colour, widget: select, options: [red, blue]}
      - name: author
        widget: relation
        collection: authors
        value_field: name
      - name: reviewers
        widget: relation
        collection: authors
        value_field: name
        multiple: true
        required: false
      - {name: released, widget: datetime, required: false}
      - {name: body, widget: markdown, required: false}
  - name: settings
    label: Settings
    files:
      - name: site
        label: Site
        file: data/site.json
        fields:
          - {name: title}
          - {name: items_per_page, widget: number, value_type: int}
"""

FILES = {
    "admin/cms.yml": CONFIG,
    "data/authors/ada.yml": "name: Ada Lovelace\nhandle: '@ada'\n",
    "data/authors/grace.yml": "name: Grace Hopper\nhandle: '@grace'\n",
    "data/site.json": '{"title": "Shop", "items_per_page": 12}\n',
    "catalogue/products/lamp.md": """
        ---
        title: Lamp
        layout: product
        price: 30
        status: in
        specs:
          weight: 1.5
          size: {width: 20, unit: cm}
        variants:
          - {sku: L-R, colour: red}
          - {sku: L-B, colour: blue}
        author: Ada Lovelace
        reviewers: [Grace Hopper, Ada Lovelace]
        released: 2024-03-01
        ---
        A **bright** lamp.
        """,
    "catalogue/products/chair.md": """
        ---
        title: Chair
        price: 120
        status: out
        specs:
          weight: 7
          size: {width: 45, unit: cm}
        author: Grace Hopper
        released: 2023-11-20
        ---
        """,
    "catalogue/products/broken.md": """
        ---
        title: Broken
        price: cheap
        status: maybe
        specs: {weight: 1, size: {width: 1, unit: m}}
        author: Nobody
        ---
        """,
    "catalogue/products/notes.txt": "not an entry\n",
}


@pytest.fixture
def shop(make_site, tmp_path):
    site = make_site(FILES)
    site.repo.git.branch("-m", "trunk")
    app = make_app(site.path, tmp_path / "instance", CMS_CONFIG="admin/cms.yml")
    return site, app.test_client()


def test_collections_of_the_other_site(shop) -> None:
    _, client = shop
    names = [c["name"] for c in client.get("/api/v1/collections").get_json()]
    assert names == ["authors", "products", "settings"]
    products = client.get("/api/v1/collections/products").get_json()
    schema = products["schema"]
    assert schema["properties"]["price"] == {
        "type": "integer",
        "minimum": 0,
        "not": {"enum": [None, "", [], {}]},
        "title": "price",
    }
    assert schema["properties"]["status"]["enum"] == ["in", "out"]
    assert schema["properties"]["specs"]["properties"]["size"]["properties"]["width"]["type"] == (
        "integer"
    )
    assert schema["properties"]["layout"]["default"] == "product"
    variants = present(schema["properties"]["variants"])  # optional: a list, or empty
    assert present(variants["items"]["properties"]["colour"])["enum"] == ["red", "blue"]


def present(schema: dict) -> dict:
    """An optional field's schema when it has a value (its other choice: empty)."""
    return schema["anyOf"][0] if "anyOf" in schema else schema


def test_entries_of_the_other_site(shop) -> None:
    site, client = shop
    lamp = client.get("/api/v1/collections/products/entries/lamp")
    assert lamp.status_code == 200
    assert lamp.headers["X-Content-Commit"] == site.head
    entry = lamp.get_json()
    assert entry["fields"]["specs"] == {"weight": 1.5, "size": {"width": 20, "unit": "cm"}}
    assert entry["fields"]["variants"][1] == {"sku": "L-B", "colour": "blue"}
    assert entry["fields"]["released"] == "2024-03-01"
    assert entry["body"] == "A **bright** lamp.\n"
    assert entry["problems"] == []
    ada = client.get("/api/v1/collections/authors/entries/ada").get_json()
    assert ada["fields"] == {"name": "Ada Lovelace", "handle": "@ada"}
    settings = client.get("/api/v1/collections/settings/entries/site").get_json()
    assert settings["fields"] == {"title": "Shop", "items_per_page": 12}
    assert client.get("/api/v1/collections/products/entries/notes").status_code == 404


def test_a_broken_entry_is_served_with_its_problems(shop) -> None:
    _, client = shop
    broken = client.get("/api/v1/collections/products/entries/broken")
    assert broken.status_code == 200
    problems = {p["field"]: p["message"] for p in broken.get_json()["problems"]}
    assert problems == {
        "price": "must be a whole number, not a string",
        "status": "must be one of 'in', 'out', not 'maybe'",
    }


def test_queries_on_the_other_site(shop) -> None:
    _, client = shop
    url = "/api/v1/collections/products/entries"
    by_price = client.get(url + "?sort=-price&fields=title").get_json()
    assert [e["fields"]["title"] for e in by_price] == ["Chair", "Lamp", "Broken"]
    cheap = client.get(url + "?filter[price][lt]=100").get_json()
    assert [e["slug"] for e in cheap] == ["lamp"]
    wide = client.get(url + "?filter[specs.size.width][gte]=20&sort=title").get_json()
    assert [e["slug"] for e in wide] == ["chair", "lamp"]
    blue = client.get(url + "?filter[variants.colour]=blue").get_json()
    assert [e["slug"] for e in blue] == ["lamp"]
    recent = client.get(url + "?filter[released][gte]=2024-01-01").get_json()
    assert [e["slug"] for e in recent] == ["lamp"]
    dated = client.get(url + "?sort=-released").get_json()
    assert [e["slug"] for e in dated] == ["lamp", "chair", "broken"]
    response = client.get(url + "?include=author,reviewers&fields=title&sort=title")
    entries = {e["slug"]: e for e in response.get_json()}
    assert entries["lamp"]["included"]["author"]["slug"] == "ada"
    assert [r["slug"] for r in entries["lamp"]["included"]["reviewers"]] == ["grace", "ada"]
    assert entries["broken"]["included"]["author"] is None
    assert entries["chair"]["included"]["reviewers"] == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_published_branch_setting(make_site, tmp_path) -> None:
    site = make_site(FILES)
    site.repo.git.checkout("-q", "-b", "draft")
    site.commit({"data/authors/alan.yml": "name: Alan Turing\nhandle: '@alan'\n"}, "Add Alan")
    published = make_app(
        site.path, tmp_path / "i1", CMS_CONFIG="admin/cms.yml", CMS_BRANCH="main"
    ).test_client()
    authors = published.get("/api/v1/collections/authors/entries").get_json()
    assert [a["slug"] for a in authors] == ["ada", "grace"]
    assert published.get("/api/v1/collections/authors/entries?ref=draft").status_code == 401
    reader = bearer(published.application, "reader")
    draft = published.get("/api/v1/collections/authors/entries?ref=draft", headers=reader)
    assert [a["slug"] for a in draft.get_json()] == ["ada", "alan", "grace"]
