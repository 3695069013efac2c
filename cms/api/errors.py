"""One error shape for every error: flask-smorest's ``{code, status, message, errors}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from cms.errors import CMSError


def error_response(
    code: int,
    message: str,
    errors: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The error shape; ``extra`` adds keys a protocol of its own needs (Decap's ``error``)."""
    payload: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        payload["errors"] = errors
    payload.update(extra or {})
    response = Response(
        json.dumps(payload, ensure_ascii=False), status=code, mimetype="application/json"
    )
    return response


def handle_cms_error(error: CMSError) -> Response:
    if error.status >= 500 and error.status != 503:
        current_app.logger.error("%s: %s", type(error).__name__, error.message)
    response = error_response(error.status, error.message, error.errors)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cms"'
    if error.status == 503:
        response.headers["Retry-After"] = str(error.errors.get("retry_after", 1))
    if error.status == 405 and request.url_rule is not None:
        # The resource exists, but this collection refuses the method: the others stand.
        allowed = set(request.url_rule.methods or ()) - {request.method}
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """werkzeug's and webargs's errors (404 of an unknown URL, 405, 413, 400 of a body that is
    not JSON...) in the same shape, always with a message, and with their headers (``Allow``
    on a 405)."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description or HTTPStatus(code).phrase
    errors = data.get("errors") or data.get("messages")
    response = error_response(code, message, errors)
    for key, value in error.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    return response


def init_errors(app: Flask) -> None:
    app.register_error_handler(CMSError, handle_cms_error)
    app.register_error_handler(HTTPException, handle_http_exception)
