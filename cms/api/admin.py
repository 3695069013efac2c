"""The editor at ``/admin/``: Decap CMS's app, its config and its proxy API, behind a login.

An editor signs in with a token of the editor role or more and gets a session cookie: the token
itself, ``HttpOnly`` (no script reads it), ``SameSite=Strict`` and scoped to ``/admin`` (the JSON
API never reads cookies, so no other page can make a browser write through it). Every POST
under ``/admin`` that a cookie authenticates must come from this server's own pages (its
``Origin``), so another site cannot make a signed-in browser act. A revoked token ends its
sessions at the next request. Scripts may call the proxy API with a bearer token instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from ruamel.yaml import YAML
from ruamel.yaml.compat import StringIO
from werkzeug.exceptions import InternalServerError

from cms.api.auth import current_token, tokens
from cms.api.context import service
from cms.api.errors import error_response, handle_cms_error, handle_http_exception
from cms.api.responses import dumps, encoded, encoding_for
from cms.auth import Token
from cms.content.decap import READS, DecapProxy, Editor, ProxyNotFound
from cms.errors import CMSError, Forbidden, Unauthorized, Unprocessable
from cms.storage.git import Identity
from cms.storage.lru import LRU
from cms.vendor import DECAP_VERSION, app_folder, installed

COOKIE = "cms_session"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 12 * 3600
PROXY_URL = "/admin/api/v1"

blp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def proxy() -> DecapProxy:
    return current_app.extensions["cms.decap"]


# -- who is signed in ----------------------------------------------------------------------------


def session_token() -> Token | None:
    """The token of the request: a bearer header, else the session cookie (None: neither)."""
    if "Authorization" in request.headers:
        return current_token()
    value = request.cookies.get(COOKIE)
    return tokens().check(value) if value else None


def same_origin() -> bool:
    """Whether a request comes from this server's own pages (its ``Origin`` is this host)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(origin) and urlsplit(origin).netloc == request.host


def editor_token() -> Token:
    token = session_token()
    if token is None:
        raise Unauthorized("sign in at /admin/login with a token of the editor role")
    if not token.allows("editor"):
        raise Forbidden(f"the editor needs the editor role; this token has {token.role}")
    if "Authorization" not in request.headers and request.method == "POST" and not same_origin():
        raise Forbidden("this request does not come from this server's pages (Origin)")
    return token


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the editor, never another site."""
    if value and value.startswith("/admin") and value.isprintable() and "\\" not in value:
        return value
    return "/admin/"


@blp.after_request
def no_framing(response: Response) -> Response:
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


# -- pages ---------------------------------------------------------------------------------------


@blp.get("")
def admin_root() -> Response:
    return redirect("/admin/", code=308)


@blp.get("/")
def app_page() -> Response | tuple[str, int]:
    """The Decap app, for a signed-in editor; others go to the login page."""
    token = session_token() if "Authorization" not in request.headers else None
    if token is None or not token.allows("editor"):
        return redirect("/admin/login?next=/admin/", code=303)
    if not installed():
        return render_template("admin/missing.html", version=DECAP_VERSION), 503
    response = Response(
        render_template("admin/app.html", version=DECAP_VERSION, name=token.name),
        mimetype="text/html",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        token = session_token() if "Authorization" not in request.headers else None
        if token is not None and token.allows("editor"):
            return redirect(target, code=303)
        return render_template("admin/login.html", next=target, error=None)
    if not same_origin():
        return render_template(
            "admin/login.html", next=target, error="This form was not sent from this site."
        ), 403
    value = (request.form.get("token") or "").strip()
    token = tokens().check(value) if value else None
    if token is None or not token.allows("editor"):
        error = (
            "This token is not valid (revoked, or never issued)."
            if token is None
            else f"This token has the {token.role} role; the editor needs editor or admin."
        )
        return render_template("admin/login.html", next=target, error=error), 401
    response = redirect(target, code=303)
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )
    return response


@blp.post("/logout")
def logout() -> Response:
    if request.cookies.get(COOKIE) and not same_origin():
        raise Forbidden("this request does not come from this server's pages (Origin)")
    response = redirect("/admin/login", code=303)
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, secure=request.is_secure, httponly=True, samesite="Strict"
    )
    return response


@blp.get("/config.yml")
def config_file() -> Response:
    """The site's own ``config.yml`` at the published head, with its backend set to this
    server's proxy API and ``local_backend`` removed; everything else as the site has it."""
    editor_token()
    snap = service().snapshot()
    raw = service().store.read_blob(snap.config_sha).decode("utf-8", "replace")
    response = Response(rewrite_config(raw, service().store.branch), mimetype="text/yaml")
    response.headers["Cache-Control"] = "no-store"
    g.content_commit = snap.commit
    return response


