"""The content model over HTTP: the collections and the JSON Schema of their entries."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api import params
from cms.api.context import cached, snapshot
from cms.api.responses import body_etag, dumps, json_response
from cms.api.schemas import CollectionDetailSchema, CollectionSchema

blp = Blueprint(
    "collections",
    __name__,
    url_prefix="/api/v1/collections",
    description="The content model: the site's Decap CMS collections and their fields.",
)


@blp.route("")
class Collections(MethodView):
    @blp.doc(parameters=[params.REF])
    @blp.response(200, CollectionSchema(many=True))
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(404, description="Unknown ref.", schema=None)
    def get(self) -> Response:
        """List the collections

        The collections of the Decap config at the requested ref, in config order: name,
        labels, kind (`folder` or `files`), whether entries may be created and deleted, and
        their fields with each widget's options.
        """
        snap = snapshot()

        def build() -> tuple[bytes, str, dict[str, str]]:
            body = dumps([c.describe() for c in snap.collections()])
            return body, body_etag(body), {}

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)


@blp.route("/<string:collection>")
class CollectionDetail(MethodView):
    @blp.doc(parameters=[params.REF])
    @blp.response(200, CollectionDetailSchema)
    @blp.alt_response(304, description="Not modified (`If-None-Match`).")
    @blp.alt_response(404, description="Unknown collection or ref.", schema=None)
    def get(self, collection: str) -> Response:
        """Get one collection, with the JSON Schema of its entries

        `schema` is a JSON Schema (2020-12) of an entry's `fields`, built from the widgets:
        types, `required`, `pattern`, `min`/`max`, select options, defaults. For a file
        collection it is a `oneOf` with one schema a file (`x-files` names them).
        """
        snap = snapshot()
        found = snap.collection(collection)

        def build() -> tuple[bytes, str, dict[str, str]]:
            body = dumps({**found.describe(), "schema": found.schema()})
            return body, body_etag(body), {}

        body, etag, headers = cached(snap.commit, build)
        return json_response(body, etag, snap.commit, headers)
