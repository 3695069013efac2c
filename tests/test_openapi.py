"""The OpenAPI document: committed file up to date, every operation documented."""

from __future__ import annotations

import json

from cms.cli import openapi_document
from cms.settings import PROJECT_ROOT


def test_committed_openapi_is_current() -> None:
    committed = (PROJECT_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_document(), "openapi/openapi.json is stale: run `make openapi`"


def test_every_operation_has_a_summary_and_a_description() -> None:
    spec = json.loads(openapi_document())
    assert spec["openapi"] == "3.1.0"
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]
    assert len(operations) >= 5
    for path, method, op in operations:
        assert op.get("summary"), f"{method} {path} has no summary"
        assert op.get("description"), f"{method} {path} has no description"


def test_live_spec_equals_the_document(client) -> None:
    live = client.get("/api/v1/openapi.json").get_json()
    assert live == json.loads(openapi_document())
