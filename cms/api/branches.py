"""Draft branches over HTTP: create, list (ahead/behind the published branch), publish,
delete. Writes to a draft go through the entry endpoints with `?branch=`; reads with `?ref=`."""

from __future__ import annotations

from flask import Response, current_app, g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.auth import require
from cms.api.context import service
from cms.api.entries import SECURITY, document_errors, require_json
from cms.api.responses import uncached as answer
from cms.api.schemas import BranchCreateSchema, BranchSchema, PublishedSchema, PublishSchema
from cms.storage.branches import Branch, Branches, MergeConflict
from cms.storage.git import Identity

blp = Blueprint(
    "branches",
    __name__,
    url_prefix="/api/v1/branches",
    description="Drafts as branches: create one, write to it with `?branch=`, preview it with "
    "`?ref=`, publish it.",
)


@blp.before_request
def json_writes() -> None:
    if request.method == "POST" and request.content_length:
        require_json()


def branches() -> Branches:
    return Branches(service().store)


def as_dict(branch: Branch) -> dict:
    return {
        "name": branch.name,
        "commit": branch.commit,
        "published": branch.published,
        "ahead": branch.ahead,
        "behind": branch.behind,
    }


@blp.route("")
class BranchList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, BranchSchema(many=True))
    @blp.alt_response(401, description="No token, or not a valid one.")
    def get(self) -> Response:
        """List branches

        Every branch with its head, and how many commits it is ahead of the published branch
        (to publish) and behind it (published since it was made). Needs the reader role.
        """
        require("reader")
        g.content_commit = service().store.head()
        return answer([as_dict(b) for b in branches().list()])

    @blp.arguments(BranchCreateSchema, example={"name": "cms/actualites/la-rentree"})
    @blp.doc(security=SECURITY)
    @blp.response(201, BranchSchema, headers={"Location": {"description": "The branch."}})
    @document_errors
    @blp.alt_response(400, description="A name `git check-ref-format` refuses.")
    @blp.alt_response(404, description="Unknown `from`.")
    def post(self, payload: dict) -> Response:
        """Create a draft branch

        From the published branch, or `from` (a branch, tag or commit). A name that exists
        is a 409. Editors then write to it with `?branch=<name>` and preview it with
        `?ref=<name>`; nothing reaches the published branch until it is published.
        """
        require("editor")
        branch = branches().create(payload["name"], payload.get("from_"))
        g.content_commit = branch.commit
        response = answer(as_dict(branch), 201)
        response.headers["Location"] = url_for("branches.BranchDetail", name=branch.name)
        return response


@blp.route("/<branch:name>")
class BranchDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than editor.")
    @blp.alt_response(404, description="No such branch.")
    @blp.alt_response(409, description="The published branch, or the checked-out one.")
    def delete(self, name: str) -> Response:
        """Delete a draft branch

        The published branch and the branch checked out in the work tree cannot be deleted.
        Its commits stay in git's object store until git collects them.
        """
        require("editor")
        branches().delete(name)
        return Response(status=204)


@blp.route("/<path:name>/publish")
class BranchPublish(MethodView):
    @blp.arguments(PublishSchema, example={"message": "Publier la rentrée"})
    @blp.doc(security=SECURITY)
    @blp.response(200, PublishedSchema)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="Publishing needs the admin role.")
    @blp.alt_response(404, description="No such branch.")
    @blp.alt_response(
        409,
        description="Both sides changed the same entries (`errors.conflicts` names them), "
        "or local edits in the work tree are in the way. Nothing was published.",
    )
    def post(self, payload: dict, name: str) -> Response:
        """Publish a draft branch

        Brings the branch's commits into the published branch: a fast-forward when the
        published branch has not moved since, else a merge commit (authored by the token's
        name). If both changed the same files, nothing is published and the 409 names the
        entries. Needs the admin role. The draft branch is kept; delete it when done.
        """
        token = require("admin")
        committer = Identity(
            str(current_app.config["CMS_COMMITTER_NAME"]),
            str(current_app.config["CMS_COMMITTER_EMAIL"]),
        )
        message = payload.get("message") or f"Publish {name}"
        try:
            done = branches().publish(name, message, Identity(token.name, token.email), committer)
        except MergeConflict as conflict:
            conflict.errors["conflicts"] = entries_of(conflict.paths)
            raise
        g.content_commit = done.commit
        return answer(
            {"commit": done.commit, "fast_forward": done.fast_forward, "changed": done.changed}
        )


def entries_of(paths: list[str]) -> list[dict]:
    """Conflicting files as entries (collection and slug) where they are entries."""
    snap = service().snapshot()
    found = []
    for path in paths:
        owners = [
            {"path": path, "collection": c.name, "slug": slug} for c, slug in snap.owners(path)
        ]
        found.extend(owners or [{"path": path, "collection": None, "slug": None}])
    return found
