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
