"""Entries over HTTP: pages of a collection's entries, and one entry, at any ref."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, current_app, g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.urls import iri_to_uri

from cms.api import params
from cms.api.auth import require
from cms.api.context import args_lists, cached, cached_at, catalog, follows_branch, snapshot
from cms.api.responses import body_etag, dumps, json_response, version_of
from cms.api.schemas import (
    EntryCreateSchema,
    EntryPatchSchema,
    EntryReplaceSchema,
    EntrySchema,
    RestoreSchema,
)
from cms.content import Page, Query
from cms.content.changes import EntryWriter, Written
from cms.errors import BadRequest, UnsupportedMediaType
from cms.storage.git import Identity

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


WRITES = {"POST", "PUT", "PATCH", "DELETE"}
WRITE_ERRORS = [
    (401, "No token, or not a valid one."),
    (403, "The token's role is weaker than editor."),
    (409, "A clash with the repository (an existing slug, local edits in the work tree)."),
    (413, "The request body is larger than CMS_MAX_BODY_BYTES."),
    (415, "The body is not sent as JSON (`Content-Type: application/json`)."),
    (422, "The entry does not fit the content model: `errors.json.fields.<path>`."),
    (503, "Other writes held the write lock too long; retry after `Retry-After` seconds."),
]
SECURITY = [{"bearer": []}]


@blp.before_request
def writers_only() -> None:
    """Writes need the editor role, checked before the body is even read, and a JSON body."""
    if request.method in WRITES:
        require("editor")
        if request.method != "DELETE":
            require_json()


def require_json() -> None:
    """A 415 unless the request body is sent as JSON."""
    if not request.is_json:
        raise UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`",
            {"headers": {"Content-Type": [f"is {request.mimetype or 'missing'}"]}},
        )


def writer() -> EntryWriter:
    return current_app.extensions["cms.writer"]


def author() -> Identity:
    token = require("editor")
    return Identity(token.name, token.email)


def json_body(payload: dict) -> dict:
    """The body as the client wrote it (the schemas name `fields` `fields_` in Python)."""
    return {("fields" if key == "fields_" else key): value for key, value in payload.items()}


def branch_arg() -> str | None:
    return request.args.get("branch") or None


def locale_arg() -> str | None:
    return request.args.get("locale") or None


def if_match() -> list[str] | None:
    if "If-Match" not in request.headers:
        return None
    # RFC 9110: If-Match compares strongly, so a weak tag (W/"...") never matches; werkzeug
    # parses the header (an empty or malformed tag matches nothing).
    tags = request.if_match
    if tags.star_tag:
        return ["*"]
    # The tag of a compressed answer names the same version.
    return sorted({version_of(tag) for tag in tags.as_set() if tag})


def write_response(written: Written, status: int) -> Response:
    g.content_commit = written.commit
    if written.entry is None:
        response = Response(status=status)
    else:
        response = Response(
            dumps(written.entry.as_dict()), status=status, mimetype="application/json"
        )
        response.set_etag(written.entry.version)
    response.headers["Cache-Control"] = "no-store"
    return response


def document_errors(view):
    for code, description in WRITE_ERRORS:
        view = blp.alt_response(code, description=description)(view)
    return view


def pagination_headers(page: Page, pin: dict[str, str] | None = None) -> dict[str, str]:
    """X-Pagination and Link; ``pin`` sets arguments in the links (``ref`` at a commit, so
    that every page is read at the same one)."""
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
    base = iri_to_uri(request.base_url)  # a header is Latin-1: the path percent-encoded
    pages = {"first": 1, "last": page.total_pages}
    if "previous_page" in meta:
        pages["prev"] = meta["previous_page"]
    if "next_page" in meta:
        pages["next"] = meta["next_page"]
    for rel, number in pages.items():
        args = request.args.copy()
        args.update(pin or {})
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
            params.Q,
            params.LOCALE,
        ]
    )
    @blp.response(
        200,
        EntrySchema(many=True),
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(400, description="A bad page, page_size, sort, filter, fields, include or q.")
    @blp.alt_response(404, description="Unknown collection or ref.")
    @blp.alt_response(503, description="The index is still being built; see `Retry-After`.")
    def get(self, collection: str) -> Response:
        """List a collection's entries

        A page of entries, filtered and sorted, without their body unless `body=true`.
        Pagination metadata is in the `X-Pagination` header, links to the other pages in `Link`.
        Every name in `sort`, `filter`, `fields` and `include` is checked against the
        collection's fields: an unknown one is a 400, never a silently empty page. `q` keeps
        the entries that match a full-text search, best first unless `sort` is given.
        Answered from the index, which follows the branch: a commit made by any means is in
        the next answer.
        """
        snap = snapshot()
        query = Query.parse(args_lists(), snap.collection(collection))

        locale = locale_arg()

        def build() -> tuple[tuple[bytes, str, dict[str, str]], str]:
            page, commit = catalog().page(snap, collection, query, follows_branch())
            found = snap.collection(collection)
            entries = [snap.localized_or_default(found, e, locale) for e in page.entries]
            body = dumps([e.as_dict(body=query.body, only=query.fields) for e in entries])
            return (body, body_etag(body), pagination_headers(page)), commit

        (body, etag, headers), commit = cached_at(snap.commit, build)
        return json_response(body, etag, commit, headers)

    @blp.arguments(EntryCreateSchema)
    @blp.doc(parameters=[params.BRANCH], security=SECURITY)
    @blp.response(201, EntrySchema, headers={"Location": {"description": "The new entry's URL."}})
    @document_errors
    @blp.alt_response(
        400, description="Invalid JSON or UTF-8, or a slug that could leave its folder."
    )
    @blp.alt_response(404, description="Unknown collection or branch.")
    @blp.alt_response(405, description="The collection does not allow creating entries.")
    def post(self, payload: dict, collection: str) -> Response:
        """Create an entry

        Validated against the collection's fields (the rules `cms validate` applies), then
        written as a new file in Decap's style (block YAML between `---` lines) and committed:
        one commit, authored by the token's name and email, on the published branch or
        `?branch=`. A slug that is taken is a 409. File collections cannot be created in.
        """
        written = writer().create(collection, json_body(payload), author(), branch_arg())
        response = write_response(written, 201)
        response.headers["Location"] = url_for(
            "entries.EntryDetail", collection=collection, slug=written.slug
        )
        return response


@blp.route("/<string:collection>/restore/<slug:slug>")
class EntryRestore(MethodView):
    @blp.arguments(RestoreSchema, example={"version": "7c23029ac805882ffe390d4c5d93b8108942e6bc"})
    @blp.doc(parameters=[params.BRANCH, params.IF_MATCH], security=SECURITY)
    @blp.response(200, EntrySchema)
    @document_errors
    @blp.alt_response(404, description="Unknown collection, entry, branch or version.")
    @blp.alt_response(412, description="If-Match is not the entry's current version.")
    @blp.alt_response(428, description="No If-Match.")
    def post(self, payload: dict, collection: str, slug: str) -> Response:
        """Restore an entry to a past version

        Writes the entry's file as it was at `version` (byte for byte) in one new commit
        (`Restore <collection> “<slug>” to <version>`), with `If-Match` as for any write.
        `version` is a `version` from the entry's history, or a branch, tag or commit at which
        the entry existed. A past state that no longer fits the model is a 422. Restoring
        the current version makes no commit.
        """
        written = writer().restore(
            collection, slug, json_body(payload), if_match(), author(), branch_arg()
        )
        return write_response(written, 200)


@blp.route("/<string:collection>/entries/<entry:slug>")
class EntryDetail(MethodView):
    @blp.doc(parameters=[params.REF, params.RENDER, params.INCLUDE, params.LOCALE])
    @blp.response(200, EntrySchema, headers={"X-Content-Commit": COMMIT_HEADER})
    @blp.alt_response(304, description="Not modified (`If-None-Match` names this version).")
    @blp.alt_response(400, description="A bad `render`, `include` or `ref`.")
    @blp.alt_response(404, description="Unknown collection, entry or ref.")
    def get(self, collection: str, slug: str) -> Response:
        """Get one entry

        The entry's fields as the file holds them, its body, its `version` (the blob sha of
        the file, also its `ETag`), the commit it was read from and the last commit that
        changed it. A file that breaks the model or cannot be parsed is still served, with a
        `problems` list. For a folder collection the slug is the file name without its
        extension; for a file collection, the file's `name`. `include` expands relation
        fields into `included`, as on lists (the `ETag` is then the answer's hash).
        """
        render = request.args.get("render")
        if render not in (None, "html"):
            raise BadRequest("render takes `html`", {"query": {"render": "must be html"}})
        snap = snapshot()
        found = snap.collection(collection)

        locale = locale_arg()
        include = request.args.get("include")
        # The relations to expand, checked as a list's are (an unknown name is a 400).
        query = (
            Query.parse({"filter[slug]": [slug], "include": [include]}, found) if include else None
        )

        def build() -> tuple[bytes, str, dict[str, str]]:
            if query is None:
                entry = catalog().entry(snap, found, slug)
            else:
                page, _ = catalog().page(snap, collection, query, False)
                if not page.entries:
                    catalog().entry(snap, found, slug)  # the entry's own 404
                entry = page.entries[0]
            entry = snap.localized(found, entry, locale)
            html = snap.render(entry) if render == "html" else None
            body = dumps(entry.as_dict(html=html))
            # With related entries in it, the answer changes when they do: its tag is its hash.
            return body, entry.version if query is None else body_etag(body), {}

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)

    @blp.arguments(EntryReplaceSchema)
    @blp.doc(parameters=[params.BRANCH, params.IF_MATCH, params.LOCALE], security=SECURITY)
    @blp.response(200, EntrySchema)
    @document_errors
    @blp.alt_response(404, description="Unknown collection, entry or branch.")
    @blp.alt_response(412, description="If-Match is not the entry's current version.")
    @blp.alt_response(428, description="No If-Match.")
    def put(self, payload: dict, collection: str, slug: str) -> Response:
        """Replace an entry's fields and body

        Needs `If-Match` with the version read (the entry's ETag): without it 428, and 412
        when someone changed the entry since. The check is made again inside the write lock,
        so two editors working from the same version cannot both win. Keys whose value did not
        change keep their exact lines, comments and quoting.
        """
        written = writer().replace(
            collection, slug, json_body(payload), if_match(), author(), branch_arg(), locale_arg()
        )
        return write_response(written, 200)

    @blp.arguments(EntryPatchSchema)
    @blp.doc(parameters=[params.BRANCH, params.IF_MATCH, params.LOCALE], security=SECURITY)
    @blp.response(200, EntrySchema)
    @document_errors
    @blp.alt_response(404, description="Unknown collection, entry or branch.")
    @blp.alt_response(412, description="If-Match is not the entry's current version.")
    @blp.alt_response(428, description="No If-Match.")
    def patch(self, payload: dict, collection: str, slug: str) -> Response:
        """Change some fields of an entry (JSON merge patch)

        `fields` is a JSON merge patch (RFC 7396): `{"fields": {"hero": {"title": "…"}}}`
        changes that one value and rewrites only its lines in the file; `null` removes a key.
        `body` replaces the body. Needs `If-Match`, as PUT does.
        """
        written = writer().patch(
            collection, slug, json_body(payload), if_match(), author(), branch_arg(), locale_arg()
        )
        return write_response(written, 200)

    @blp.doc(parameters=[params.BRANCH, params.IF_MATCH, params.MESSAGE], security=SECURITY)
    @blp.response(204)
    @document_errors
    @blp.alt_response(404, description="Unknown collection, entry or branch.")
    @blp.alt_response(405, description="The collection does not allow deleting entries.")
    @blp.alt_response(412, description="If-Match is not the entry's current version.")
    @blp.alt_response(428, description="No If-Match.")
    def delete(self, collection: str, slug: str) -> Response:
        """Delete an entry

        Removes the file in one commit (`Delete <collection> “<slug>”`, or `?message=`).
        Needs `If-Match`, as PUT does. Entries of file collections cannot be deleted.
        """
        written = writer().delete(
            collection, slug, if_match(), author(), branch_arg(), request.args.get("message")
        )
        return write_response(written, 204)
