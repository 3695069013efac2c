"""What the views share: the content service, the snapshot a request reads, a cache of built
responses, and turning ``request.args`` into plain lists."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g, request

from cms.api.auth import current_token, require
from cms.content import ContentService, Snapshot
from cms.index import Catalog
from cms.storage.lru import LRU

Built = tuple[bytes, str, dict[str, str]]


def service() -> ContentService:
    return current_app.extensions["cms"]


def catalog() -> Catalog:
    return current_app.extensions["cms.index"]


def follows_branch() -> bool:
    """Whether the request reads the published branch (its head may move while it reads)."""
    ref = request.args.get("ref") or None
    return ref is None or ref == service().store.branch


def snapshot() -> Snapshot:
    """The snapshot at the request's ``ref`` (default: the published branch), if the caller
    may read it: anyone may read the published branch and its history when CMS_PUBLIC_READ is
    on; other branches, and any read when it is off, need the reader role."""
    ref = request.args.get("ref") or None
    snap = service().snapshot(ref)
    check_read(snap.commit, ref)
    g.content_commit = snap.commit
    return snap


def may_read_unpublished() -> bool:
    token = current_token()
    return token is not None and token.allows("reader")


def check_read(commit: str, ref: str | None) -> None:
    if may_read_unpublished():
        return
    if not current_app.config["CMS_PUBLIC_READ"]:
        require("reader")
    store = service().store
    if ref is None or ref == store.branch or store.is_published(commit):
        return
    require("reader")


def args_lists() -> dict[str, list[str]]:
    return {key: request.args.getlist(key) for key in request.args}


def cached_at(commit: str, build: Callable[[], tuple[Built, str]]) -> tuple[Built, str]:
    """Like ``cached``, for answers that may be read at a newer commit than asked (the
    branch moved meanwhile): kept under the commit they were read at, which is returned."""
    cache: LRU[tuple[str, str, bytes], Built] = current_app.extensions["cms.responses"]
    hit = cache.get((commit, request.path, request.query_string))
    if hit is not None:
        return hit, commit
    built, served = build()
    return cache.put((served, request.path, request.query_string), built), served


def cached(commit: str, build: Callable[[], Built]) -> Built:
    """A response body built once per (commit, path, query string): answers at one commit never
    change, so the same request at the same commit is served from memory."""
    return cached_at(commit, lambda: (build(), commit))[0]
