"""Git history over HTTP: an entry's versions, what changed in it between two refs, and the
sync feed of every entry that changed since a commit."""

from __future__ import annotations

from dataclasses import replace

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.context import cached, catalog, check_read, service, snapshot
from cms.api.entries import COMMIT_HEADER, PAGINATION_HEADER, pagination_headers
from cms.api.responses import body_etag, dumps, json_response
from cms.api.schemas import DiffSchema, SyncSchema, VersionSchema
from cms.content import Snapshot
from cms.content.history import EntryChange, body_diff, entry_changes, field_changes
from cms.content.query import Page, paging
from cms.errors import BadRequest, NotFound

blp = Blueprint(
    "history",
    __name__,
    url_prefix="/api/v1",
    description="History from git: an entry's versions, diffs between refs, and a sync feed.",
)

CHANGES = {"A": "added", "M": "modified", "T": "modified", "D": "deleted", "R": "renamed"}
FROM = params.query(
    "from",
    "The older side: a branch, tag or commit.",
    {"type": "string", "minLength": 1},
    required=True,
    example="main",
)
TO = params.query(
    "to",
    "The newer side: a branch, tag or commit (a draft: `cms/pages/programme`). Default: the "
    "published branch.",
    {"type": "string"},
)
SINCE = params.query(
    "since",
    "The commit of the last sync (the `next` it returned), or any ref (`main~5`). Omitted "
    "or empty: every entry, as added.",
    {"type": "string"},
)


def page_args() -> tuple[int, int]:
    errors: dict[str, str] = {}
    page, size = paging(request.args.get("page"), request.args.get("page_size"), errors)
    if errors:
        raise BadRequest("the query parameters are not valid", {"query": errors})
    return page, size


def snapshot_of(name: str, param: str) -> Snapshot:
    if not name:
        raise BadRequest(f"`{param}` names a ref", {"query": {param: "is required"}})
    try:
        snap = service().snapshot(name)
    except NotFound:
        raise NotFound(f"no branch, tag or commit named {name!r}", {param: name}) from None
    check_read(snap.commit, name)
    return snap


@blp.route("/collections/<string:collection>/history/<slug:slug>")
class History(MethodView):
    @blp.doc(parameters=[params.REF, params.PAGE, params.PAGE_SIZE])
    @blp.response(
        200,
        VersionSchema(many=True),
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(404, description="Unknown collection, entry or ref.")
    def get(self, collection: str, slug: str) -> Response:
        """List an entry's versions

        The commits that changed the entry's file, newest first, with the author, the date,
        the message, and the entry's `version` (blob sha) and `path` after each. Renames are
        followed as `git log --follow` does: the versions from before a rename carry the old
        path. Read any of them with `?ref=<commit>`.
        """
        page, size = page_args()
        snap = snapshot()
        found = snap.collection(collection)

        def build() -> tuple[bytes, str, dict[str, str]]:
            entry = catalog().entry(snap, found, slug)
            versions = service().store.file_history(snap.commit, entry.path)
            chosen = versions[(page - 1) * size : page * size]
            body = dumps(
                [
                    {
                        "commit": v.change.commit,
                        "date": v.change.date,
                        "author": v.change.author,
                        "email": v.change.email,
                        "message": v.message,
                        "change": CHANGES.get(v.status, "modified"),
                        "version": v.blob,
                        "path": v.path,
                        "previous_path": v.previous,
                    }
                    for v in chosen
                ]
            )
            return body, body_etag(body), pagination_headers(Page([], len(versions), page, size))

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)


