"""The repository's branches and tags: the versions a client may read with ``ref=``."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.context import check_read, may_read_unpublished, service
from cms.api.responses import body_etag, dumps, json_response
from cms.api.schemas import RefSchema

blp = Blueprint(
    "refs", __name__, url_prefix="/api/v1/refs", description="Branches and tags of the content."
)


@blp.route("")
class Refs(MethodView):
    @blp.response(200, RefSchema(many=True))
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    def get(self) -> Response:
        """List branches and tags

        Every branch and tag with the commit it points at; `published` marks the published
        branch. Without a token (reader role or more), only the published branch and the tags
        in its history are listed. Any of these names, or a commit sha, can be passed as
        `ref=` to the reads. `X-Content-Commit` is the head of the published branch.
        """
        store = service().store
        published = current_app.config["CMS_BRANCH"]
        check_read(store.head(), None)
        everything = may_read_unpublished()
        refs = [
            {
                "name": ref.name,
                "kind": ref.kind,
                "commit": ref.commit,
                "published": ref.kind == "branch" and ref.name == published,
            }
            for ref in store.refs()
            if everything
            or (ref.kind == "branch" and ref.name == published)
            or (ref.kind == "tag" and store.is_published(ref.commit))
        ]
        body = dumps(refs)
        return json_response(body, body_etag(body), store.head())
