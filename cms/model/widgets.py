"""Decap's standard widgets, one small class each, in one registry.

A widget knows three things about the values of its field: how to check one (``check``), which
JSON Schema describes them (``schema``), and which fields it nests (``children``). Adding a widget
is adding one class with ``@register``. A widget name that is not in the registry gets
``UnknownWidget``, which accepts any value; ``cms validate`` reports the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cms.model.dates import timestamp
from cms.model.problems import FieldPath, Problem

if TYPE_CHECKING:
    from cms.model.fields import Field

WIDGETS: dict[str, type[Widget]] = {}
# A relation's value_field that means the related entry's file slug, not a field.
FILE_SLUG = "{{slug}}"

Report = Callable[[FieldPath, str], None]


class OptionError(ValueError):
    """A widget option is malformed; the config loader adds the file and line."""


def register(cls: type[Widget]) -> type[Widget]:
    WIDGETS[cls.name] = cls
    return cls


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def same_json(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``True`` is not ``1`` (Python says it is); ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _bound(options: Mapping[str, Any], key: str) -> float | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OptionError(f"`{key}` must be a number, got {value!r}")
    return value


class Widget:
    """A widget with no rule of its own: any string."""

    name: ClassVar[str] = ""
    json_type: ClassVar[str | None] = "string"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        self.field = field
        self.options = options

    def children(self) -> tuple[Field, ...]:
        return ()

    def missing_is_empty(self) -> bool:
        """Whether a missing value counts as empty for ``required``."""
        return True

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, str):
            report(path, f"must be a string, not {type_name(value)}")
            return
        self.field.check_pattern(value, path, report)

    def schema(self) -> dict[str, Any]:
        return {"type": self.json_type} if self.json_type else {}


@register
class StringWidget(Widget):
    name = "string"


@register
class TextWidget(Widget):
    name = "text"


@register
class MarkdownWidget(Widget):
    name = "markdown"


@register
class ColorWidget(Widget):
    name = "color"


@register
class HiddenWidget(Widget):
    """Any value; Decap fills it from ``default`` and shows no input, so it is never required."""

    name = "hidden"
    json_type = None

    def missing_is_empty(self) -> bool:
        return False

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if isinstance(value, str):
            self.field.check_pattern(value, path, report)


@register
class BooleanWidget(Widget):
    """A missing boolean reads as ``false`` in Decap's editor, so it never counts as empty."""

    name = "boolean"
    json_type = "boolean"

    def missing_is_empty(self) -> bool:
        return False

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, bool):
            report(path, f"must be true or false, not {type_name(value)}")


@register
class NumberWidget(Widget):
    """``value_type: int`` or ``float`` stores a number; any other value stores a numeric string."""

    name = "number"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        self.value_type = options.get("value_type")
        self.min = _bound(options, "min")
        self.max = _bound(options, "max")
        step = options.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
            raise OptionError(f"`step` must be a number, got {step!r}")

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        number: float
        if self.value_type == "int":
            whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            if isinstance(value, bool) or not whole:
                report(path, f"must be a whole number, not {type_name(value)}")
                return
            number = value
        elif self.value_type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                report(path, f"must be a number, not {type_name(value)}")
                return
            number = float(value)
        elif _numeric(value):
            number = float(value)
        else:
            report(path, f"must be a number, not {value!r}")
            return
        if math.isnan(number) or math.isinf(number):
            report(path, "must be a finite number")
            return
        if self.min is not None and number < self.min:
            report(path, f"must be at least {_number(self.min)}")
        if self.max is not None and number > self.max:
            report(path, f"must be at most {_number(self.max)}")

    def schema(self) -> dict[str, Any]:
        if self.value_type == "int":
            schema: dict[str, Any] = {"type": "integer"}
        elif self.value_type == "float":
            schema = {"type": "number"}
        else:
            number = {"type": "number"}
            self._bounds(number)
            return {"anyOf": [number, {"type": "string", "pattern": NUMERIC.pattern}]}
        self._bounds(schema)
        return schema

    def _bounds(self, schema: dict[str, Any]) -> None:
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max


# A number written as a string (Decap's number widget without `value_type` stores one).
NUMERIC = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def _numeric(value: Any) -> bool:
    """A number, or a string that is one (not a boolean: YAML's true is no number here)."""
    if isinstance(value, str):
        return NUMERIC.fullmatch(value) is not None
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# Moment.js format tokens, as Decap's datetime widget writes them, to regular expressions.
@register
class DatetimeWidget(Widget):
    """A date or date-time string naming a real moment: ISO 8601 / YAML timestamp, or the
    field's moment ``format`` (``cms.model.dates``)."""

    name = "datetime"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        fmt = options.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise OptionError(f"`format` must be a string, got {fmt!r}")
        self.format = fmt

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, str):
            report(path, f"must be a date string, not {type_name(value)}")
            return
        if timestamp(value, self.format) is not None:
            return
        expected = f" in the format {self.format}" if self.format else ""
        report(path, f"must be a date{expected}, not {value!r}")

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if not self.format:
            schema["format"] = "date-time"
        return schema