@blp.route("/collections/<string:collection>/diff/<slug:slug>")
class Diff(MethodView):
    @blp.doc(parameters=[FROM, TO])
    @blp.response(200, DiffSchema, headers={"X-Content-Commit": COMMIT_HEADER})
    @blp.alt_response(400, description="No `from`.")
    @blp.alt_response(
        404, description="Unknown collection or ref, or no such entry on either side."
    )
    def get(self, collection: str, slug: str) -> Response:
        """Compare an entry between two refs

        Field by field: each added, removed or changed value with its dotted path
        (`hero.btn.url`, `links.0.label`) and its old and new values; objects are compared key
        by key and lists of the same length item by item. The body's changes are a unified
        diff. An entry missing on one side has all its fields added or removed.
        """
        old_snap = snapshot_of(request.args.get("from", ""), "from")
        new_snap = snapshot_of(request.args.get("to") or service().store.branch, "to")
        found = new_snap.collection(collection)
        old_collection = old_snap.model.collection(collection)

        def side(snap: Snapshot, coll) -> object:
            try:
                return snap.entry(coll, slug, history=False) if coll is not None else None
            except NotFound:
                return None

        old, new = side(old_snap, old_collection), side(new_snap, found)
        if old is None and new is None:
            raise NotFound(
                f"no entry {slug!r} in collection {collection!r} at either ref",
                {"collection": collection, "slug": slug},
            )
        payload = {
            "collection": collection,
            "slug": slug,
            "from": _side(request.args.get("from"), old_snap, old),
            "to": _side(request.args.get("to") or service().store.branch, new_snap, new),
            "fields": [
                c.as_dict()
                for c in field_changes(
                    old.fields if old is not None else {}, new.fields if new is not None else {}
                )
            ],
            "body": body_diff(
                old.body if old is not None else "",
                new.body if new is not None else "",
                f"{old.path}@{old_snap.commit[:12]}" if old is not None else "/dev/null",
                f"{new.path}@{new_snap.commit[:12]}" if new is not None else "/dev/null",
            ),
        }
        body = dumps(payload)
        return json_response(body, body_etag(body), new_snap.commit)


def _side(ref: str | None, snap: Snapshot, entry) -> dict:
    return {
        "ref": ref,
        "commit": snap.commit,
        "version": entry.version if entry is not None else None,
        "path": entry.path if entry is not None else None,
    }


@blp.route("/sync")
class Sync(MethodView):
    @blp.doc(parameters=[SINCE, params.REF, params.PAGE, params.PAGE_SIZE])
    @blp.response(
        200,
        SyncSchema,
        headers={"X-Pagination": PAGINATION_HEADER, "X-Content-Commit": COMMIT_HEADER},
    )
    @blp.alt_response(404, description="Unknown `since` or ref.")
    def get(self) -> Response:
        """Sync: what changed since a commit

        Every entry added, modified, deleted or renamed between `since` and the head of the
        published branch (or `ref`), with the entry as it is now; deletions are always
        listed. `next` is the commit read: keep it and send it as `since` next time. The
        `Link` header's pages are pinned to that commit (`ref=`), so that a client paging
        through one step sees one step. Without `since`, every entry is listed as added.
        """
        page, size = page_args()
        head = snapshot()
        since = request.args.get("since") or None
        base = snapshot_of(since, "since") if since else None

        def build() -> tuple[bytes, str, dict[str, str]]:
            if base is None:
                changes = [
                    EntryChange("added", c.name, slug, blob.path, blob.sha)
                    for c in head.collections()
                    for slug, blob in head.files(c)
                ]
            else:
                files = service().store.diff(base.commit, head.commit, renames=True)
                changes = entry_changes(base, head, files)
            chosen = changes[(page - 1) * size : page * size]
            items = []
            for change in chosen:
                if change.version is not None:
                    try:
                        entry = catalog().entry(
                            head, head.collection(change.collection), change.slug
                        )
                    except NotFound:
                        entry = None  # a file the collection's filter hides
                    change = replace(change, entry=entry)
                items.append(change.as_dict())
            body = dumps(
                {"since": base.commit if base else None, "next": head.commit, "items": items}
            )
            meta = Page([], len(changes), page, size)
            return body, body_etag(body), pagination_headers(meta, {"ref": head.commit})

        body, etag, headers = cached(head.commit, build)
        return json_response(body, etag, head.commit, headers)
