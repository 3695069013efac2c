"""A list query as SQL over the index's ``vals`` rows, with ``Query.run``'s exact semantics.

``Query.run`` (cms.content.query) is the reference: it filters and sorts a list of entries in
Python. Each condition and sort key here is written to give the same answer, value by value,
from the typed columns ``rows.typed`` stores (see cms/index/rows.py for what they hold).
"""

from __future__ import annotations

from typing import Any

from cms.content.query import Condition, Query, SortKey, fold, parse_timestamp

FIELD = "(SELECT id FROM paths WHERE name = ?)"


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _equal(kind: str, wanted: str, params: list[Any], strings: bool = True) -> str:
    """A predicate on a ``vals`` row ``v``: the value equals ``wanted`` (``Condition._equal``).

    With ``strings`` False, string values are left out (``contains`` tests them itself)."""
    parts = []
    if wanted in ("true", "false"):
        parts.append("(v.t = 0 AND v.n = ?)")
        params.append(1 if wanted == "true" else 0)
    number = _float(wanted)
    if kind == "number":
        if number is not None:
            parts.append("(v.t = 1 AND v.n = ?)" if not strings else "(v.t IN (1, 2) AND v.n = ?)")
            params.append(number)
        return " OR ".join(parts) or "0"
    if number is not None:
        parts.append("(v.t = 1 AND v.n = ?)")
        params.append(number)
    if strings:
        moment = parse_timestamp(wanted) if kind == "datetime" else None
        if moment is not None:
            parts.append("(v.t = 2 AND v.ts IS NOT NULL AND v.ts = ?)")
            parts.append("(v.t = 2 AND v.ts IS NULL AND v.s = ?)")
            params.extend([moment, wanted])
        else:
            parts.append("(v.t = 2 AND v.s = ?)")
            params.append(wanted)
    parts.append("(v.t = 3 AND v.s = ?)")
    params.append(wanted)
    return " OR ".join(parts)


def _range(condition: Condition, params: list[Any]) -> str:
    op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[condition.op]
    wanted = condition.value
    if condition.kind == "number":
        params.append(float(wanted))
        return f"v.n {op} ?"
    if condition.kind == "datetime":
        moment = parse_timestamp(wanted)
        params.extend([moment, moment])
        return f"(v.t IN (0, 1) AND v.n {op} ?) OR (v.t = 2 AND v.ts {op} ?)"
    params.extend([fold(wanted), wanted])
    return f"v.t = 2 AND (v.f, v.s) {op} (?, ?)"


def condition_sql(condition: Condition, params: list[Any]) -> str:
    """``e.id [NOT] IN (the entries with a matching value)``."""
    params.append(condition.field)
    if condition.op == "exists":
        negate = "" if condition.value == "true" else "NOT "
        return f"e.id {negate}IN (SELECT v.entry FROM vals v WHERE v.field = {FIELD})"
    if condition.op in ("eq", "ne"):
        predicate = _equal(condition.kind, condition.value, params)
    elif condition.op == "in":
        predicate = " OR ".join(
            f"({_equal(condition.kind, option, params)})" for option in condition.value.split(",")
        )
    elif condition.op == "contains":
        params.append(fold(condition.value))
        others = _equal(condition.kind, condition.value, params, strings=False)
        predicate = f"(v.t = 2 AND instr(v.f, ?) > 0) OR ({others})"
    else:
        predicate = _range(condition, params)
    negate = "NOT " if condition.op == "ne" else ""
    return f"e.id {negate}IN (SELECT v.entry FROM vals v WHERE v.field = {FIELD} AND ({predicate}))"


def sort_sql(index: int, key: SortKey, joins: list[str], params: list[Any]) -> list[str]:
    """ORDER BY terms for one sort key, from the entry's first value (``pos`` 0): entries with
    no value (or, for numbers and dates, one that is not a number or a date) come last in
    either direction; then numbers and booleans, strings (accent-folded, then exact), others."""
    alias = f"s{index}"
    joins.append(
        f"LEFT JOIN vals {alias} ON {alias}.entry = e.id AND {alias}.field = {FIELD} "
        f"AND {alias}.pos = 0"
    )
    params.append(key.field)
    way = "DESC" if key.descending else "ASC"
    v = alias
    if key.kind == "number":
        return [f"{v}.n IS NULL", f"{v}.n {way}"]
    if key.kind == "datetime":
        moment = f"(CASE WHEN {v}.t IN (0, 1) THEN {v}.n WHEN {v}.t = 2 THEN {v}.ts END)"
        return [f"{moment} IS NULL", f"{moment} {way}"]
    return [
        f"{v}.entry IS NULL",
        f"(CASE WHEN {v}.t IN (0, 1) THEN 0 WHEN {v}.t = 2 THEN 1 ELSE 2 END) {way}",
        f"(CASE WHEN {v}.t IN (0, 1) THEN {v}.n END) {way}",
        f"{v}.f {way}",
        f"(CASE WHEN {v}.t >= 2 THEN {v}.s END) {way}",
    ]


def page_sql(collection: str, query: Query, match: str | None) -> tuple[str, list, str, list]:
    """(page SQL, its parameters, count SQL, its parameters) for a list query. ``match`` is an
    FTS5 query: only matching entries, ranked best first unless ``sort`` says otherwise."""
    joins: list[str] = []
    join_params: list[Any] = []
    where = ["e.collection = ?", "e.visible = 1"]
    where_params: list[Any] = [collection]
    for condition in query.conditions:
        where.append(condition_sql(condition, where_params))
    order: list[str] = []
    if match is not None:
        joins.append(
            "JOIN (SELECT rowid AS id, bm25(search, 10.0, 2.0, 1.0) AS rank FROM search "
            "WHERE search MATCH ?) m ON m.id = e.id"
        )
        join_params.append(match)
    for index, key in enumerate(query.sort):
        order.extend(sort_sql(index, key, joins, join_params))
    if match is not None and not query.sort:
        order.append("m.rank")
    order.extend(["e.ord", "e.slug"])
    where_sql = " AND ".join(where)
    page = (
        f"SELECT e.id FROM entries e {' '.join(joins)} WHERE {where_sql} "
        f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
    )
    page_params = [
        *join_params,
        *where_params,
        query.page_size,
        (query.page - 1) * query.page_size,
    ]
    count_join = joins[0] if match is not None else ""
    count = f"SELECT count(*) FROM entries e {count_join} WHERE {where_sql}"
    count_params = [*(join_params[:1] if match is not None else []), *where_params]
    return page, page_params, count, count_params
