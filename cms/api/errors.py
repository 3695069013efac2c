"""One error shape for every error: flask-smorest's ``{code, status, message, errors}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, json

from cms.errors import CMSError


def error_response(code: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    payload: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        payload["errors"] = errors
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
    return response


def init_errors(app: Flask) -> None:
    app.register_error_handler(CMSError, handle_cms_error)
