"""The entry sub-resource URLs of earlier versions, ``.../entries/{slug}/history``, ``/diff``
and ``/restore``, kept working wherever they cannot mean an entry.

The documented URLs put the slug last (``/collections/{c}/history/{slug}``), so that no slug
can collide with a sub-resource: in a nested collection a slug may hold ``/`` and an entry may
be called ``team/history``. At the old URLs, in a nested collection, an entry of that name
wins: ``GET .../entries/team/history`` is the entry ``team/history`` when it exists (else the
history of ``team``), and ``PUT``, ``PATCH`` and ``DELETE`` always address the entry. Anywhere
else they are the sub-resource, with the same checks as at its documented URL.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import MethodNotAllowed

from cms.api import entries
from cms.api.context import service
from cms.errors import CMSError

TARGETS = {
    "history": ("history.History", ("GET", "HEAD")),
    "diff": ("history.Diff", ("GET", "HEAD")),
    "restore": ("entries.EntryRestore", ("POST",)),
}
ENTRY_WRITES = ("PUT", "PATCH", "DELETE")


def init_legacy(app: Flask) -> None:
    app.add_url_rule(
        "/api/v1/collections/<string:collection>/entries/<slug:slug>/"
        "<any(history, diff, restore):tail>",
        endpoint="legacy_sub_resource",
        view_func=dispatch,
        methods=["GET", "POST", *ENTRY_WRITES],
    )


def dispatch(collection: str, slug: str, tail: str) -> Response:
    full = f"{slug}/{tail}"
    if _is_nested_entry(collection, full):
        if request.method in ENTRY_WRITES:
            entries.writers_only()
        view = current_app.view_functions["entries.EntryDetail"]
        return view(collection=collection, slug=full)
    endpoint, methods = TARGETS[tail]
    if request.method not in methods:
        raise MethodNotAllowed(valid_methods=[*methods, "OPTIONS"])
    if request.method == "POST":
        entries.writers_only()
    return current_app.view_functions[endpoint](collection=collection, slug=slug)


def _is_nested_entry(name: str, slug: str) -> bool:
    """Whether the URL addresses the entry ``slug`` of a nested collection."""
    if request.method == "POST":
        return False
    try:
        snap = service().snapshot(request.args.get("branch") or request.args.get("ref") or None)
        collection = snap.collection(name)
    except CMSError:
        return False  # the sub-resource's view answers the bad ref or collection
    if not collection.nested:
        return False
    if request.method in ENTRY_WRITES:
        return True
    try:
        snap.entry(collection, slug, history=False)
    except CMSError:
        return False
    return True
