"""Full-text search over every collection's entries, at the published branch or any ref."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.context import cached_at, catalog, follows_branch, snapshot
from cms.api.entries import COMMIT_HEADER, PAGINATION_HEADER, locale_arg, pagination_headers
from cms.api.responses import body_etag, dumps, json_response
from cms.api.schemas import SearchHitSchema
from cms.content import Snapshot
from cms.content.query import Page, check_search, paging
from cms.errors import BadRequest
from cms.index.index import Hit

blp = Blueprint(
    "search",
    __name__,
    url_prefix="/api/v1/search",
    description="Full-text search: case- and accent-insensitive, prefix matching, ranked.",
)


def search_args() -> tuple[str, list[str], int, int]:
    errors: dict[str, str] = {}
    text = request.args.get("q", "")
    check_search(text, errors)
    names = [
        name.strip()
        for value in request.args.getlist("collection")
        for name in value.split(",")
        if name.strip()
    ]
    page, size = paging(request.args.get("page"), request.args.get("page_size"), errors)
    if errors:
        raise BadRequest("the query parameters are not valid", {"query": errors})
    return text, names, page, size


def hit_dict(snap: Snapshot, hit: Hit, commit: str, locale: str | None) -> dict[str, Any]:
    """A search hit; with ``locale``, the path, version and title of the entry in that locale
    where it has one (the words are matched in the default locale's values)."""
    entry, title = hit.entry, hit.title
    if locale is not None:
        collection = snap.collection(entry.collection)
        found = snap.localized_or_default(collection, entry, locale)
        if found is not entry:
            text = found.first_text(collection.identifier_field)
            entry, title = found, title if text is None else text
    out = {
        "collection": entry.collection,
        "slug": entry.slug,
        "path": entry.path,
        "title": title,
        "snippet": hit.snippet,
        "score": round(hit.score, 6),
        "version": entry.version,
        "commit": commit,
    }
    if entry.locale is not None:
        out["locale"] = entry.locale
    return out


@blp.route("")
class Search(MethodView):
    @blp.doc(
        parameters=[
            params.Q,
            params.COLLECTION,
            params.REF,
            params.PAGE,
            params.PAGE_SIZE,
            params.LOCALE,
        ]
    )
    @blp.response(
        200,
        SearchHitSchema(many=True),
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(400, description="No words to search for, or a bad page or page_size.")
    @blp.alt_response(404, description="Unknown collection or ref.")
    @blp.alt_response(503, description="The index is still being built; see `Retry-After`.")
    def get(self) -> Response:
        """Search the entries

        Every word of `q` must appear in the entry's title, another text field or its body,
        as a word or the start of one: `perennisation` finds "pérennisation", `INTERET`
        finds "intérêt", `numér` finds "numérique". The best matches come first (BM25: a
        word in the title counts most), each with a snippet. `collection=` narrows it to some
        collections, `ref=` searches a branch, a tag or an old commit.
        """
        text, names, page, size = search_args()
        snap = snapshot()
        locale = locale_arg()

        def build() -> tuple[tuple[bytes, str, dict[str, str]], str]:
            hits, commit = catalog().search(snap, text, names, page, size, follows_branch())
            body = dumps([hit_dict(snap, hit, commit, locale) for hit in hits.hits])
            meta = Page([], hits.total, hits.page, hits.page_size)
            return (body, body_etag(body), pagination_headers(meta)), commit

        (body, etag, headers), commit = cached_at(snap.commit, build)
        return json_response(body, etag, commit, headers)
