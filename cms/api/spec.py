"""Finishing the OpenAPI document: what every operation can answer besides its own statuses.

The views declare their own statuses; this declares, in one place, what all of them share: a
400 wherever a parameter or a body can be malformed (a `ref` or `branch` that is not a valid
name, a bad `page`), and the error shape as the body of every error status.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
CHECKED_PARAMETERS = {"ref", "branch", "page", "page_size", "from", "to", "since", "q", "render"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
ETAG = {
    "description": "The answer's validator: send it in `If-None-Match` for a 304. An "
    "entry's is its version (`-br`/`-gzip` appended when the answer is compressed).",
    "schema": {"type": "string"},
}
LINK = {
    "description": "Links to the first, previous, next and last pages (RFC 8288).",
    "schema": {"type": "string"},
}
CACHE_CONTROL = {
    "description": "`immutable` at a full commit sha; `s-maxage` on the published branch; "
    "`private` with a token.",
    "schema": {"type": "string"},
}
BAD_PARAMETER = (
    "A malformed parameter or body: a `ref` or `branch` that is not a valid branch, tag or "
    "commit name, a bad `page`, invalid JSON."
)


def declare_errors(spec: APISpec) -> None:
    paths: dict[str, dict[str, Any]] = spec._paths  # apispec keeps the paths here until dumped
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            names = {p.get("name") for p in operation.get("parameters", []) if "name" in p}
            if "400" not in responses and (
                names & CHECKED_PARAMETERS or "requestBody" in operation or "{name}" in path
            ):
                responses["400"] = {"description": BAD_PARAMETER}
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and "$ref" not in response:
                    response.setdefault("content", ERROR_BODY)
            declare_validators(method, responses.get("200"))


def declare_validators(method: str, ok: dict[str, Any] | None) -> None:
    """The headers every cacheable read sends with its 200: ETag and Cache-Control (the reads
    that name their commit), and Link on the paginated ones."""
    if method != "get" or ok is None:
        return
    headers = ok.get("headers") or {}
    if "X-Content-Commit" not in headers:
        return
    headers.setdefault("ETag", ETAG)
    headers.setdefault("Cache-Control", CACHE_CONTROL)
    if "X-Pagination" in headers:
        headers.setdefault("Link", LINK)
    ok["headers"] = headers
