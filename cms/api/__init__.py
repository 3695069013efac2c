"""Everything HTTP: the only package that imports flask or flask_smorest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Flask, Response, g, request
from flask_smorest import Api

from cms.api import (
    branches,
    changesets,
    collections,
    entries,
    history,
    hooks,
    media,
    refs,
    schedules,
    search,
    status,
    webhooks,
)
from cms.api.admin import init_admin
from cms.api.bodies import init_bodies
from cms.api.converters import CONVERTERS
from cms.api.cors import init_cors
from cms.api.errors import init_errors
from cms.api.legacy import init_legacy
from cms.api.media import init_public_media
from cms.api.observability import init_metrics, init_request_log
from cms.api.spec import declare_errors
from cms.api.typed import init_typed
from cms.auth import TokenStore
from cms.content import ContentService
from cms.content.changes import EntryWriter
from cms.content.changesets import ChangesetWriter
from cms.content.decap import DecapProxy
from cms.content.media import MediaLibrary, MediaRules
from cms.errors import CMSError
from cms.index import Catalog
from cms.storage.git import Identity
from cms.storage.lru import LRU
from cms.storage.opened import OpenedFiles
from cms.storage.outbox import Outbox
from cms.webhooks import WebhookTask

API_TITLE = "Git-backed CMS"
API_VERSION = "v1"
SPEC_DESCRIPTION = """\
A git repository of Markdown and YAML front-matter files, served as a versioned JSON API.
The content model is the site's own Decap CMS `config.yml`.

* **Versions are git objects.** Every answer names the commit it was read from in
  `X-Content-Commit`. `ref=` reads any branch, tag or commit; at a full commit sha the answer
  is immutable and cached as such.
* **Validators.** An entry's `ETag` is its version (the blob sha of its file); send it back in
  `If-None-Match` for a `304 Not Modified`.
* **Errors** have one shape: `{"code", "status", "message", "errors"}`.
"""

DOCS_CONFIG = {
    "API_TITLE": API_TITLE,
    "API_VERSION": API_VERSION,
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "api/v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    # No validator badge: Swagger UI would send the spec to validator.swagger.io for it.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    "OPENAPI_REDOC_PATH": "redoc",
    "OPENAPI_REDOC_URL": "/static/vendor/redoc/redoc.standalone.js",
    "API_SPEC_OPTIONS": {
        "info": {"description": SPEC_DESCRIPTION},
        "servers": [{"url": "/", "description": "This server"}],
    },
}


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
log = logging.getLogger(__name__)

DOCS_PAGES = {"/docs", "/docs/", "/redoc", "/redoc/"}
# The docs pages load everything from this server. The policy makes the browser refuse anything
# else before it reaches the network: ReDoc's "API docs by Redocly" link shows an image from the
# vendor's CDN, which is then not fetched and simply not shown.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def register_blueprints(app: Flask, api: Api) -> None:
    for name, converter in CONVERTERS.items():
        app.url_map.converters[name] = converter
        api.register_converter(converter, lambda _converter: {"type": "string"})
    api.spec.components.security_scheme(
        "bearer",
        {"type": "http", "scheme": "bearer", "description": "A token from `cms tokens create`."},
    )
    modules = (
        collections,
        entries,
        history,
        changesets,
        branches,
        search,
        refs,
        media,
        status,
        hooks,
        webhooks,
        schedules,
    )
    for module in modules:
        api.register_blueprint(module.blp)
    declare_errors(api.spec)


def init_api(app: Flask, service: ContentService, catalog: Catalog) -> Api:
    for key, value in DOCS_CONFIG.items():
        app.config.setdefault(key, value)
    app.extensions["cms"] = service
    app.extensions["cms.index"] = catalog
    app.extensions["cms.writer"] = EntryWriter(
        service,
        Identity(str(app.config["CMS_COMMITTER_NAME"]), str(app.config["CMS_COMMITTER_EMAIL"])),
    )
    app.extensions["cms.changesets"] = ChangesetWriter(app.extensions["cms.writer"])
    committer = app.extensions["cms.writer"].committer
    rules = MediaRules(int(app.config["CMS_MEDIA_MAX_BYTES"]), tuple(app.config["CMS_MEDIA_TYPES"]))
    app.extensions["cms.media"] = MediaLibrary(service, rules, committer)
    app.extensions["cms.tokens"] = TokenStore(Path(str(app.config["CMS_INSTANCE"])))
    app.extensions["cms.outbox"] = Outbox(Path(str(app.config["CMS_INSTANCE"])) / "webhooks.sqlite")
    app.extensions["cms.webhooks"] = WebhookTask(
        service, app.extensions["cms.outbox"], float(app.config["CMS_WEBHOOK_BACKOFF"])
    )
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["CMS_MAX_BODY_BYTES"])
    # Built responses: (body, etag, headers), at most 64 MB of bodies.
    app.extensions["cms.responses"] = LRU(4096, max_bytes=64 << 20, weigh=lambda b: len(b[0]))
    # Their compressed forms, by encoding and body (kept with the body the key holds).
    app.extensions["cms.encoded"] = LRU(
        4096, max_bytes=32 << 20, weigh=lambda kept: len(kept[0]) + len(kept[1])
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    api = Api(app)
    register_blueprints(app, api)
    init_typed(app, api)
    init_errors(app)
    init_bodies(app)
    init_legacy(app)
    init_cors(app, tuple(app.config.get("CMS_CORS_ORIGINS") or ()))
    init_request_log(app)
    init_metrics(app)
    init_admin(
        app,
        DecapProxy(
            service,
            app.extensions["cms.media"],
            committer,
            service.store.path.name,
            OpenedFiles(Path(str(app.config["CMS_INSTANCE"])) / "opened.sqlite"),
        ),
    )

    @app.after_request
    def content_commit(response: Response) -> Response:
        commit = g.get("content_commit")
        if commit:
            response.headers["X-Content-Commit"] = commit
        return response

    @app.after_request
    def index_follows_writes(response: Response) -> Response:
        """A write that moved the published branch moves its index before it answers, so
        that the read that follows finds it current (drafts are not in that index)."""
        if request.method in WRITE_METHODS and response.status_code < 400:
            try:
                catalog.follow()
            except CMSError as error:
                log.warning("index not moved after a write: %s", error.message)
        return response

    @app.after_request
    def docs_policy(response: Response) -> Response:
        if request.path in DOCS_PAGES:
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        return response

    @app.get("/")
    @app.get("/api/v1")
    @app.get("/api/v1/")
    def index() -> Response:
        """Where to start: the API's entry points and its documentation."""
        links = {
            "collections": "/api/v1/collections",
            "search": "/api/v1/search?q=",
            "refs": "/api/v1/refs",
            "media": "/api/v1/media",
            "status": "/api/v1/status",
            "metrics": "/metrics",
            "editor": "/admin/",
            "sync": "/api/v1/sync",
            "docs": "/docs",
            "redoc": "/redoc",
            "openapi": "/api/v1/openapi.json",
        }
        body = {"name": API_TITLE, "version": API_VERSION, "links": links}
        return Response(json.dumps(body), mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers."""
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: the index is built and at the published branch's head."""
        status = catalog.status()
        if status.built and not status.current:
            catalog.current()  # the branch moved: apply the new commits
            status = catalog.status()
        if not status.current:
            response = Response("index not ready\n", status=503, mimetype="text/plain")
            response.headers["Retry-After"] = "5"
            return response
        g.content_commit = status.commit
        return Response("ready\n", mimetype="text/plain")

    init_public_media(app)  # last: it answers the paths no other route takes
    return api
