"""The Decap config: collections, widgets and their rules, and clear errors for a broken config."""

from __future__ import annotations

import textwrap

import pytest

from cms.errors import ConfigError
from cms.model import load_model
from cms.model.widgets import WIDGETS, problems_of
from cms.settings import PROJECT_ROOT

STANDARD = [
    "string",
    "text",
    "markdown",
    "number",
    "boolean",
    "datetime",
    "select",
    "list",
    "object",
    "relation",
    "image",
    "file",
    "hidden",
    "code",
    "color",
    "map",
]


def model(text: str):
    return load_model(textwrap.dedent(text).lstrip("\n"), "admin/config.yml")


def field(text: str):
    """The first field of a one-collection config whose fields are ``text``."""
    config = "collections:\n  - name: c\n    folder: c\n    fields:\n" + textwrap.indent(
        textwrap.dedent(text), "      "
    )
    return load_model(config, "admin/config.yml").collections["c"].fields.fields[0]


def messages(item, value, present=True) -> list[str]:
    return [f"{p.field}: {p.message}" for p in problems_of(item, value, present)]


def test_every_standard_widget_is_registered() -> None:
    assert set(STANDARD) <= set(WIDGETS)


def test_the_sample_config_loads() -> None:
    loaded = load_model((PROJECT_ROOT / "content/admin/config.yml").read_bytes(), "config.yml")
    assert list(loaded.collections) == ["pages", "actualites", "docs", "personnes"]
    assert loaded.unknown_widgets == ()
    pages = loaded.collections["pages"]
    assert pages.kind == "files"
    assert pages.files["accueil"].path == "pages/accueil.md"
    news = loaded.collections["actualites"]
    assert news.fields.body is not None and news.fields.body.widget_name == "markdown"
    assert news.field_at("files.nom").widget_name == "string"


def test_required_defaults_to_true() -> None:
    item = field("- {name: title, widget: string}")
    assert messages(item, None, present=False) == ["title: is required"]
    assert messages(item, "") == ["title: is required"]
    assert messages(item, "ok") == []
    optional = field("- {name: title, widget: string, required: false}")
    assert messages(optional, None, present=False) == []


def test_string_pattern() -> None:
    item = field("- {name: url, pattern: ['^/', 'Une adresse qui commence par /']}")
    assert messages(item, "/ok") == []
    assert messages(item, "nope") == ["url: Une adresse qui commence par /"]
    assert messages(item, 3) == ["url: must be a string, not a number"]


def test_number_value_types_and_bounds() -> None:
    as_int = field("- {name: n, widget: number, value_type: int, min: 1, max: 10}")
    assert messages(as_int, 5) == []
    assert messages(as_int, 5.5) == ["n: must be a whole number, not a number"]
    assert messages(as_int, "5") == ["n: must be a whole number, not a string"]
    assert messages(as_int, 0) == ["n: must be at least 1"]
    assert messages(as_int, 11) == ["n: must be at most 10"]
    assert messages(as_int, True) == ["n: must be a whole number, not a boolean"]
    as_float = field("- {name: n, widget: number, value_type: float}")
    assert messages(as_float, 2.5) == [] and messages(as_float, 2) == []
    as_text = field("- {name: n, widget: number}")
    assert messages(as_text, "2.5") == [] and messages(as_text, "deux") == [
        "n: must be a number, not 'deux'"
    ]


def test_boolean() -> None:
    item = field("- {name: b, widget: boolean}")
    assert messages(item, True) == [] and messages(item, False) == []
    assert messages(item, None, present=False) == []  # Decap shows a missing boolean as false
    assert messages(item, "yes") == ["b: must be true or false, not a string"]


def test_datetime_formats() -> None:
    item = field("- {name: d, widget: datetime}")
    for good in ("2024-01-02", "2024-01-02T10:00:00Z", "2018-01-15 23:00:00 +01:00"):
        assert messages(item, good) == [], good
    assert messages(item, "hier") == ["d: must be a date, not 'hier'"]
    custom = field("- {name: d, widget: datetime, format: 'DD.MM.YYYY'}")
    assert messages(custom, "02.01.2024") == []
    assert messages(custom, "2.1.24") == [
        "d: must be a date in the format DD.MM.YYYY, not '2.1.24'"
    ]


