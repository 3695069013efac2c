"""CORS for the origins in ``CMS_CORS_ORIGINS``: browsers may call the API and read the headers
that matter to a client (``ETag``, ``X-Pagination``, ``X-Content-Commit``, ``Link``)."""

from __future__ import annotations

from flask import Flask, Response, request

EXPOSED = "ETag, X-Pagination, X-Content-Commit, Link, Location, Retry-After"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match"
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    allowed = set(origins)
    any_origin = "*" in allowed

    @app.before_request
    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if not request.path.startswith("/api/"):
            return None
        return Response(status=204)

    @app.after_request
    def add_headers(response: Response) -> Response:
        if not request.path.startswith("/api/"):
            return response
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if not origin or not (any_origin or origin in allowed):
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response
