"""A field of the content model: its name, label, rules, and the widget that checks its values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from cms.errors import ConfigError
from cms.model.i18n import field_mode
from cms.model.problems import FieldPath
from cms.model.widgets import WIDGETS, OptionError, Report, UnknownWidget, is_empty, type_name

# Options described by the field itself; everything else is a widget option shown as is.
# The values that count as no value (``widgets.is_empty``), as JSON Schema.
EMPTY: dict[str, Any] = {"enum": [None, "", [], {}]}
_OWN_OPTIONS = {"name", "label", "widget", "required", "hint", "default", "pattern", "comment"}
_NESTED_OPTIONS = {"fields", "field", "types"}


def line_of(raw: Any) -> int | None:
    """The 1-based line of a mapping loaded by ruamel's round-trip loader, if known."""
    lc = getattr(raw, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


# Decap's normalizeConfig renames these old camelCase widget options to snake_case, with a
# deprecation warning; when a field has both spellings, the camelCase value wins, as there.
DEPRECATED_OPTIONS = {
    "dateFormat": "date_format",
    "timeFormat": "time_format",
    "pickerUtc": "picker_utc",
    "editorComponents": "editor_components",
    "valueType": "value_type",
    "valueField": "value_field",
    "searchFields": "search_fields",
    "displayFields": "display_fields",
    "optionsLength": "options_length",
}


def snake_case_options(raw: Mapping[str, Any]) -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """The field's options as Decap reads them, and the deprecated names it used."""
    used = tuple(key for key in DEPRECATED_OPTIONS if key in raw)
    if not used:
        return raw, ()
    renamed = {DEPRECATED_OPTIONS.get(key, key): value for key, value in raw.items()}
    renamed.update({DEPRECATED_OPTIONS[key]: raw[key] for key in used})
    return renamed, used


class Field:
    def __init__(self, raw: Any, source: str) -> None:
        self.source = source
        self.line = line_of(raw)
        if not isinstance(raw, Mapping):
            raise ConfigError(source, f"a field must be a mapping, not {type_name(raw)}", self.line)
        raw, self.deprecated = snake_case_options(raw)
        self.raw = raw
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(source, "a field needs a `name`", self.line)
        if "." in name or "/" in name:
            raise ConfigError(source, f"field name {name!r} may not contain '.' or '/'", self.line)
        self.name = name
        self.label = str(raw.get("label", name))
        self.widget_name = str(raw.get("widget", "string"))
        required = raw.get("required", True)
        if not isinstance(required, bool):
            raise ConfigError(
                source, f"field {name!r}: `required` must be true or false", self.line
            )
        self.required = required
        self.hint = raw.get("hint")
        self.i18n = field_mode(raw.get("i18n"))
        self.default = raw.get("default")
        self.pattern, self.pattern_message = self._pattern(raw.get("pattern"))
        widget_class = WIDGETS.get(self.widget_name, UnknownWidget)
        self.known = widget_class is not UnknownWidget
        try:
            self.widget = widget_class(self, raw)
        except OptionError as exc:
            raise ConfigError(source, f"field {name!r}: {exc}", self.line) from None

    def _pattern(self, raw: Any) -> tuple[re.Pattern[str] | None, str]:
        if raw is None:
            return None, ""
        if isinstance(raw, str):
            regex, message = raw, f"must match {raw}"
        elif isinstance(raw, list) and len(raw) == 2 and all(isinstance(p, str) for p in raw):
            regex, message = raw[0], raw[1]
        else:
            raise ConfigError(
                self.source, f"field {self.name!r}: `pattern` must be [regex, message]", self.line
            )
        try:
            return re.compile(regex), message
        except re.error as exc:
            raise ConfigError(
                self.source, f"field {self.name!r}: bad pattern {regex!r}: {exc}", self.line
            ) from None

    def build_children(self, raw: Any, key: str) -> tuple[Field, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise ConfigError(
                self.source, f"field {self.name!r}: `{key}` must be a list of fields", self.line
            )
        children = tuple(Field(item, self.source) for item in raw)
        check_unique(children, self.source, self.line)
        return children

    def check(self, value: Any, present: bool, path: FieldPath, report: Report) -> None:
        if not present or is_empty(value):
            if self.required and self.widget.missing_is_empty():
                report(path, "is required")
            return
        self.widget.check(value, path, report)

    def check_pattern(self, value: str, path: FieldPath, report: Report) -> None:
        if self.pattern is not None and value and not self.pattern.search(value):
            report(path, self.pattern_message)

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this field's value, saying what ``check`` says: a required
        value is not empty (nor missing, in its parent's ``required``); any other may be empty
        (null, "", [] or {}, as Decap and hand-written files leave it). Only what JSON Schema
        cannot say is left to ``check`` (a date's format, GeoJSON, a numeric string's range):
        a property test holds them to that."""
        schema = dict(self.widget.schema())
        if self.pattern is not None:
            schema["pattern"] = self.pattern.pattern
        if self.required and self.widget.missing_is_empty():
            schema["not"] = EMPTY
        elif schema:
            schema = {"anyOf": [schema, EMPTY]}
        schema["title"] = self.label
        if self.hint:
            schema["description"] = str(self.hint)
        if self.default is not None:
            schema["default"] = self.default
        if not self.known:
            schema["x-widget"] = self.widget_name
        return schema

    def describe(self) -> dict[str, Any]:
        """The field as the API shows it: its options, nested fields described the same way."""
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "widget": self.widget_name,
            "required": self.required,
        }
        for key in ("hint", "default"):
            if self.raw.get(key) is not None:
                out[key] = self.raw[key]
        if self.pattern is not None:
            out["pattern"] = [self.pattern.pattern, self.pattern_message]
        for key, value in self.raw.items():
            if key not in _OWN_OPTIONS and key not in _NESTED_OPTIONS:
                out[str(key)] = value
        widget = self.widget
        if getattr(widget, "item", None) is not None:
            out["field"] = widget.item.describe()
        elif getattr(widget, "fields", ()):
            out["fields"] = [f.describe() for f in widget.fields]
        if getattr(widget, "types", None):
            out["types"] = [
                {"name": name, "fields": [f.describe() for f in fields]}
                for name, fields in widget.types.items()
            ]
        return out

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Field]]:
        """This field and every nested one, with their dotted names (list items are skipped)."""
        dotted = f"{prefix}{self.name}"
        yield dotted, self
        for child in self.widget.children():
            yield from child.walk(dotted + ".")

    def __repr__(self) -> str:
        return f"Field({self.name!r}, widget={self.widget_name!r})"


def check_unique(fields: tuple[Field, ...], source: str, line: int | None) -> None:
    seen: set[str] = set()
    for field in fields:
        if field.name in seen:
            raise ConfigError(source, f"two fields are named {field.name!r}", field.line or line)
        seen.add(field.name)


def check_fields(
    fields: tuple[Field, ...], data: Mapping[str, Any], path: FieldPath, report: Report
) -> None:
    """Check an entry's (or an object's) values against its fields."""
    for field in fields:
        field.check(data.get(field.name), field.name in data, (*path, field.name), report)
