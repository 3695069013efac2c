"""Checking every entry of every collection against the model, as ``cms validate`` does."""

from __future__ import annotations

from dataclasses import dataclass

from cms.content.service import Snapshot, relation_key
from cms.model.fields import DEPRECATED_OPTIONS
from cms.model.widgets import RelationWidget


@dataclass(frozen=True)
class Finding:
    """One problem: the file, the field (dotted, or None for the whole file), the message."""

    path: str
    field: str | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def line(self) -> str:
        field = f"{self.field}: " if self.field else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}: {field}{prefix}{self.message}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "path": self.path,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


def validate(snap: Snapshot) -> list[Finding]:
    """Every problem of the content at one commit, in a stable order.

    Parse errors and model violations of each entry; relation values that point at no entry;
    files that a file collection names but the repository lacks; and, as warnings, fields whose
    widget this server does not know (any value is accepted for them) and deprecated camelCase
    options (read as Decap reads them).
    """
    model = snap.model
    findings = [
        Finding(
            model.source, f"{use.collection}.{use.field}", _unknown(use.widget, use.line), "warning"
        )
        for use in model.unknown_widgets
    ]
    findings += [
        Finding(
            model.source,
            f"{old.collection}.{old.field}",
            f"{old.option!r} is deprecated{f' (line {old.line})' if old.line else ''}: Decap "
            f"reads it as {DEPRECATED_OPTIONS[old.option]!r}; write that",
            "warning",
        )
        for old in model.deprecated_options
    ]
    findings += [
        Finding(model.source, collection.name, problem)
        for collection in snap.collections()
        for problem in collection.problems
    ]
    tables: dict[tuple[str, str], set[str]] = {}
    for collection in snap.collections():
        present = set()
        for entry in snap.entries(collection):
            present.add(entry.slug)
            for problem in entry.problems:
                findings.append(Finding(entry.path, problem.field, problem.message))
            fields = collection.fields_for(entry.slug)
            for dotted, item in fields.walk():
                widget = item.widget
                if not isinstance(widget, RelationWidget):
                    continue
                key = (widget.collection, widget.value_path, widget.file)
                if key not in tables:
                    tables[key] = set(snap.relation_table(*key))
                for value in entry.values(dotted):
                    if relation_key(value) not in tables[key]:
                        findings.append(
                            Finding(
                                entry.path,
                                dotted,
                                f"no {widget.collection} entry has {widget.value_field} {value!r}",
                            )
                        )
        for name, item in collection.files.items():
            if name not in present:
                findings.append(
                    Finding(item.path, None, f"file {name!r} of {collection.name!r} is missing")
                )
    return findings


def _unknown(widget: str, line: int | None) -> str:
    where = f" (line {line})" if line else ""
    return f"unknown widget {widget!r}{where}: any value is accepted"
