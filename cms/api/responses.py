"""Building the JSON responses of the read API by hand, for speed: bytes cached per commit and
query, ``ETag``/``If-None-Match`` answered without serialising anything again."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import brotli
from flask import Response, current_app, g, request

from cms.storage.lru import LRU
from cms.storage.refs import FULL_SHA

IMMUTABLE = "max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Answers this long or longer are compressed for clients that take it: brotli (smaller) when
# the client prefers it at least as much as gzip, else gzip. A compressed answer is another
# representation, so it has its own strong tag: the content's with "-br" or "-gzip" (as
# Apache does); If-None-Match and If-Match take any of them.
MIN_COMPRESSED = 1024
ENCODERS = {
    "br": lambda data: brotli.compress(data, quality=5),
    "gzip": lambda data: gzip.compress(data, 6, mtime=0),
}
SUFFIXES = tuple(f"-{name}" for name in ENCODERS)


def encoded(body: bytes, encoding: str) -> bytes:
    """``body`` compressed with ``encoding``, once per body: a browser asking again for an
    answer served from the response cache is sent the bytes compressed the first time
    (brotli takes longer than the rest of such a request)."""
    cache: LRU[tuple[str, bytes], tuple[bytes, bytes]] = current_app.extensions["cms.encoded"]
    key = (encoding, body)
    hit = cache.get(key)
    if hit is None:
        hit = cache.put(key, (body, ENCODERS[encoding](body)))
    return hit[1]


def encoding_for(body: bytes) -> str | None:
    """The encoding to send ``body`` in: none for a short one or a client that takes none."""
    return chosen_encoding() if len(body) >= MIN_COMPRESSED else None


def chosen_encoding() -> str | None:
    accepted = request.accept_encodings
    br, gz = accepted["br"], accepted["gzip"]
    if br > 0 and br >= gz:
        return "br"
    return "gzip" if gz > 0 else None


def tags_of(etag: str) -> list[str]:
    """The tags of every encoding of the same content."""
    return [etag, *(f"{etag}{suffix}" for suffix in SUFFIXES)]


def version_of(tag: str) -> str:
    """The content's tag from any encoding's (``abc-gzip`` → ``abc``)."""
    for suffix in SUFFIXES:
        if tag.endswith(suffix):
            return tag[: -len(suffix)]
    return tag


# How long past its shared lifetime a cache may still serve an answer while it revalidates it.
STALE_SECONDS = 30


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def uncached(payload: Any, status: int = 200) -> Response:
    """A JSON answer no cache keeps (the state of branches, hooks, schedules, the server)."""
    response = Response(dumps(payload), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def timestamp(seconds: float) -> str:
    """A Unix time as ISO 8601 in UTC: ``2026-12-01T06:13:46Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def body_etag(body: bytes) -> str:
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def pinned() -> bool:
    """Whether the request names a full commit sha: its answer can never change."""
    ref = request.args.get("ref", "")
    return bool(FULL_SHA.fullmatch(ref))


def json_response(
    body: bytes, etag: str, commit: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A 200 with the body (compressed with brotli or gzip when the client takes it), or a
    304 when ``If-None-Match`` names this answer, in any encoding."""
    g.content_commit = commit
    encoding = encoding_for(body)
    tag = f"{etag}-{encoding}" if encoding else etag
    # RFC 9110: If-None-Match compares weakly, so W/"..." (what a proxy that compressed the
    # answer sends back) is a match too; so is any encoding's tag of the same content.
    if any(request.if_none_match.contains_weak(t) for t in tags_of(etag)):
        response = Response(status=304)
    elif encoding:
        response = Response(encoded(body, encoding), status=200, mimetype="application/json")
        response.headers["Content-Encoding"] = encoding
    else:
        response = Response(body, status=200, mimetype="application/json")
    response.set_etag(tag)
    if len(body) >= MIN_COMPRESSED:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control()
    response.vary.add("Authorization")
    if headers:
        response.headers.update(headers)
    return response


def cache_control() -> str:
    """Who may keep an answer, and how long.

    * At a full commit sha: forever (``immutable``).
    * An answer given to a token may be a draft: only the client's own cache may keep it, and
      must revalidate it.
    * The published branch, anonymously: browsers revalidate every time (``max-age=0``), a
      shared cache (nginx, a CDN) may answer for ``CMS_SHARED_MAX_AGE`` seconds and, while
      it revalidates, a little longer: the front ends' URLs are served from the cache.
    * Anything else (a tag, a short sha, which may name another commit tomorrow): revalidated.
    """
    scope = "private" if "Authorization" in request.headers else "public"
    if pinned():
        return f"{scope}, {IMMUTABLE}"
    ref = request.args.get("ref") or None
    shared = int(current_app.config.get("CMS_SHARED_MAX_AGE") or 0)
    if scope == "public" and shared > 0 and ref in (None, current_app.config["CMS_BRANCH"]):
        return f"public, max-age=0, s-maxage={shared}, stale-while-revalidate={STALE_SECONDS}"
    return f"{scope}, {REVALIDATE}"
