"""Slugs: derived as Decap derives them, and checked so that none can leave its folder."""

from __future__ import annotations

import datetime as dt

import pytest

from cms.content.slug import check_slug, derive_slug, sanitize, unique_slug
from cms.errors import BadRequest
from cms.model import load_model
from cms.model.config import SlugOptions

CONFIG = """
collections:
  - name: news
    folder: news
    create: true
    slug: "{{year}}-{{month}}-{{day}}-{{slug}}"
    fields: [{name: title}, {name: lang}]
  - name: people
    folder: people
    create: true
    identifier_field: name
    slug: "{{fields.lang}}/{{slug}}"
    fields: [{name: name}, {name: lang}]
"""
NOW = dt.datetime(2024, 3, 7, 9, 5, tzinfo=dt.UTC)


def test_decap_rules_with_each_option() -> None:
    title = "L’été d’Éloïse : 2.0 (bis)!"
    assert sanitize(title, SlugOptions()) == "lété-déloïse-2-0-bis"
    assert sanitize(title, SlugOptions(clean_accents=True)) == "lete-deloise-2-0-bis"
    assert sanitize(title, SlugOptions(encoding="ascii")) == "l-t-d-lo-se-2-0-bis"
    assert sanitize(title, SlugOptions("ascii", True, "_")) == "lete_deloise_2-0_bis"


def test_templates_dates_and_identifier_field() -> None:
    model = load_model(CONFIG, "config.yml")
    news = model.collections["news"]
    slug = derive_slug(news, {"title": "Une 8ème promotion"}, SlugOptions(), NOW)
    assert slug == "2024-03-07-une-8ème-promotion"
    people = model.collections["people"]
    # Literal text of the template is kept, as in Decap; only the placeholders are sanitized.
    assert derive_slug(people, {"name": "Zoé Durand", "lang": "fr"}, SlugOptions(), NOW) == (
        "fr/zoé-durand"
    )
    plain = load_model(
        "collections: [{name: p, folder: p, create: true, fields: [{name: title}]}]", "c.yml"
    ).collections["p"]
    with pytest.raises(BadRequest):
        derive_slug(plain, {"title": "!!!"}, SlugOptions(), NOW)


def test_unique_slug_counts_up() -> None:
    taken = {"a", "a-1", "a-2"}
    assert unique_slug("a", taken.__contains__) == "a-3"
    assert unique_slug("b", taken.__contains__) == "b"


@pytest.mark.parametrize(
    "slug", ["", "..", "../x", "a/b", ".git", "-x", "a\\b", "a\x00", "a\n", " a", "a.", "x" * 201]
)
def test_hostile_slugs_are_refused(slug: str) -> None:
    with pytest.raises(BadRequest):
        check_slug(slug)


def test_nested_slugs_only_where_the_collection_nests() -> None:
    assert check_slug("guides/installer", nested=True) == "guides/installer"
    for slug in ("guides/../x", "guides//x", "guides/.x"):
        with pytest.raises(BadRequest):
            check_slug(slug, nested=True)
    assert check_slug("thai\u0308s") == "thaïs"  # stored in NFC
