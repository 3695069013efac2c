"""``POST /api/v1/hooks/git``: the git host says the remote moved, so fetch it now.

The body is not trusted and not needed, only its signature: GitHub's ``X-Hub-Signature-256``
(``sha256=`` and the HMAC-SHA256 of the body with the secret), Gitea's and Forgejo's
``X-Gitea-Signature`` / ``X-Forgejo-Signature`` (the same HMAC in hex), or GitLab's
``X-Gitlab-Token`` (the secret itself). Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.context import service
from cms.api.responses import uncached
from cms.api.schemas import SyncReportSchema
from cms.errors import NotFound, Unauthorized

blp = Blueprint(
    "hooks",
    __name__,
    url_prefix="/api/v1/hooks",
    description="Notifications from the git host: a push to the team's remote.",
)

SIGNATURES = ("X-Hub-Signature-256", "X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature")


def signed(secret: str, body: bytes) -> bool:
    """Whether the request carries a valid signature (or GitLab's token) for ``secret``."""
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    for header in SIGNATURES:
        given = request.headers.get(header, "").strip().removeprefix("sha256=").lower()
        if given and hmac.compare_digest(given, expected):
            return True
    token = request.headers.get("X-Gitlab-Token", "")
    return bool(token) and hmac.compare_digest(token.encode(), secret.encode())


@blp.route("/git")
class GitHook(MethodView):
    @blp.response(200, SyncReportSchema)
    @blp.alt_response(401, description="No valid signature for `CMS_HOOK_SECRET`.")
    @blp.alt_response(404, description="No `CMS_REMOTE`, or no `CMS_HOOK_SECRET`: hooks are off.")
    @blp.alt_response(503, description="The remote cannot be reached.")
    def post(self) -> Response:
        """Fetch the remote now

        Point the git host's push webhook here (GitHub, Gitea, Forgejo: content type JSON,
        the secret of `CMS_HOOK_SECRET`; GitLab: the secret token). The server fetches the
        remote and brings its branches in step: the answer says what each branch did.
        """
        secret = current_app.config.get("CMS_HOOK_SECRET")
        sync = service().store.sync
        if sync is None or not secret:
            raise NotFound(
                "push notifications are off: set CMS_REMOTE and CMS_HOOK_SECRET",
                {"hooks": "off"},
            )
        if not signed(str(secret), request.get_data(cache=False)):
            raise Unauthorized("no valid signature for this server's hook secret")
        report = sync.run()
        return uncached({"actions": report.actions, "problems": report.problems})
