"""Building the JSON responses of the read API by hand, for speed: bytes cached per commit and
query, ``ETag``/``If-None-Match`` answered without serialising anything again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask import Response, g, request

from cms.storage.refs import FULL_SHA

IMMUTABLE = "max-age=31536000, immutable"
REVALIDATE = "no-cache"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def body_etag(body: bytes) -> str:
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def pinned() -> bool:
    """Whether the request names a full commit sha: its answer can never change."""
    ref = request.args.get("ref", "")
    return bool(FULL_SHA.fullmatch(ref))


def json_response(
    body: bytes, etag: str, commit: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A 200 with the body, or a 304 when ``If-None-Match`` names this ``etag``."""
    g.content_commit = commit
    # RFC 9110: If-None-Match compares weakly, so W/"..." (what a proxy that compressed the
    # answer sends back) is a match too.
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(body, status=200, mimetype="application/json")
    response.set_etag(etag)
    # An answer given to a token may be a draft: only the client's own cache may keep it.
    scope = "private" if "Authorization" in request.headers else "public"
    response.headers["Cache-Control"] = f"{scope}, {IMMUTABLE if pinned() else REVALIDATE}"
    response.vary.add("Authorization")
    if headers:
        response.headers.update(headers)
    return response
