"""``GET /api/v1/status``: what this server serves, for operators and monitors."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.context import catalog, check_read, service
from cms.api.responses import dumps
from cms.api.schemas import StatusSchema
from cms.content.decap import DRAFT_PREFIX

blp = Blueprint(
    "status",
    __name__,
    url_prefix="/api/v1/status",
    description="The server's state: its published branch, the index, the content.",
)


def package_version() -> str:
    try:
        return version("cms")
    except PackageNotFoundError:
        return "unknown"


@blp.route("")
class Status(MethodView):
    @blp.response(200, StatusSchema)
    @blp.alt_response(401, description="CMS_PUBLIC_READ is off and no reader token was sent.")
    def get(self) -> Response:
        """The server's status

        The published branch and its head, the index (built, its commit, whether it is at the
        head), the number of entry files of each collection at the head, how many drafts there
        are, the remote (none: this server's repository is the only copy), and the server's
        version. Never cached.
        """
        store = service().store
        head = store.head()
        check_read(head, None)
        snap = service().snapshot_at(head)
        index = catalog().status()
        body = {
            "version": package_version(),
            "published_branch": store.branch,
            "head": head,
            "index": {
                "built": index.built,
                "commit": index.commit,
                "current": index.current,
                "entries": index.entries,
            },
            "collections": {c.name: len(snap.files(c)) for c in snap.collections()},
            "drafts": len(store.branch_heads(DRAFT_PREFIX)),
            "remote": None,
        }
        g.content_commit = head
        response = Response(dumps(body), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response
