"""Versions of entries: what changed in an entry between two commits, and which entries
changed between two commits (the sync feed)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cms.content.entry import Entry
from cms.content.service import Snapshot
from cms.storage.git import FileChange

MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted, list items by index: `hero.btn.url`, `links.0.label`
    change: str  # added, removed or changed
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "change": self.change}
        if self.change != "added":
            out["old"] = self.old
        if self.change != "removed":
            out["new"] = self.new
        return out


def field_changes(old: Any, new: Any, path: str = "") -> Iterator[FieldChange]:
    """The changes from ``old`` to ``new``, as deep as both sides have the same shape: objects
    key by key, lists of the same length item by item; anything else as one value."""
    if old is MISSING and new is MISSING:
        return
    if old is MISSING:
        yield FieldChange(path, "added", new=new)
    elif new is MISSING:
        yield FieldChange(path, "removed", old=old)
    elif isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from field_changes(
                old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}" if path else key
            )
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and path:
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from field_changes(a, b, f"{path}.{index}")
    elif old != new or type(old) is not type(new):
        yield FieldChange(path, "changed", old, new)


def body_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two bodies ("" when they are the same)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class EntryChange:
    """An entry added, modified, deleted or renamed between two commits."""

    change: str  # added, modified, deleted, renamed
    collection: str
    slug: str
    path: str
    version: str | None  # None when deleted
    previous_slug: str | None = None
    previous_path: str | None = None
    previous_version: str | None = None
    entry: Entry | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "change": self.change,
            "collection": self.collection,
            "slug": self.slug,
            "path": self.path,
            "version": self.version,
        }
        if self.change in ("modified", "renamed", "deleted"):
            out["previous"] = {
                "slug": self.previous_slug,
                "path": self.previous_path,
                "version": self.previous_version,
            }
        out["entry"] = self.entry.as_dict() if self.entry is not None else None
        return out


def entry_changes(old: Snapshot, new: Snapshot, files: list[FileChange]) -> list[EntryChange]:
    """The file changes between two snapshots as entry changes: each file is looked up in the
    collections of the snapshot it belongs to (a file of no collection is no entry)."""
    found: list[EntryChange] = []
    for file in files:
        old_path = file.previous or file.path
        before = {c.name: slug for c, slug in old.owners(old_path)} if file.status != "A" else {}
        after = {c.name: slug for c, slug in new.owners(file.path)} if file.blob else {}
        for name in [*before, *(n for n in after if n not in before)]:
            was, now = before.get(name), after.get(name)
            if now is None:
                found.append(
                    EntryChange("deleted", name, was, old_path, None, was, old_path, file.old_blob)
                )
            elif was is None:
                found.append(EntryChange("added", name, now, file.path, file.blob))
            else:
                kind = "renamed" if file.previous else "modified"
                found.append(
                    EntryChange(kind, name, now, file.path, file.blob, was, old_path, file.old_blob)
                )
    found.sort(key=lambda c: (c.collection, c.slug, c.change))
    return found