@register
class DateWidget(DatetimeWidget):
    """Decap's deprecated ``date`` widget (still shipped): a datetime without a time."""

    name = "date"


class _MultipleWidget(Widget):
    """A widget whose value is one item, or a list of items with ``multiple: true``."""

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        self.multiple = bool(options.get("multiple", False))
        self.min = _bound(options, "min")
        self.max = _bound(options, "max")

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not self.multiple:
            self.check_item(value, path, report)
            return
        if not isinstance(value, list):
            report(path, f"must be a list, not {type_name(value)}")
            return
        _check_count(value, self.min, self.max, path, report)
        for index, item in enumerate(value):
            self.check_item(item, (*path, index), report)

    def check_item(self, value: Any, path: FieldPath, report: Report) -> None:
        super().check(value, path, report)

    def item_schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def schema(self) -> dict[str, Any]:
        if not self.multiple:
            return self.item_schema()
        schema: dict[str, Any] = {"type": "array", "items": self.item_schema()}
        if self.min is not None:
            schema["minItems"] = int(self.min)
        if self.max is not None:
            schema["maxItems"] = int(self.max)
        return schema


def _check_count(
    items: list[Any], low: float | None, high: float | None, path: FieldPath, report: Report
) -> None:
    if low is not None and len(items) < low:
        report(path, f"must have at least {_number(low)} items")
    if high is not None and len(items) > high:
        report(path, f"must have at most {_number(high)} items")


@register
class SelectWidget(_MultipleWidget):
    """``options``: strings, or ``{label, value}`` objects; the stored value is ``value``."""

    name = "select"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        raw = options.get("options")
        if not isinstance(raw, list) or not raw:
            raise OptionError("a select widget needs a non-empty `options` list")
        self.values: list[Any] = []
        for option in raw:
            if isinstance(option, Mapping):
                if "value" not in option:
                    raise OptionError(f"select option {dict(option)!r} has no `value`")
                self.values.append(option["value"])
            else:
                self.values.append(option)

    def check_item(self, value: Any, path: FieldPath, report: Report) -> None:
        if not any(same_json(value, option) for option in self.values):
            allowed = ", ".join(repr(v) for v in self.values)
            report(path, f"must be one of {allowed}, not {value!r}")

    def item_schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


@register
class RelationWidget(_MultipleWidget):
    """A reference to entries of another collection by their ``value_field``.

    Whether the referenced entry exists is checked across collections by the validator.
    """

    name = "relation"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        collection = options.get("collection")
        value_field = options.get("value_field")
        if not isinstance(collection, str) or not collection:
            raise OptionError("a relation widget needs `collection`")
        if not isinstance(value_field, str) or not value_field:
            raise OptionError("a relation widget needs `value_field`")
        self.collection = collection
        self.value_field = value_field
        file = options.get("file")
        if file is not None and not isinstance(file, str):
            raise OptionError("a relation's `file` names one file of a files collection")
        # With `file`, the values are read in that one file of a files collection (Decap's
        # relation to a list inside a file: `value_field: docs.*.identifier`).
        self.file: str | None = file

    @property
    def value_path(self) -> str:
        """Where a related entry's values are read: the field ``value_field`` names (a field
        called ``slug`` too), except that Decap's ``{{slug}}`` is the entry's file slug
        (``FILE_SLUG``)."""
        if self.value_field.replace(" ", "") == FILE_SLUG:
            return FILE_SLUG
        # `*` stands for every item of a list; lists are read through (`docs.*.id` is every
        # item's `id`), so the path is the same without it.
        return ".".join(part for part in self.value_field.split(".") if part != "*")

    def check_item(self, value: Any, path: FieldPath, report: Report) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            report(path, f"must be a string, not {type_name(value)}")

    def item_schema(self) -> dict[str, Any]:
        return {"type": ["string", "number"], "x-relation": f"{self.collection}.{self.value_field}"}


@register
class ImageWidget(_MultipleWidget):
    """A media path or URL; several with ``multiple`` (Decap's media library ``multiple``)."""

    name = "image"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        library = options.get("media_library")
        if isinstance(library, Mapping) and isinstance(library.get("config"), Mapping):
            self.multiple = self.multiple or bool(library["config"].get("multiple", False))

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if self.multiple and isinstance(value, str):
            self.check_item(value, path, report)
            return
        super().check(value, path, report)

    def schema(self) -> dict[str, Any]:
        schema = super().schema()
        return {"anyOf": [self.item_schema(), schema]} if self.multiple else schema


@register
class FileWidget(ImageWidget):
    name = "file"


