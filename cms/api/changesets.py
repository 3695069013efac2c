"""Changesets over HTTP: several entry changes in one commit, or none."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.entries import SECURITY, author, branch_arg, document_errors, writers_only
from cms.api.responses import dumps
from cms.api.schemas import ChangesetSchema, LandedSchema
from cms.content.changesets import ChangesetWriter

blp = Blueprint(
    "changesets",
    __name__,
    url_prefix="/api/v1/changesets",
    description="Several creates, updates, patches and deletes in one commit, or none.",
)
blp.before_request(writers_only)

EXAMPLE = {
    "message": "Rentrée: le programme et une actualité",
    "base": "478d0a2abbe86093c90f2c5cb21c7f9caba47634",
    "operations": [
        {
            "op": "patch",
            "collection": "pages",
            "slug": "programme",
            "fields": {"title": "Le programme 2026"},
            "if_match": "ddb87f9756383c6834b9fdb7fcf750df67271288",
        },
        {
            "op": "create",
            "collection": "actualites",
            "fields": {"title": "La rentrée", "date": "2026-09-01 09:00:00 +02:00"},
            "body": "Une nouvelle promotion.",
        },
    ],
}


@blp.route("")
class Changesets(MethodView):
    @blp.arguments(ChangesetSchema, example=EXAMPLE)
    @blp.doc(parameters=[params.BRANCH], security=SECURITY)
    @blp.response(201, LandedSchema)
    @document_errors
    @blp.alt_response(404, description="An unknown collection, entry, branch or base.")
    @blp.alt_response(405, description="An operation the collection does not allow.")
    @blp.alt_response(412, description="An operation's if_match is not the entry's version.")
    @blp.alt_response(428, description="An update, patch or delete without if_match.")
    def post(self, payload: dict) -> Response:
        """Apply a changeset

        The operations are checked as the single-entry writes check them (the model, each
        one's `if_match`) and land together in one commit with the given message, or not at
        all; an error names the operation (`errors.operations.<index>`). If the branch moved
        since `base`, the changeset still lands on the new head when none of its entries
        changed meanwhile; otherwise it is a 409 that lists them in `errors.conflicts`.
        A changeset that changes nothing makes no commit (200).
        """
        writer: ChangesetWriter = current_app.extensions["cms.changesets"]
        landed = writer.apply(request.get_json(), author(), branch_arg())
        g.content_commit = landed.commit
        body = dumps({"commit": landed.commit, "operations": [a.as_dict() for a in landed.applied]})
        response = Response(
            body, status=201 if landed.created else 200, mimetype="application/json"
        )
        response.headers["Cache-Control"] = "no-store"
        return response
