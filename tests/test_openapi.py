"""The OpenAPI document: committed file up to date, every operation documented."""

from __future__ import annotations

import json

from cms.cli import openapi_document
from cms.settings import PROJECT_ROOT
from tests.conftest import bearer, make_app


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


def test_live_spec_is_the_document_typed_by_the_model(client) -> None:
    live = client.get("/api/v1/openapi.json").get_json()
    generic = json.loads(openapi_document())
    for path, item in generic["paths"].items():
        assert live["paths"][path] == item
    for name, schema in generic["components"]["schemas"].items():
        assert live["components"]["schemas"][name] == schema
    typed = set(live["paths"]) - set(generic["paths"])
    assert "/api/v1/collections/personnes/entries/{slug}" in typed
    one = live["paths"]["/api/v1/collections/personnes/entries/{slug}"]
    assert one.keys() == {"get", "put", "patch", "delete", "parameters"}


def test_the_docs_prefilled_values_answer_200(sample_copy, tmp_path) -> None:
    """Swagger UI's "Try it out" fills every parameter's example: for every read of the
    document, on every collection of the sample, those values must give a 200 (with a token
    where the operation asks for one, as after "Authorize"; a webhook and a schedule exist)."""
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    token = bearer(app, "admin")
    spec = client.get("/api/v1/openapi.json").get_json()
    collections = [c["name"] for c in client.get("/api/v1/collections").get_json()]
    hook = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=token
    ).get_json()["id"]
    draft = "cms/pages/essai"
    client.post("/api/v1/branches", json={"name": draft}, headers=token)
    client.post(
        f"/api/v1/branches/{draft}/schedule",
        json={"at": "2030-01-06T08:00:00+01:00"},
        headers=token,
    )
    tried = 0
    for path, operations in spec["paths"].items():
        operation = operations.get("get")
        if operation is None or "{file}" in path:
            continue
        parameters = operation.get("parameters", []) + operations.get("parameters", [])
        query = {
            p["name"]: p["example"] for p in parameters if p["in"] == "query" and "example" in p
        }
        for name in collections if "{collection}" in path else [None]:
            url = path.replace("{hook_id}", hook).replace("{branch}", draft)
            for p in parameters:  # a typed path's slug has the first entry's as its example
                if p["in"] == "path" and "example" in p:
                    url = url.replace("{" + p["name"] + "}", p["example"])
            if name is not None:
                url = url.replace("{collection}", name)
                first = client.get(f"/api/v1/collections/{name}/entries?page_size=1").get_json()
                url = url.replace("{slug}", first[0]["slug"] if first else "x")
            args = []
            for key, value in query.items():
                if isinstance(value, dict):  # deepObject: filter[field]=value
                    args += [(f"{key}[{k}]", v) for k, v in value.items()]
                else:
                    args.append((key, value))
            headers = token if operation.get("security") else {}
            answer = client.get(url, query_string=args, headers=headers)
            assert answer.status_code == 200, (url, args, answer.get_json())
            tried += 1
    assert tried > 20