def rewrite_config(raw: str, branch: str) -> str:
    """The config with its ``backend`` block replaced (the site's commit messages and label
    prefix kept) and ``local_backend`` removed; every other line as the file has it."""
    yaml = YAML(typ="rt")
    data = yaml.load(raw)
    lines = raw.splitlines(keepends=True)
    starts = sorted(data.lc.key(key)[0] for key in data)

    def block(key: str) -> tuple[int, int] | None:
        if key not in data:
            return None
        start = data.lc.key(key)[0]
        return start, next((line for line in starts if line > start), len(lines))

    backend = data.get("backend") if isinstance(data.get("backend"), dict) else {}
    kept = {
        key: backend[key]
        for key in ("cms_label_prefix", "commit_messages", "squash_merges", "preview_context")
        if key in backend
    }
    out = StringIO()
    YAML(typ="rt").dump(
        {"backend": {"name": "proxy", "proxy_url": PROXY_URL, "branch": branch, **kept}}, out
    )
    replaced = {"backend": out.getvalue(), "local_backend": ""}
    spans = sorted((span, key) for key in replaced if (span := block(key)) is not None)
    text, position = [], 0
    if "backend" not in data:
        text.append(replaced["backend"])
    for (start, end), key in spans:
        text.extend(lines[position:start])
        text.append(replaced[key])
        position = end
    text.extend(lines[position:])
    return "".join(text)


@blp.get(f"/decap-{DECAP_VERSION}/<path:name>")
def app_file(name: str) -> Response:
    """The app's files: immutable (the version is in the URL), gzip-compressed when asked."""
    folder = app_folder()
    compressed = (
        name.endswith(".js")
        and request.accept_encodings["gzip"] > 0
        and (folder / f"{name}.gz").is_file()
    )
    response = send_from_directory(folder, f"{name}.gz" if compressed else name, max_age=0)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
        response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.vary.add("Accept-Encoding")
    return response


# -- the proxy API -------------------------------------------------------------------------------


@blp.post("/api/v1")
def proxy_api() -> Response:
    """Decap's proxy backend: ``{"action", "params"}``; every answer is JSON."""
    try:
        token = editor_token()
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise Unprocessable('the body must be a JSON object {"action", "params"}')
        action, params = payload.get("action"), payload.get("params")
        if isinstance(params, dict) and "branch" not in params and "branch" in payload:
            params = {**params, "branch": payload["branch"]}
        editor = Editor(Identity(token.name, token.email), token.allows("admin"), token.id)
        if action in READS and isinstance(params, dict | None):
            return cached_read(action, params or {}, editor)
        return answer(dumps(proxy().run(action, params, editor)))
    except ProxyNotFound:
        return answer(dumps({"message": "Not Found"}), 404)
    except CMSError as error:
        return proxy_error(error.status, error.message, error.errors)


def cached_read(action: str, params: dict[str, Any], editor: Editor) -> Response:
    """Reads are answered from a cache keyed by what they read (the commit, or the drafts'
    heads and states): the editor asks the same lists again and again."""
    version = proxy().version(action, params)
    key = (action, json.dumps(params, sort_keys=True, ensure_ascii=False), version)
    cache: LRU = current_app.extensions["cms.decap.answers"]
    body = cache.get(key)
    if body is None:
        body = dumps(proxy().run(action, params, editor))
        if proxy().version(action, params) == version:  # not read across a change
            cache.put(key, body)
    proxy().remember(action, params, editor)  # the version an entry was opened at
    return answer(body)


def answer(body: bytes, status: int = 200) -> Response:
    """A proxy answer, compressed as the read API's are when the client takes it."""
    encoding = encoding_for(body)
    data = encoded(body, encoding) if encoding else body
    response = Response(data, status=status, mimetype="application/json")
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept-Encoding")
    return response


def proxy_error(status: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    """The one error shape, with Decap's ``error`` key (its client shows that text)."""
    response = error_response(status, message, errors, {"error": message})
    response.headers["Cache-Control"] = "no-store"
    return response


def init_admin(app: Flask, decap: DecapProxy) -> None:
    app.extensions["cms.decap"] = decap
    # Built answers of read actions, at most 128 MB (media lists carry their files).
    app.extensions["cms.decap.answers"] = LRU(512, max_bytes=128 << 20, weigh=len)
    app.register_blueprint(blp)


@blp.errorhandler(InternalServerError)
def admin_failure(error: InternalServerError) -> Response:
    """An unexpected failure: logged by Flask, answered in JSON (Decap reads every answer)."""
    if request.path == PROXY_URL:
        return proxy_error(500, "Unknown error")
    return handle_http_exception(error)


@blp.errorhandler(CMSError)
def admin_error(error: CMSError) -> Response:
    """Errors raised before the proxy's view (a body too large) keep Decap's ``error`` key."""
    if request.path == PROXY_URL:
        return proxy_error(error.status, error.message, error.errors)
    return handle_cms_error(error)