def test_select_with_labels_and_multiple() -> None:
    item = field(
        """
        - name: s
          widget: select
          options: [{label: Un, value: one}, {label: Deux, value: two}]
        """
    )
    assert messages(item, "one") == []
    assert messages(item, "Un") == ["s: must be one of 'one', 'two', not 'Un'"]
    multiple = field("- {name: s, widget: select, options: [a, b, c], multiple: true, max: 2}")
    assert messages(multiple, ["a", "b"]) == []
    assert messages(multiple, ["a", "b", "c"]) == ["s: must have at most 2 items"]
    assert messages(multiple, ["a", "z"]) == ["s.1: must be one of 'a', 'b', 'c', not 'z'"]


def test_object_list_and_types() -> None:
    item = field(
        """
        - name: hero
          widget: object
          fields:
            - {name: title}
            - name: btn
              widget: object
              fields: [{name: url}]
        """
    )
    assert messages(item, {"title": "t", "btn": {"url": "u"}}) == []
    assert messages(item, {"title": "t", "btn": {"other": 1}}) == ["hero.btn.url: is required"]
    assert messages(item, {"title": "t", "btn": {}}) == ["hero.btn: is required"]
    assert messages(item, "x") == ["hero: must be an object, not a string"]
    tiles = field(
        """
        - name: tiles
          widget: list
          min: 1
          fields: [{name: title}, {name: n, widget: number, value_type: int, required: false}]
        """
    )
    assert messages(tiles, [{"title": "a"}, {"title": "b", "n": "x"}]) == [
        "tiles.1.n: must be a whole number, not a string"
    ]
    assert messages(tiles, []) == ["tiles: is required"]
    strings = field("- {name: tags, widget: list}")
    assert messages(strings, ["a", "b"]) == [] and messages(strings, [{}]) == [
        "tags.0: must be a string, not an object"
    ]
    single = field(
        "- {name: ids, widget: list, field: {name: id, widget: number, value_type: int}}"
    )
    assert messages(single, [1, 2]) == [] and messages(single, [1, "2"]) == [
        "ids.1: must be a whole number, not a string"
    ]
    typed = field(
        """
        - name: blocks
          widget: list
          types:
            - {name: quote, fields: [{name: text}]}
            - {name: image, fields: [{name: src, widget: image}]}
        """
    )
    assert (
        messages(typed, [{"type": "quote", "text": "x"}, {"type": "image", "src": "a.png"}]) == []
    )
    assert messages(typed, [{"type": "video"}]) == [
        "blocks.0.type: must be one of 'quote', 'image', not 'video'"
    ]


def test_relation_code_map_and_hidden() -> None:
    config = """
        collections:
          - name: people
            folder: people
            fields: [{name: title}]
          - name: c
            folder: c
            fields:
              - {name: author, widget: relation, collection: people, value_field: title}
              - {name: snippet, widget: code, required: false}
              - {name: where, widget: map, required: false}
              - {name: layout, widget: hidden, default: post}
        """
    fields = {f.name: f for f in model(config).collections["c"].fields.fields}
    assert messages(fields["author"], "Ada") == []
    assert messages(fields["author"], ["Ada"]) == ["author: must be a string, not a list"]
    assert messages(fields["snippet"], {"code": "x = 1", "lang": "python"}) == []
    assert messages(fields["snippet"], "x = 1") == []
    assert messages(fields["where"], '{"type": "Point", "coordinates": [2.3, 48.8]}') == []
    assert messages(fields["where"], "{") == ["where: must be GeoJSON, and is not valid JSON"]
    assert messages(fields["layout"], None, present=False) == []
    assert fields["layout"].schema()["default"] == "post"


