"""Dates as Decap writes them: ISO 8601 / YAML timestamps, or a field's moment.js ``format``.

A value is a date only if it names a real calendar moment: ``2024-13-45 99:99:99 +01:00`` and
``31/02/2024`` are not. A field's own format is read by pendulum's ``from_format``, whose
tokens are moment's (``YYYY``, ``MM``, ``DD``, ``Do``, ``MMMM``, ``HH``, ``hh``, ``A``, ``Z``...),
rather than by regular expressions of ours. Naive moments are UTC.

A kind of value (``cms.content.query.kind_of``) is ``datetime`` for a datetime field without a
format and ``datetime:<format>`` for one with a format, so that filters and sorts read values
in the field's own format.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import pendulum

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


def is_datetime(kind: str) -> bool:
    return kind == "datetime" or kind.startswith("datetime:")


def format_of(kind: str) -> str | None:
    return kind.partition(":")[2] or None if kind.startswith("datetime:") else None


def iso_timestamp(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 / YAML timestamp (naive means UTC), or None."""
    match = _ISO.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int(float(fraction) * 1_000_000) if fraction else 0,
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None
    offset = 0
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = hours * 3600 + minutes * 60
        offset = -offset if zone[0] == "-" else offset
    return moment.timestamp() - offset


@lru_cache(maxsize=65_536)
def format_timestamp(text: str, fmt: str) -> float | None:
    """Seconds since the epoch of a string in a moment.js format, or None."""
    candidates = [text.strip()]
    if candidates[0].endswith(("Z", "z")):
        candidates.append(candidates[0][:-1] + "+00:00")  # moment's Z token reads a "Z" too
    for candidate in candidates:
        try:
            moment = pendulum.from_format(candidate, fmt, tz="UTC")
        except (ValueError, TypeError, OverflowError):
            continue
        # from_format is lenient (it reads 2.1.24 as DD.MM.YYYY); moment's strict mode is not:
        # the text must be what the format writes for that moment.
        if moment.format(fmt).casefold() == candidate.casefold():
            return moment.timestamp()
    return None


def timestamp(text: str, fmt: str | None = None) -> float | None:
    """A date string's moment: in ``fmt`` when given, else (or failing that) ISO 8601."""
    if fmt:
        found = format_timestamp(text, fmt)
        if found is not None:
            return found
    return iso_timestamp(text)


def kind_timestamp(text: str, kind: str) -> float | None:
    """A value's moment as the field of this kind reads it."""
    return timestamp(text, format_of(kind))