@register
class CodeWidget(Widget):
    """A string with ``output_code_only: true``, else an object ``{code, lang}`` (keys settable)."""

    name = "code"
    json_type = None

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        keys = options.get("keys") or {}
        self.code_key = keys.get("code", "code") if isinstance(keys, Mapping) else "code"
        self.lang_key = keys.get("lang", "lang") if isinstance(keys, Mapping) else "lang"
        self.code_only = bool(options.get("output_code_only", False))

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if isinstance(value, str):
            return
        if not self.code_only and isinstance(value, dict):
            for key in (self.code_key, self.lang_key):
                if key in value and value[key] is not None and not isinstance(value[key], str):
                    report((*path, key), f"must be a string, not {type_name(value[key])}")
            return
        expected = "a string" if self.code_only else f"a string or {{{self.code_key}, ...}}"
        report(path, f"must be {expected}, not {type_name(value)}")

    def schema(self) -> dict[str, Any]:
        if self.code_only:
            return {"type": "string"}
        text = {"type": ["string", "null"]}
        props = {self.code_key: text, self.lang_key: text}
        return {"anyOf": [{"type": "string"}, {"type": "object", "properties": props}]}


@register
class MapWidget(Widget):
    """A GeoJSON geometry, stored as a JSON string."""

    name = "map"

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, str):
            report(path, f"must be a GeoJSON string, not {type_name(value)}")
            return
        try:
            geometry = json.loads(value)
        except ValueError:
            report(path, "must be GeoJSON, and is not valid JSON")
            return
        if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
            report(path, "must be a GeoJSON geometry with a `type`")


class _NestingWidget(Widget):
    """Shared by object and list: ``fields`` or ``types`` (a choice of objects by ``typeKey``)."""

    json_type = None

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        self.fields: tuple[Field, ...] = field.build_children(options.get("fields"), "fields")
        self.type_key = str(options.get("typeKey", "type"))
        self.types: dict[str, tuple[Field, ...]] = {}
        raw_types = options.get("types")
        if raw_types is not None:
            if not isinstance(raw_types, list):
                raise OptionError("`types` must be a list of objects with `name` and `fields`")
            for raw in raw_types:
                if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
                    raise OptionError("each of `types` needs a `name`")
                self.types[raw["name"]] = field.build_children(raw.get("fields"), "fields")

    def children(self) -> tuple[Field, ...]:
        nested = list(self.fields)
        for fields in self.types.values():
            nested.extend(fields)
        return tuple(nested)

    def check_object(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, dict):
            report(path, f"must be an object, not {type_name(value)}")
            return
        fields = self.fields
        if self.types:
            kind = value.get(self.type_key)
            if kind not in self.types:
                names = ", ".join(repr(name) for name in self.types)
                report((*path, self.type_key), f"must be one of {names}, not {kind!r}")
                return
            fields = self.types[kind]
        for child in fields:
            child.check(value.get(child.name), child.name in value, (*path, child.name), report)

    def object_schema(self) -> dict[str, Any]:
        if self.types:
            variants = []
            for kind, fields in self.types.items():
                schema = _object_schema(fields)
                schema["properties"][self.type_key] = {"const": kind}
                schema.setdefault("required", []).insert(0, self.type_key)
                variants.append(schema)
            return {"oneOf": variants}
        return _object_schema(self.fields)


def _object_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: f.schema() for f in fields},
    }
    required = [f.name for f in fields if f.required and f.widget.missing_is_empty()]
    if required:
        schema["required"] = required
    return schema


@register
class ObjectWidget(_NestingWidget):
    name = "object"

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        self.check_object(value, path, report)

    def schema(self) -> dict[str, Any]:
        return self.object_schema()


@register
class ListWidget(_NestingWidget):
    """A list of objects (``fields``/``types``), of one widget's values (``field``), or strings."""

    name = "list"

    def __init__(self, field: Field, options: Mapping[str, Any]) -> None:
        super().__init__(field, options)
        single = options.get("field")
        self.item: Field | None = None
        if single is not None:
            (self.item,) = field.build_children([single], "field")
        self.min = _bound(options, "min")
        self.max = _bound(options, "max")

    def children(self) -> tuple[Field, ...]:
        return (self.item,) if self.item is not None else super().children()

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        if not isinstance(value, list):
            report(path, f"must be a list, not {type_name(value)}")
            return
        _check_count(value, self.min, self.max, path, report)
        for index, item in enumerate(value):
            item_path = (*path, index)
            if self.item is not None:
                self.item.check(item, True, item_path, report)
            elif self.fields or self.types:
                self.check_object(item, item_path, report)
            elif not isinstance(item, str | int | float) or isinstance(item, bool):
                report(item_path, f"must be a string, not {type_name(item)}")

    def schema(self) -> dict[str, Any]:
        if self.item is not None:
            items = self.item.schema()
        elif self.fields or self.types:
            items = self.object_schema()
        else:
            items = {"type": ["string", "number"]}  # YAML reads `- 2018` as a number
        schema: dict[str, Any] = {"type": "array", "items": items}
        if self.min is not None:
            schema["minItems"] = int(self.min)
        if self.max is not None:
            schema["maxItems"] = int(self.max)
        return schema


class UnknownWidget(Widget):
    """A widget this server does not know (a site's custom widget): any value is accepted."""

    json_type = None

    def check(self, value: Any, path: FieldPath, report: Report) -> None:
        return None


def problems_of(field: Field, value: Any, present: bool = True) -> list[Problem]:
    """Every problem of one field's value, as a list (a convenience for tests and tools)."""
    found: list[Problem] = []
    field.check(value, present, (field.name,), lambda p, m: found.append(Problem(p, m)))
    return found
