"""Plain JSON values from what a YAML, TOML or JSON loader gives.

Field values are served as the file holds them: strings stay strings (dates included, the
loaders keep timestamps as text), numbers and booleans stay numbers and booleans. What JSON
cannot carry is turned into a string: a non-finite float, binary data (base64), a date that a
TOML file holds as a native date.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from typing import Any


def plain(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return float(value)
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(plain(key))


# Bounds on what one file or request body may hold (the README's "Limits").
MAX_DEPTH = 100  # levels of nested lists and objects
MAX_EXPANDED = 100_000  # values once YAML aliases are expanded, when a file uses aliases


class TooComplex(ValueError):
    """Nested deeper than MAX_DEPTH, recursive, or expanding past MAX_EXPANDED values."""


def check_shape(value: Any) -> None:
    """Raise TooComplex unless ``value`` nests at most MAX_DEPTH levels, contains no value
    that contains itself, and, where it shares values (YAML aliases), expands to at most
    MAX_EXPANDED values. Walks each distinct list or object once, without recursion."""
    if not isinstance(value, dict | list | tuple):
        return
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    shared = False
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        nested = [child for child in children if isinstance(child, dict | list | tuple)]
        if done:
            on_path.discard(key)
            sizes[key] = 1 + len(children) - len(nested) + sum(sizes[id(c)] for c in nested)
            continue
        if key in on_path:
            raise TooComplex("a value contains itself (a recursive YAML alias)")
        if key in sizes:
            shared = True
            continue
        if len(on_path) >= MAX_DEPTH:
            raise TooComplex(f"nested more than {MAX_DEPTH} levels deep")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in nested)
    total = sizes[id(value)]
    if shared and total > MAX_EXPANDED:
        raise TooComplex(f"YAML aliases expand it to {total:,} values (at most {MAX_EXPANDED:,})")
