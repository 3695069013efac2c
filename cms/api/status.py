"""``GET /api/v1/status``: what this server serves, for operators and monitors."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.context import catalog, check_read, service
from cms.api.responses import dumps, timestamp
from cms.api.schemas import StatusSchema
from cms.content.decap import DRAFT_PREFIX
from cms.storage.sync import Sync

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


def remote_status(sync: Sync | None) -> dict | None:
    """The last sync's outcome, as every worker sees it."""
    if sync is None:
        return None
    state = sync.state()
    synced = state.get("synced_at")
    return {
        "url": sync.remote.shown,
        "state": state.get("state", "pending"),
        "checked_at": _when(state.get("checked_at")),
        "synced_at": _when(synced),
        "lag_seconds": round(time.time() - synced, 3) if isinstance(synced, int | float) else None,
        "error": state.get("error"),
        "problems": state.get("problems") or {},
    }


def _when(seconds: object) -> str | None:
    return timestamp(seconds) if isinstance(seconds, int | float) else None


@blp.route("")
class Status(MethodView):
    @blp.response(200, StatusSchema)
    @blp.alt_response(401, description="CMS_PUBLIC_READ is off and no reader token was sent.")
    def get(self) -> Response:
        """The server's status

        The published branch and its head, the index (built, its commit, whether it is at the
        head), the number of entry files of each collection at the head, how many drafts there
        are, the team's remote and its last sync (null when this server's repository is the only
        copy), and the server's
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
            "remote": remote_status(store.sync),
        }
        g.content_commit = head
        response = Response(dumps(body), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response
