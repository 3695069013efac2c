"""A list query as SQL over the index's ``vals`` rows, with ``Query.run``'s exact semantics.

``Query.run`` (cms.content.query) is the reference: it filters and sorts a list of entries in
Python. Each condition and sort key here is written to give the same answer, value by value,
from the typed columns ``rows.typed`` stores (see cms/index/rows.py for what they hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cms.content.query import Condition, Query, SortKey, fold
from cms.model.dates import is_datetime, kind_timestamp

FIELD = "(SELECT id FROM paths WHERE name = ?)"


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


Part = tuple[str, list[Any]]  # a predicate on a `vals` row `v`, and its parameters


def _equal(kind: str, wanted: str, strings: bool = True) -> list[Part]:
    """Rows whose value equals ``wanted`` (``Condition._equal``), as predicates that each can
    use an index. With ``strings`` False, string values are left out (``contains`` tests
    them itself)."""
    parts: list[Part] = []
    if wanted in ("true", "false"):
        parts.append(("v.n = ? AND v.t = 0", [1 if wanted == "true" else 0]))
    number = _float(wanted)
    if kind == "number":
        if number is not None:
            parts.append(
                ("v.n = ? AND v.t = 1" if not strings else "v.n = ? AND v.t IN (1, 2)", [number])
            )
        return parts
    if number is not None:
        parts.append(("v.n = ? AND v.t = 1", [number]))
    if strings:
        moment = kind_timestamp(wanted, kind) if is_datetime(kind) else None
        if moment is not None:
            parts.append(("v.ts = ? AND v.t = 2", [moment]))
            parts.append(("v.s = ? AND v.t = 2 AND v.ts IS NULL", [wanted]))
        else:
            parts.append(("v.s = ? AND v.t = 2", [wanted]))
    parts.append(("v.s = ? AND v.t = 3", [wanted]))
    return parts


def _range(condition: Condition) -> list[Part]:
    op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[condition.op]
    wanted = condition.value
    if condition.kind == "number":
        return [(f"v.n {op} ?", [float(wanted)])]
    if is_datetime(condition.kind):
        moment = kind_timestamp(wanted, condition.kind)
        return [(f"v.n {op} ? AND v.t IN (0, 1)", [moment]), (f"v.ts {op} ? AND v.t = 2", [moment])]
    return [(f"v.t = 2 AND (v.f, v.s) {op} (?, ?)", [fold(wanted), wanted])]


def _parts(condition: Condition) -> tuple[list[Part], bool]:
    """The condition as predicates on a value (an entry meets it if any of its values meets
    one), and whether it is their negation (an entry meets it if none of its values does)."""
    if condition.op == "exists":
        return [("1", [])], condition.value != "true"
    if condition.op in ("eq", "ne"):
        parts = _equal(condition.kind, condition.value)
    elif condition.op == "in":
        parts = [p for option in condition.value.split(",") for p in _equal(condition.kind, option)]
    elif condition.op == "contains":
        parts = [("v.t = 2 AND instr(v.f, ?) > 0", [fold(condition.value)])]
        parts += _equal(condition.kind, condition.value, strings=False)
    else:
        parts = _range(condition)
    return parts, condition.op == "ne"


def holders_sql(condition: Condition) -> tuple[str | None, list[Any], bool]:
    """A SELECT of the entries (of any collection, an id once per value) that hold a value
    meeting the condition's predicates (None: no value can), its parameters, and whether the
    condition is their negation."""
    parts, negate = _parts(condition)
    selects: list[str] = []
    params: list[Any] = []
    for predicate, values in parts:
        selects.append(f"SELECT v.entry FROM vals v WHERE v.field = {FIELD} AND {predicate}")
        params.extend([condition.field, *values])
    return (" UNION ALL ".join(selects) or None), params, negate


def condition_sql(condition: Condition, params: list[Any], drives: bool = True) -> str:
    """A test on ``e``: ``e.id [NOT] IN (matching entries)`` for the condition that drives the
    query (its index gives the candidates), ``[NOT] EXISTS (a matching value of e)`` for the
    others (looked up by entry, for the candidates only)."""
    if drives:
        holders, values, negate = holders_sql(condition)
        if holders is None:
            return "1" if negate else "0"
        params.extend(values)
        return f"e.id {'NOT ' if negate else ''}IN ({holders})"
    parts, negate = _parts(condition)
    if not parts:
        return "1" if negate else "0"
    predicates = " OR ".join(f"({predicate})" for predicate, _ in parts)
    params.append(condition.field)
    for _, values in parts:
        params.extend(values)
    return (
        f"{'NOT ' if negate else ''}EXISTS (SELECT 1 FROM vals v WHERE v.entry = e.id "
        f"AND v.field = {FIELD} AND ({predicates}))"
    )


def where_sql(collection: str, conditions: tuple[Condition, ...]) -> tuple[str, list[Any]]:
    """The WHERE clause of a list: the collection, visible entries, and every condition. An
    equality (or `in`) drives, being the most selective as a rule; the others are tests."""
    where = ["e.collection = ?", "e.visible = 1"]
    params: list[Any] = [collection]
    ranked = sorted(conditions, key=lambda c: c.op not in ("eq", "in"))
    for position, condition in enumerate(ranked):
        where.append(condition_sql(condition, params, drives=position == 0))
    return " AND ".join(where), params


def sort_sql(index: int, key: SortKey, joins: list[str], params: list[Any]) -> list[str]:
    """ORDER BY terms for one sort key, from the sort key of the entry's first value (see
    rows.py): entries without one come last in either direction."""
    alias = f"s{index}"
    joins.append(
        f"LEFT JOIN vals {alias} ON {alias}.entry = e.id AND {alias}.field = {FIELD} "
        f"AND {alias}.pos = 0"
    )
    params.append(key.field)
    way = "DESC" if key.descending else "ASC"
    return [f"{alias}.o IS NULL", f"{alias}.o {way}"]


def page_sql(collection: str, query: Query, match: str | None) -> tuple[str, list, str, list]:
    """(page SQL, its parameters, count SQL, its parameters) for a list query. ``match`` is an
    FTS5 query: only matching entries, ranked best first unless ``sort`` says otherwise."""
    joins: list[str] = []
    join_params: list[Any] = []
    where_clause, where_params = where_sql(collection, query.conditions)
    order: list[str] = []
    if match is not None:
        joins.append(
            "JOIN (SELECT rowid AS id, rank FROM search WHERE search MATCH ?) m ON m.id = e.id"
        )
        join_params.append(match)
    for index, key in enumerate(query.sort):
        order.extend(sort_sql(index, key, joins, join_params))
    if match is not None and not query.sort:
        order.append("m.rank")
    order.extend(["e.ord", "e.slug"])
    page = (
        f"SELECT e.id FROM entries e {' '.join(joins)} WHERE {where_clause} "
        f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
    )
    page_params = [
        *join_params,
        *where_params,
        query.page_size,
        (query.page - 1) * query.page_size,
    ]
    count_join = joins[0] if match is not None else ""
    count = f"SELECT count(*) FROM entries e {count_join} WHERE {where_clause}"
    count_params = [*(join_params[:1] if match is not None else []), *where_params]
    return page, page_params, count, count_params


def walk_sql(key: SortKey) -> tuple[str, list[Any]]:
    """Every entry with a value for the sort key, in the order of a page sorted by it alone:
    walked by the caller until a page of matched entries is full."""
    way = "DESC" if key.descending else "ASC"
    return (
        f"SELECT s0.entry FROM vals s0 INDEXED BY vals_sort WHERE s0.field = {FIELD} "
        f"AND s0.pos = 0 AND s0.o IS NOT NULL ORDER BY s0.o {way}, s0.os",
        [key.field],
    )


@dataclass(frozen=True)
class SortedPlan:
    """A sorted page in parts: the entries that have a value for the first sort key, walked
    in the order of the (field, o, os) index, then those that have none."""

    count: tuple[str, list[Any]]
    present: tuple[str, list[Any]]
    present_count: tuple[str, list[Any]]
    missing: tuple[str, list[Any]]  # LIMIT ? OFFSET ? to add


def sorted_sql(
    collection: str, query: Query, matched: bool = False, walk: bool = False
) -> SortedPlan:
    """With ``matched``, the filtered entries' ids are in the temporary table ``matched``;
    with ``walk`` as well (and one sort key), the page walks the sort index and keeps the
    matched entries until it is full, instead of sorting every match: quicker when many
    entries match."""
    first, *others = query.sort
    if matched:
        where_clause, where_params = "e.id IN temp.matched", []
    else:
        where_clause, where_params = where_sql(collection, query.conditions)
    joins: list[str] = []
    join_params: list[Any] = []
    order: list[str] = []
    for index, key in enumerate(others, start=1):
        order.extend(sort_sql(index, key, joins, join_params))
    # Without filters, walking the sort index is quickest; with them, the planner chooses.
    way = "DESC" if first.descending else "ASC"
    # A descending sort walks the index backwards; SQLite then sorts only each run of equal
    # values by ``os`` (ties keep the entries' order in either direction).
    hint = "INDEXED BY vals_sort"
    head = (
        f"FROM vals s0 {hint if not query.conditions else ''} "
        "JOIN entries e ON e.id = s0.entry "
        f"{' '.join(joins)} WHERE s0.field = {FIELD} AND s0.pos = 0 AND s0.o IS NOT NULL "
        f"AND {where_clause}"
    )
    present = (
        f"SELECT e.id {head} ORDER BY {', '.join([f's0.o {way}', *order, 's0.os'])} "
        "LIMIT ? OFFSET ?"
    )
    start = (query.page - 1) * query.page_size
    present_params = [*join_params, first.field, *where_params, query.page_size, start]
    if matched and walk and not others:
        present = (
            f"SELECT s0.entry FROM vals s0 {hint} WHERE s0.field = {FIELD} AND s0.pos = 0 "
            f"AND s0.o IS NOT NULL AND s0.entry IN temp.matched ORDER BY s0.o {way}, s0.os "
            "LIMIT ? OFFSET ?"
        )
        present_params = [first.field, query.page_size, start]
    present_count = (
        "SELECT count(*) FROM vals s0 JOIN entries e ON e.id = s0.entry "
        f"WHERE s0.field = {FIELD} AND s0.pos = 0 AND s0.o IS NOT NULL AND {where_clause}"
    )
    missing = (
        f"SELECT e.id FROM entries e LEFT JOIN vals s0 ON s0.entry = e.id "
        f"AND s0.field = {FIELD} AND s0.pos = 0 {' '.join(joins)} "
        f"WHERE s0.o IS NULL AND {where_clause} "
        f"ORDER BY {', '.join([*order, 'e.ord', 'e.slug'])} LIMIT ? OFFSET ?"
    )
    return SortedPlan(
        count=(f"SELECT count(*) FROM entries e WHERE {where_clause}", where_params),
        present=(present, present_params),
        present_count=(present_count, [first.field, *where_params]),
        missing=(missing, [first.field, *join_params, *where_params]),
    )
