"""List queries: filters, sort, pagination, field selection and relation includes.

``Query`` is an immutable builder (``Query().where(...).order_by(...).paginate(...)``), and
``Query.parse`` reads one from a request's query string, checking every name against the
collection's model so that a typo is a 400 rather than a silently empty page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cms.content.entry import Entry
from cms.errors import BadRequest
from cms.model import Collection, Field
from cms.model.dates import format_of, is_datetime, kind_timestamp
from cms.model.widgets import BooleanWidget, DatetimeWidget, NumberWidget, RelationWidget

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "exists")
PSEUDO_FIELDS = ("slug", "path")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_SEARCH_LENGTH = 500
MAX_PAGE = 1_000_000
MAX_IN_VALUES = 100
MAX_CONDITIONS = 20
_FILTER_KEY = re.compile(r"filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a string, for comparisons and sorting."""
    if text.isascii():  # the same answer, without decomposing (most values: dates, slugs)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def kind_of(item: Field | None) -> str:
    widget = item.widget if item is not None else None
    if isinstance(widget, NumberWidget):
        return "number"
    if isinstance(widget, BooleanWidget):
        return "boolean"
    if isinstance(widget, DatetimeWidget):
        return f"datetime:{widget.format}" if widget.format else "datetime"
    return "text"