def test_unknown_widget_accepts_anything_and_is_reported() -> None:
    loaded = model(
        """
        collections:
          - name: c
            folder: c
            fields:
              - {name: title}
              - {name: colour, widget: my-colour-picker}
        """
    )
    colour = loaded.collections["c"].fields.fields[1]
    assert messages(colour, {"any": ["thing"]}) == []
    (use,) = loaded.unknown_widgets
    assert (use.collection, use.field, use.widget, use.line) == (
        "c",
        "colour",
        "my-colour-picker",
        6,
    )


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("collections: [\n", 2, "expected"),
        ("title: x\n", 1, "`collections` must be a non-empty list"),
        ("- a\n- b\n", 1, "the config must be a mapping"),
        (
            "collections:\n  - name: c\n    fields: [{name: a}]\n",
            2,
            "needs either `folder` or `files`",
        ),
        ("collections:\n  - name: c\n    folder: c\n", 2, "needs a non-empty `fields` list"),
        (
            "collections:\n  - name: c\n    folder: c\n    fields:\n      - {widget: string}\n",
            5,
            "a field needs a `name`",
        ),
        (
            "collections:\n  - name: c\n    folder: c\n    fields:\n"
            "      - {name: s, widget: select}\n",
            5,
            "needs a non-empty `options` list",
        ),
        (
            "collections:\n  - name: c\n    folder: c\n    fields:\n"
            "      - {name: r, widget: relation, collection: ghosts, value_field: title}\n",
            5,
            "unknown collection 'ghosts'",
        ),
        (
            "collections:\n  - name: c\n    folder: c\n    fields:\n"
            "      - {name: a, pattern: ['(', 'x']}\n",
            5,
            "bad pattern",
        ),
        ("collections:\n  - name: c\n    folder: ../etc\n    fields: [{name: a}]\n", 2, "inside"),
        (
            "collections:\n  - name: c\n    folder: c\n    fields: [{name: a}]\n"
            "  - name: c\n    folder: d\n    fields: [{name: a}]\n",
            5,
            "two collections are named 'c'",
        ),
    ],
)
def test_a_broken_config_names_file_line_and_problem(
    text: str, line: int | None, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_model(text, "admin/config.yml")
    error = caught.value
    assert error.path == "admin/config.yml"
    assert error.line == line
    assert problem in error.problem
    assert str(error).startswith("admin/config.yml" + (f", line {line}: " if line else ": "))


def test_folder_collection_paths() -> None:
    loaded = model(
        """
        collections:
          - name: posts
            folder: content/posts/
            fields: [{name: title}]
          - name: bundles
            folder: content/bundles
            path: "{{slug}}/index"
            fields: [{name: title}]
          - name: nested
            folder: wiki
            nested: {depth: 3}
            fields: [{name: title}]
        """
    )
    posts = loaded.collections["posts"]
    assert posts.slug_for_path("content/posts/hello.md") == "hello"
    assert posts.slug_for_path("content/posts/sub/hello.md") is None
    assert posts.slug_for_path("content/posts/hello.txt") is None
    assert posts.slug_for_path("content/posts/.hidden.md") is None
    bundles = loaded.collections["bundles"]
    assert bundles.slug_for_path("content/bundles/hello/index.md") == "hello"
    assert bundles.slug_for_path("content/bundles/hello.md") is None
    nested = loaded.collections["nested"]
    assert nested.slug_for_path("wiki/a/b/c.md") == "a/b/c"
    assert nested.slug_for_path("wiki/a/b/c/d.md") is None


def test_json_schema_of_a_collection() -> None:
    loaded = model(
        """
        collections:
          - name: c
            folder: c
            fields:
              - {name: title, pattern: ['^[A-Z]', 'Capital']}
              - {name: n, widget: number, value_type: int, min: 0}
              - {name: tags, widget: list, required: false}
              - {name: body, widget: markdown}
        """
    )
    schema = loaded.collections["c"].schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["title", "n"]
    empty = {"enum": [None, "", [], {}]}
    assert schema["properties"]["n"] == {
        "type": "integer",
        "minimum": 0,
        "not": empty,  # a required value is not empty
        "title": "n",
    }
    assert schema["properties"]["title"]["pattern"] == "^[A-Z]"
    tags = schema["properties"]["tags"]  # optional: a list, or empty
    assert tags["anyOf"] == [{"type": "array", "items": {"type": ["string", "number"]}}, empty]
    assert "body" not in schema["properties"]
