"""An entry as index rows: one row per value at each dotted field path, typed for SQL.

``value_rows`` gives, for every dotted path ``p``, exactly the values ``Entry.values(p)`` gives,
in the same order (``pos`` 0 is the first, the one a sort uses). Each value is stored with
the forms the query semantics of ``cms.content.query`` compare:

``t``   0 boolean, 1 number, 2 string, 3 anything else (null, an object, a list)
``n``   the number: a boolean as 0/1, a number, a string that ``float()`` reads; else NULL
``ts``  a string's timestamp (seconds since the epoch), when it is a date; else NULL
``s``   ``str(value)`` (NULL for objects and lists: they are only tested with ``exists``)
``f``   a string's case- and accent-folded form (for ``contains`` and text order)
``k``   the relation key (trimmed, NFC) when it differs from ``s``
``o``   on the first value only: the sort key, after the field's kind in the model (numbers
        and dates as numbers, NULL when ``Query.run`` would put the entry last; for text,
        numbers < ``fold + NUL + text`` < other values, the order ``comparable`` gives)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cms.content.entry import Entry
from cms.content.query import PSEUDO_FIELDS, fold
from cms.content.service import relation_key
from cms.model.dates import format_of, is_datetime, timestamp
from cms.model.widgets import FILE_SLUG

Row = tuple[str, int, int, Any, float | None, str | None, str | None, str | None, Any]


def value_rows(entry: Entry, kind: Callable[[str], str]) -> Iterator[Row]:
    """(path, pos, t, n, ts, s, f, k, o) for every value of the entry, pseudo fields included;
    ``kind`` gives the model's kind of a path (``cms.content.query.kind_of``)."""
    counts: dict[str, int] = {}
    for field_path, value in _pairs(entry.fields):
        found = kind(field_path)
        path = stored_path(field_path)
        pos = counts.get(path, 0)
        counts[path] = pos + 1
        row = typed(value, format_of(found))
        yield (path, pos, *row, sort_key(row, found) if pos == 0 else None)
    for path, value in (("slug", entry.slug), ("path", entry.path)):
        row = typed(value)
        yield (path, 0, *row, sort_key(row, "text"))


def stored_path(field_path: str) -> str:
    """The index's name of a field's path: ``slug`` and ``path`` name the entry's own, so a
    top-level field so named is kept under ``/``, a character no field name holds."""
    return "/" + field_path if field_path in PSEUDO_FIELDS else field_path


def index_path(value_path: str) -> str:
    """The index's name of a relation's value path: the ``slug`` pseudo field for Decap's
    ``{{slug}}``, else the field's."""
    return "slug" if value_path == FILE_SLUG else stored_path(value_path)


def sort_key(row: tuple, kind: str) -> Any:
    t, n, ts, s, f, _ = row
    if kind == "number":
        return n
    if is_datetime(kind):
        return n if t in (0, 1) else ts
    if t in (0, 1):
        return n
    if t == 2:
        return f"{f}\x00{s}"
    return s.encode() if s is not None else None


def typed(
    value: Any, date_format: str | None = None
) -> tuple[int, Any, float | None, str | None, str | None, str | None]:
    """(t, n, ts, s, f, k) of a value; ``ts`` read in the field's date format, if any."""
    if isinstance(value, bool):
        return 0, int(value), None, str(value), None, None
    if isinstance(value, int | float):
        number: Any = value
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            number = float(value)  # beyond SQLite's integers
        text = str(value)
        return 1, number, None, text, None, _key(text)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and math.isnan(number):
            number = None
        return 2, number, timestamp(value, date_format), value, fold(value), _key(value)
    if value is None:
        return 3, None, None, "None", None, None
    return 3, None, None, None, None, None


def _key(text: str) -> str | None:
    key = relation_key(text)
    return None if key == text else key


def _pairs(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in data.items():
        yield from _at(value, name)


def _at(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """The values found at ``path`` (lists are transparent) and below it."""
    if isinstance(value, list):
        for item in value:
            yield path, item
        yield from _below(value, path)
    elif value is not None:
        yield path, value
        yield from _below(value, path)


def _below(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _below(item, path)
    elif isinstance(value, Mapping):
        for name, child in value.items():
            yield from _at(child, f"{path}.{name}")


def search_text(entry: Entry, identifier: str) -> tuple[str, str, str]:
    """(title, other text, body) of an entry for full-text search: the identifier field's
    strings, every other string value, and the body."""
    title: list[str] = []
    text: list[str] = []
    for path, value in _pairs(entry.fields):
        if isinstance(value, str) and value:
            (title if path == identifier else text).append(value)
    return " ".join(title), "\n".join(text), entry.body
