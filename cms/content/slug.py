"""Entry slugs: derived from the collection's ``slug`` template as Decap derives them, and
checked so that no slug can leave its collection's folder."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from cms.errors import BadRequest
from cms.model import Collection
from cms.model.config import SlugOptions

MAX_SLUG_LENGTH = 200
_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
_URI_CHAR = re.compile(r"[A-Za-z0-9_.~-]")


def check_slug(slug: str, nested: bool = False) -> str:
    """A slug given by a client, if it names a file inside the collection's folder; else 400."""
    problem = None
    parts = slug.split("/") if nested else [slug]
    if not slug or len(slug) > MAX_SLUG_LENGTH:
        problem = f"must have 1 to {MAX_SLUG_LENGTH} characters"
    elif "/" in slug and not nested:
        problem = "may not contain '/'"
    elif any(not part or part in (".", "..") for part in parts):
        problem = "may not contain empty, '.' or '..' parts"
    elif any(part[0] in ".-" for part in parts):
        problem = "may not start with '.' or '-'"
    elif "\\" in slug or any(unicodedata.category(c)[0] == "C" for c in slug):
        problem = "may not contain '\\' or control characters"
    elif slug != slug.strip() or slug.endswith("."):
        problem = "may not start or end with a space, or end with '.'"
    if problem:
        raise BadRequest(f"invalid slug {slug!r}: {problem}", {"slug": problem})
    return unicodedata.normalize("NFC", slug)


def _remove_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def _valid_char(char: str, encoding: str) -> bool:
    if _URI_CHAR.match(char):
        return True
    if encoding == "ascii" or ord(char) < 0xA0:
        return False
    return unicodedata.category(char)[0] in "LMN"


def sanitize(text: str, options: SlugOptions) -> str:
    """Decap's ``prepareSlug`` then ``sanitizeSlug``: lower case, quotes dropped, dots to
    dashes, characters outside the encoding replaced, repeated and edge replacements removed."""
    prepared = text.strip().lower().replace("'", "").replace("’", "").replace(".", "-")
    if options.clean_accents:
        prepared = _remove_accents(prepared)
    replacement = options.sanitize_replacement
    out = "".join(c if _valid_char(c, options.encoding) else replacement for c in prepared)
    if replacement:
        escaped = re.escape(replacement)
        out = re.sub(f"(?:{escaped})+", replacement, out)
        out = re.sub(f"^(?:{escaped})|(?:{escaped})$", "", out)
    return out


def derive_slug(
    collection: Collection,
    fields: Mapping[str, Any],
    options: SlugOptions,
    now: dt.datetime | None = None,
) -> str:
    """The slug Decap would give a new entry: the collection's ``slug`` template filled from
    the entry (``{{slug}}`` is the identifier field), each part sanitized."""
    now = now or dt.datetime.now(dt.UTC)
    identifier = fields.get(collection.identifier_field)
    if identifier in (None, "") and collection.identifier_field != "title":
        identifier = fields.get("title")
    dates = {
        "year": f"{now.year:04d}",
        "month": f"{now.month:02d}",
        "day": f"{now.day:02d}",
        "hour": f"{now.hour:02d}",
        "minute": f"{now.minute:02d}",
        "second": f"{now.second:02d}",
    }

    def value(name: str) -> str:
        if name in dates:
            return dates[name]
        if name == "slug":
            return sanitize(str(identifier or ""), options)
        key = name.removeprefix("fields.")
        raw: Any = fields
        for part in key.split("."):
            raw = raw.get(part) if isinstance(raw, Mapping) else None
        return sanitize("" if raw is None else str(raw), options)

    slug = fill_template(collection.slug, value)
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    if not slug:
        raise BadRequest(
            "no slug could be derived: give `slug` or the identifier field "
            f"{collection.identifier_field!r}",
            {"slug": "cannot be derived"},
        )
    return unicodedata.normalize("NFC", slug[:MAX_SLUG_LENGTH].rstrip("-"))


def fill_template(template: str, value: Callable[[str], str]) -> str:
    """A Decap template with each ``{{name}}`` replaced by ``value(name)``."""
    return _PLACEHOLDER.sub(lambda m: value(m.group(1)), template)


def unique_slug(slug: str, taken: Callable[[str], bool]) -> str:
    """``slug``, or ``slug-1``, ``slug-2``... for the first that is not taken (Decap's rule)."""
    if not taken(slug):
        return slug
    number = 1
    while taken(f"{slug}-{number}"):
        number += 1
    return f"{slug}-{number}"
