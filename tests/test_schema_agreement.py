"""The JSON Schema the model serves (and the typed OpenAPI document is built from) agrees with
the model's validation: checked with hypothesis on generated values, by a maintained JSON
Schema validator (jsonschema_rs).

Where a widget has a check that JSON Schema cannot express (a date in a moment format, a
GeoJSON string, the range of a number written as a string), validation may refuse more than
the schema; it never accepts what the schema refuses. Everywhere else they say the same."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cms.model.fields import Field
from cms.model.widgets import problems_of

SCALARS = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([1.0, 2.5, -0.5, 1e20]),
    st.sampled_from(["abc", "12", "3.5", " 7 ", "1e3", "eig", "sponsor", "x", "https://a.b"]),
    st.sampled_from(["2024-01-02", "2024-01-02T10:00:00Z", '{"type": "Point"}', "[1]"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["a", "b", "code", "lang", "type", "url"]), inner, max_size=3
        ),
    ),
    max_leaves=6,
)

# (field config, exact): exact when the widget has no check beyond its schema.
FIELDS: list[tuple[dict[str, Any], bool]] = [
    ({"widget": "string"}, True),
    ({"widget": "string", "required": False}, True),
    ({"widget": "text", "pattern": ["^https?://", "must be a link"]}, True),
    ({"widget": "string", "required": False, "pattern": ["^[a-z]+$", "lower case"]}, True),
    ({"widget": "boolean"}, True),
    ({"widget": "boolean", "required": False}, True),
    ({"widget": "number", "value_type": "int", "min": 0, "max": 3}, True),
    ({"widget": "number", "value_type": "float", "required": False}, True),
    ({"widget": "number"}, True),
    ({"widget": "number", "required": False, "min": 1}, False),
    ({"widget": "select", "options": ["eig", "sponsor"]}, True),
    ({"widget": "select", "options": [1, 2], "required": False}, True),
    ({"widget": "select", "options": ["eig", "sponsor"], "multiple": True, "max": 1}, True),
    ({"widget": "relation", "collection": "p", "value_field": "title"}, True),
    ({"widget": "relation", "collection": "p", "value_field": "t", "multiple": True}, True),
    ({"widget": "image", "required": False}, True),
    ({"widget": "file", "multiple": True}, True),
    ({"widget": "list"}, True),
    ({"widget": "list", "required": False, "min": 1}, True),
    ({"widget": "list", "fields": [{"name": "a", "widget": "string"}]}, True),
    ({"widget": "list", "field": {"name": "a", "widget": "number", "value_type": "int"}}, True),
    ({"widget": "object", "fields": [{"name": "url", "widget": "string"}]}, True),
    ({"widget": "object", "required": False, "fields": [{"name": "a", "widget": "boolean"}]}, True),
    ({"widget": "code"}, True),
    ({"widget": "code", "output_code_only": True, "required": False}, True),
    ({"widget": "hidden"}, True),
    ({"widget": "markdown", "required": False}, True),
    ({"widget": "datetime"}, False),
    ({"widget": "datetime", "required": False, "format": "YYYY-MM-DD"}, False),
    ({"widget": "map"}, False),
    ({"widget": "my-custom-widget"}, True),
]


def wrapped(config: dict[str, Any]) -> Field:
    """The field inside an object that is never empty, so that absence is tested too."""
    inner = {"name": "f", "label": "F", **config}
    return Field(
        {"name": "o", "widget": "object", "fields": [{"name": "k", "widget": "string"}, inner]},
        "test",
    )


@pytest.mark.parametrize(("config", "exact"), FIELDS, ids=lambda v: str(v)[:60])
@settings(max_examples=300, deadline=None)
@given(value=VALUES, present=st.booleans())
def test_validation_and_schema_agree(config, exact, value, present) -> None:
    field = wrapped(config)
    data = {"k": "x", "f": value} if present else {"k": "x"}
    problems = problems_of(field, data)
    valid = jsonschema_rs.validator_for(field.schema()).is_valid(data)
    if exact:
        assert (not problems) == valid, (field.schema(), data, problems)
    else:
        assert valid or problems, (field.schema(), data)


def test_the_three_probes_of_the_review() -> None:
    title = wrapped({"widget": "string"})
    assert not jsonschema_rs.validator_for(title.schema()).is_valid({"k": "x", "f": ""})
    number = wrapped({"widget": "number"})
    assert not jsonschema_rs.validator_for(number.schema()).is_valid({"k": "x", "f": "abc"})
    strings = wrapped({"widget": "list"})
    assert problems_of(strings, {"k": "x", "f": [1, 2]}) == []
    assert jsonschema_rs.validator_for(strings.schema()).is_valid({"k": "x", "f": [1, 2]})
