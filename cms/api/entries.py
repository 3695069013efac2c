"""Entries over HTTP: pages of a collection's entries, and one entry, at any ref."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.context import args_lists, cached, snapshot
from cms.api.responses import body_etag, dumps, json_response
from cms.api.schemas import EntrySchema
from cms.content import Page, Query
from cms.errors import BadRequest

blp = Blueprint(
    "entries",
    __name__,
    url_prefix="/api/v1/collections",
    description="The entries of a collection, read from git at the published branch or any ref.",
)

PAGINATION_HEADER = {
    "description": "Pagination metadata (JSON): total, total_pages, first_page, last_page, "
    "page, previous_page, next_page.",
    "schema": {"type": "string"},
    "example": '{"total": 8, "total_pages": 1, "first_page": 1, "last_page": 1, "page": 1}',
}
COMMIT_HEADER = {
    "description": "The commit the answer was read from.",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
}


def pagination_headers(page: Page) -> dict[str, str]:
    meta = {
        "total": page.total,
        "total_pages": page.total_pages,
        "first_page": 1,
        "last_page": page.total_pages,
        "page": page.page,
    }
    if page.page > 1:
        meta["previous_page"] = min(page.page - 1, page.total_pages)
    if page.page < page.total_pages:
        meta["next_page"] = page.page + 1
    links = []
    base = request.base_url
    pages = {"first": 1, "last": page.total_pages}
    if "previous_page" in meta:
        pages["prev"] = meta["previous_page"]
    if "next_page" in meta:
        pages["next"] = meta["next_page"]
    for rel, number in pages.items():
        args = request.args.copy()
        args["page"] = str(number)
        links.append(f'<{base}?{urlencode(list(args.items(multi=True)))}>; rel="{rel}"')
    return {"X-Pagination": json.dumps(meta), "Link": ", ".join(links)}


@blp.route("/<string:collection>/entries")
class Entries(MethodView):
    @blp.doc(
        parameters=[
            params.REF,
            params.PAGE,
            params.PAGE_SIZE,
            params.SORT,
            params.FILTER,
            params.FIELDS,
            params.INCLUDE,
            params.BODY,
        ]
    )
    @blp.response(
        200,
        EntrySchema(many=True),
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(400, description="A bad page, page_size, sort, filter, fields or include.")
    @blp.alt_response(404, description="Unknown collection or ref.")
    def get(self, collection: str) -> Response:
        """List a collection's entries

        A page of entries, filtered and sorted, without their body unless `body=true`.
        Pagination metadata is in the `X-Pagination` header, links to the other pages in `Link`.
        Every name in `sort`, `filter`, `fields` and `include` is checked against the
        collection's fields: an unknown one is a 400, never a silently empty page.
        """
        snap = snapshot()
        found = snap.collection(collection)

        def build() -> tuple[bytes, str, dict[str, str]]:
            query = Query.parse(args_lists(), found)
            page = snap.query(found, query)
            body = dumps([e.as_dict(body=query.body, only=query.fields) for e in page.entries])
            return body, body_etag(body), pagination_headers(page)

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)


@blp.route("/<string:collection>/entries/<path:slug>")
class EntryDetail(MethodView):
    @blp.doc(parameters=[params.REF, params.RENDER])
    @blp.response(200, EntrySchema, headers={"X-Content-Commit": COMMIT_HEADER})
    @blp.alt_response(304, description="Not modified (`If-None-Match` names this version).")
    @blp.alt_response(400, description="A bad `render` or `ref`.")
    @blp.alt_response(404, description="Unknown collection, entry or ref.")
    def get(self, collection: str, slug: str) -> Response:
        """Get one entry

        The entry's fields as the file holds them, its body, its `version` (the blob sha of
        the file, also its `ETag`), the commit it was read from and the last commit that
        changed it. A file that breaks the model or cannot be parsed is still served, with a
        `problems` list. For a folder collection the slug is the file name without its
        extension; for a file collection, the file's `name`.
        """
        render = request.args.get("render")
        if render not in (None, "html"):
            raise BadRequest("render takes `html`", {"query": {"render": "must be html"}})
        snap = snapshot()
        found = snap.collection(collection)

        def build() -> tuple[bytes, str, dict[str, str]]:
            entry = snap.entry(found, slug)
            html = snap.render(entry) if render == "html" else None
            return dumps(entry.as_dict(html=html)), entry.version, {}

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)