def comparable(value: Any, kind: str) -> tuple[int, Any]:
    """A sort key that orders numbers, dates and text sensibly, and any mix of them safely."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        if kind == "number":
            try:
                return (0, float(value))
            except ValueError:
                pass
        if is_datetime(kind):
            moment = kind_timestamp(value, kind)
            if moment is not None:
                return (0, moment)
        return (1, (fold(value), value))
    return (2, repr(value))


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str
    kind: str

    def matches(self, entry: Entry) -> bool:
        values = entry.values(self.field)
        if self.op == "exists":
            return bool(values) == (self.value == "true")
        if self.op == "ne":
            return not any(self._equal(v, self.value) for v in values)
        if self.op == "eq":
            return any(self._equal(v, self.value) for v in values)
        if self.op == "in":
            options = self.value.split(",")
            return any(self._equal(v, o) for v in values for o in options)
        if self.op == "contains":
            needle = fold(self.value)
            return any(
                needle in fold(v) if isinstance(v, str) else self._equal(v, self.value)
                for v in values
            )
        target = comparable(self.value, self.kind)
        check: Callable[[Any, Any], bool] = {
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
        }[self.op]
        for value in values:
            key = comparable(value, self.kind)
            if key[0] == target[0] and check(key[1], target[1]):
                return True
        return False

    def _equal(self, value: Any, wanted: str) -> bool:
        if isinstance(value, bool):
            return wanted == ("true" if value else "false")
        if isinstance(value, int | float) or self.kind == "number":
            try:
                return float(value) == float(wanted)
            except (TypeError, ValueError):
                return False
        if is_datetime(self.kind) and isinstance(value, str):
            a, b = kind_timestamp(value, self.kind), kind_timestamp(wanted, self.kind)
            if a is not None and b is not None:
                return a == b
        return str(value) == wanted


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool
    kind: str


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    total: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Query:
    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    fields: tuple[str, ...] | None = None
    include: tuple[str, ...] = ()
    body: bool = False
    search: str | None = None  # full-text search words (answered by the index)

    def where(self, field_name: str, op: str, value: str, kind: str = "text") -> Query:
        return replace(self, conditions=(*self.conditions, Condition(field_name, op, value, kind)))

    def order_by(self, field_name: str, descending: bool = False, kind: str = "text") -> Query:
        return replace(self, sort=(*self.sort, SortKey(field_name, descending, kind)))

    def paginate(self, page: int, page_size: int) -> Query:
        return replace(self, page=page, page_size=page_size)

    def run(self, entries: Sequence[Entry]) -> Page:
        """The reference semantics of filters, sort and pagination, over entries in memory.
        The index answers the same (tests compare them); a full-text search needs the index."""
        if self.search is not None:
            raise ValueError("a full-text search is answered by the index")
        matched = [e for e in entries if all(c.matches(e) for c in self.conditions)]
        for key in reversed(self.sort):
            present: list[tuple[tuple[int, Any], Entry]] = []
            missing: list[Entry] = []
            for entry in matched:
                values = entry.values(key.field)
                sort_key = comparable(values[0], key.kind) if values else None
                if sort_key is None or (
                    (key.kind == "number" or is_datetime(key.kind)) and sort_key[0] != 0
                ):
                    missing.append(entry)  # absent, or not a number/date: last either way
                else:
                    present.append((sort_key, entry))
            present.sort(key=lambda pair: pair[0], reverse=key.descending)
            matched = [entry for _, entry in present] + missing
        start = (self.page - 1) * self.page_size
        return Page(
            matched[start : start + self.page_size], len(matched), self.page, self.page_size
        )

    # -- from a query string ------------------------------------------------------------------

    @classmethod
    def parse(cls, args: Mapping[str, Sequence[str]], collection: Collection) -> Query:
        """Read a query from query-string arguments (each name with its list of values)."""
        query = cls()
        errors: dict[str, str] = {}

        def one(name: str) -> str | None:
            values = args.get(name)
            if not values:
                return None
            if len(values) > 1:
                errors[name] = "give this parameter once"
            return values[-1]

        query = query.paginate(*paging(one("page"), one("page_size"), errors))
        body = one("body")
        if body is not None:
            if body not in ("true", "false"):
                errors["body"] = "must be true or false"
            query = replace(query, body=body == "true")

        for name, values in args.items():
            if not name.startswith("filter"):
                continue
            match = _FILTER_KEY.fullmatch(name)
            if not match:
                errors[name] = "write filter[<field>]=<value> or filter[<field>][<op>]=<value>"
                continue
            dotted, op = match.group(1), match.group(2) or "eq"
            item = _known_field(collection, dotted, name, errors)
            if op not in OPERATORS:
                errors[name] = f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
                continue
            if dotted not in PSEUDO_FIELDS and item is None:
                continue
            if item is not None and item.widget.children() and op != "exists":
                errors[name] = (
                    f"{dotted!r} holds objects: filter on one of its fields, or use exists"
                )
                continue
            kind = kind_of(item)
            if len(query.conditions) + len(values) > MAX_CONDITIONS:
                errors[name] = f"at most {MAX_CONDITIONS} filters"
                continue
            for value in values:
                problem = _check_value(op, value, kind)
                if problem:
                    errors[name] = problem
                else:
                    query = query.where(dotted, op, value, kind)

        sort = one("sort")
        if sort is not None:
            for raw in sort.split(","):
                name = raw.strip()
                descending = name.startswith("-")
                name = name.lstrip("-+")
                if not name:
                    errors["sort"] = "an empty sort field"
                    continue
                item = _known_field(collection, name, "sort", errors)
                if item is not None and item.widget.children():
                    errors["sort"] = f"{name!r} holds objects: sort by one of its fields"
                elif item is not None or name in PSEUDO_FIELDS:
                    query = query.order_by(name, descending, kind_of(item))

        fields = one("fields")
        if fields is not None:
            names = tuple(n.strip() for n in fields.split(",") if n.strip())
            for name in names:
                _known_field(collection, name, "fields", errors)
            query = replace(query, fields=names)

        search = one("q")
        if search is not None:
            check_search(search, errors)
            query = replace(query, search=search)

        include = one("include")
        if include is not None:
            names = tuple(n.strip() for n in include.split(",") if n.strip())
            for name in names:
                item = _known_field(collection, name, "include", errors)
                if item is not None and not isinstance(item.widget, RelationWidget):
                    errors["include"] = f"{name!r} is not a relation field"
            query = replace(query, include=names)

        if errors:
            raise BadRequest("the query parameters are not valid", {"query": errors})
        return query


def paging(page: str | None, size: str | None, errors: dict[str, str]) -> tuple[int, int]:
    """(page, page_size) from their query-string values; problems go into ``errors``."""
    return (
        positive(page, "page", 1, MAX_PAGE, errors),
        positive(size, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, errors),
    )


def check_search(text: str, errors: dict[str, str]) -> None:
    """A full-text search needs words, and not too many characters of them."""
    if not text.strip():
        errors["q"] = "give the words to search for"
    elif len(text) > MAX_SEARCH_LENGTH:
        errors["q"] = f"at most {MAX_SEARCH_LENGTH} characters"


def positive(
    raw: str | None, name: str, default: int, high: int | None, errors: dict[str, str]
) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = f"must be a whole number, not {raw!r}"
        return default
    if value < 1 or (high is not None and value > high):
        errors[name] = f"must be between 1 and {high}" if high else "must be 1 or more"
        return default
    return value


def _known_field(
    collection: Collection, dotted: str, param: str, errors: dict[str, str]
) -> Field | None:
    if dotted in PSEUDO_FIELDS and param != "include":
        return None
    item = collection.field_at(dotted)
    if item is None:
        errors[param] = f"collection {collection.name!r} has no field {dotted!r}"
    return item


def _check_value(op: str, value: str, kind: str) -> str | None:
    if op == "in" and value.count(",") >= MAX_IN_VALUES:
        return f"in takes at most {MAX_IN_VALUES} values"
    if op == "exists":
        return None if value in ("true", "false") else "exists takes true or false"
    if op in ("lt", "lte", "gt", "gte"):
        if kind == "number":
            try:
                float(value)
            except ValueError:
                return f"{value!r} is not a number"
        if is_datetime(kind) and kind_timestamp(value, kind) is None:
            shown = f"{format_of(kind)} or " if format_of(kind) else ""
            return f"{value!r} is not a date ({shown}YYYY-MM-DD or an ISO 8601 date-time)"
        if kind == "boolean":
            return f"{op} does not apply to a true/false field"
    if kind == "boolean" and op in ("eq", "ne") and value not in ("true", "false"):
        return "a true/false field is compared with true or false"
    return None
