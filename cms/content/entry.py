"""An entry: one file of a collection at one commit, with its fields, body and problems."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cms.storage import Change


@dataclass(frozen=True)
class EntryProblem:
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class Entry:
    collection: str
    slug: str
    path: str
    version: str  # the blob sha of the file
    fields: dict[str, Any]
    body: str
    problems: tuple[EntryProblem, ...] = ()
    commit: str = ""
    change: Change | None = None
    included: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None  # with i18n: the locale of these values

    def at(self, commit: str, change: Change | None) -> Entry:
        return replace(self, commit=commit, change=change)

    def values(self, dotted: str) -> list[Any]:
        """The values at a dotted field path; through lists, every item's value. ``slug`` and
        ``path`` are the entry's own (as in filters and sorts)."""
        if dotted == "slug":
            return [self.slug]
        if dotted == "path":
            return [self.path]
        return self.field_values(dotted)

    def first_text(self, dotted: str) -> str | None:
        """The first string at a dotted path (an entry's title from its identifier field)."""
        return next((v for v in self.values(dotted) if isinstance(v, str)), None)

    def field_values(self, dotted: str) -> list[Any]:
        """The values of the fields at a dotted path, whatever their name."""
        return list(values_at(self.fields, dotted.split(".")))

    def as_dict(
        self,
        *,
        body: bool = True,
        only: Iterable[str] | None = None,
        html: str | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collection": self.collection,
            "slug": self.slug,
            "path": self.path,
            "fields": select(self.fields, only) if only is not None else self.fields,
        }
        if body:
            out["body"] = self.body
        if html is not None:
            out["html"] = html
        out["version"] = self.version
        if self.locale is not None:
            out["locale"] = self.locale
        out["commit"] = self.commit
        out["updated_at"] = self.change.date if self.change else None
        out["updated_by"] = self.change.author if self.change else None
        out["problems"] = [p.as_dict() for p in self.problems]
        if self.included:
            out["included"] = self.included
        return out


def values_at(data: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        if isinstance(data, list):
            yield from data
        elif data is not None:
            yield data
        return
    if isinstance(data, list):
        for item in data:
            yield from values_at(item, parts)
    elif isinstance(data, Mapping) and parts[0] in data:
        yield from values_at(data[parts[0]], parts[1:])


def select(data: Mapping[str, Any], only: Iterable[str]) -> dict[str, Any]:
    """Keep only the named (dotted) fields, in the data's own order."""
    tree: dict[str, Any] = {}
    for dotted in only:
        node = tree
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is True:
                break
        else:
            node[parts[-1]] = True
    return _prune(data, tree)


def _prune(data: Any, tree: Mapping[str, Any]) -> Any:
    if isinstance(data, list):
        return [_prune(item, tree) for item in data]
    if not isinstance(data, Mapping):
        return data
    out = {}
    for key, value in data.items():
        wanted = tree.get(key)
        if wanted is True:
            out[key] = value
        elif isinstance(wanted, Mapping):
            out[key] = _prune(value, wanted)
    return out
