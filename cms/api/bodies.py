"""Request bodies are bounded before any view reads them: size (``CMS_MAX_BODY_BYTES``, also
for a chunked body, whose length is not announced) and, for JSON, nesting depth."""

from __future__ import annotations

import json

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from cms.errors import BadRequest, CMSError
from cms.model.values import MAX_DEPTH, TooComplex, check_shape


class PayloadTooLarge(CMSError):
    """The request body is larger than CMS_MAX_BODY_BYTES."""

    status = 413


# Requests that carry a media file (base64 in JSON for Decap's editor: 4/3 of its size) may be
# as large as the file allows, with room for the rest of the request.
MEDIA_PATHS = ("/admin/api/v1", "/api/v1/media")


def init_bodies(app: Flask) -> None:
    default = int(app.config["CMS_MAX_BODY_BYTES"])
    media = int(app.config["CMS_MEDIA_MAX_BYTES"]) * 4 // 3 + (1 << 20)

    @app.before_request
    def bounded_body() -> None:
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        limit = max(default, media) if request.path in MEDIA_PATHS else default
        request.max_content_length = limit
        try:
            data = request.get_data(cache=True)
        except RequestEntityTooLarge:
            data = None
        # werkzeug stops reading a chunked body (no Content-Length) at the limit: one that
        # reached it was cut there.
        cut = request.content_length is None and data is not None and len(data) >= limit
        if data is None or len(data) > limit or cut:
            setting = "CMS_MEDIA_MAX_BYTES" if limit != default else "CMS_MAX_BODY_BYTES"
            raise PayloadTooLarge(
                f"the request body is larger than {limit} bytes ({setting})",
                {"limit": limit},
            )
        if not data or not request.is_json:
            return
        try:
            parsed = json.loads(data)
        except RecursionError:
            parsed = None
            problem: str | None = f"nested more than {MAX_DEPTH} levels deep"
        except ValueError:
            return  # not JSON: the view's parser says so
        else:
            try:
                check_shape(parsed)
                problem = None
            except TooComplex as exc:
                problem = str(exc)
        if problem:
            raise BadRequest(f"the JSON body is {problem}", {"json": [problem]})
