"""Outgoing webhooks over HTTP, for admins: register a site builder's URL, read its delivery log,
replay the events since a commit. Delivery itself is ``cms.webhooks``'s, in the background."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.auth import require
from cms.api.context import service
from cms.api.entries import SECURITY, require_json
from cms.api.responses import timestamp as when
from cms.api.responses import uncached as answer
from cms.api.schemas import (
    DeliverySchema,
    ReplayedSchema,
    ReplaySchema,
    WebhookCreateSchema,
    WebhookSchema,
)
from cms.errors import BadRequest, NotFound, Unprocessable
from cms.storage.outbox import Hook, Outbox
from cms.webhooks import WebhookTask

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Tell a site builder what each commit changed: signed, retried for a day, "
    "logged. Needs the admin role.",
)


@blp.before_request
def admins_only() -> None:
    require("admin")
    if request.method == "POST" and request.content_length:
        require_json()


def outbox() -> Outbox:
    return current_app.extensions["cms.outbox"]


def task() -> WebhookTask:
    return current_app.extensions["cms.webhooks"]


def as_dict(hook: Hook, secret: bool = False) -> dict:
    found = {
        "id": hook.id,
        "url": hook.url,
        "branches": list(hook.branches),
        "created_at": when(hook.created_at),
        "created_by": hook.created_by,
    }
    if secret:
        found["secret"] = hook.secret
    return found


def find(hook_id: str) -> Hook:
    hook = outbox().hook(hook_id)
    if hook is None:
        raise NotFound(f"no webhook {hook_id!r}", {"id": hook_id})
    return hook


@blp.route("")
class WebhookList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, WebhookSchema(many=True))
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    def get(self) -> Response:
        """List webhooks

        Every registered hook, without its secret.
        """
        return answer([as_dict(hook) for hook in outbox().hooks()])

    @blp.arguments(
        WebhookCreateSchema,
        example={"url": "https://builder.example.org/hooks/cms", "branches": ["published"]},
    )
    @blp.doc(security=SECURITY)
    @blp.response(201, WebhookSchema, headers={"Location": {"description": "The hook."}})
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    @blp.alt_response(
        422, description="Not an http(s) URL, an unknown branch kind, a short secret."
    )
    def post(self, payload: dict) -> Response:
        """Register a webhook

        From now on, every commit that reaches the branches it wants (`published`: the
        published branch; `drafts`: any other) is POSTed to `url`, signed with `secret`
        (sent back in this answer only; made for you when omitted). See the README for the
        payload and how to check its signature.
        """
        token = require("admin")
        url = payload["url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unprocessable("a webhook needs an http or https URL", {"url": ["not one"]})
        branches = tuple(dict.fromkeys(payload.get("branches") or ["published"]))
        unknown = [b for b in branches if b not in ("published", "drafts")]
        if unknown:
            raise Unprocessable(
                "branches are `published` and `drafts`", {"branches": [", ".join(unknown)]}
            )
        secret = payload.get("secret") or secrets.token_hex(32)
        if len(secret) < 16:
            raise Unprocessable("a secret has at least 16 characters", {"secret": ["too short"]})
        task().watch()  # the heads as they are now: this hook's events start after them
        hook = outbox().add_hook(url, branches, secret, token.name)
        response = answer(as_dict(hook, secret=True), 201)
        response.headers["Location"] = url_for("webhooks.WebhookDetail", hook_id=hook.id)
        return response


@blp.route("/<hook_id>")
class WebhookDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, WebhookSchema)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    @blp.alt_response(404, description="No such hook.")
    def get(self, hook_id: str) -> Response:
        """Read a webhook

        Its URL, the branches it wants, who made it and when; never its secret.
        """
        return answer(as_dict(find(hook_id)))

    @blp.doc(security=SECURITY)
    @blp.response(204)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    @blp.alt_response(404, description="No such hook.")
    def delete(self, hook_id: str) -> Response:
        """Delete a webhook

        Its undelivered events and its delivery log go with it.
        """
        if not outbox().remove_hook(hook_id):
            raise NotFound(f"no webhook {hook_id!r}", {"id": hook_id})
        return Response(status=204)


@blp.route("/<hook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, DeliverySchema(many=True))
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    @blp.alt_response(404, description="No such hook.")
    def get(self, hook_id: str) -> Response:
        """A webhook's delivery log

        Its latest 100 attempts, newest first: when, the HTTP status or the error, how long
        it took, the event's commit and branch, and whether the event is `delivered`,
        `pending` (retried later) or `failed` (given up after 24 hours).
        """
        find(hook_id)
        log = outbox().deliveries(hook_id)
        for item in log:
            item["at"] = when(item["at"])
        return answer(log)


@blp.route("/<hook_id>/replay")
class WebhookReplay(MethodView):
    @blp.arguments(ReplaySchema, example={"from": "main~3"})
    @blp.doc(security=SECURITY)
    @blp.response(202, ReplayedSchema)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than admin.")
    @blp.alt_response(404, description="No such hook.")
    @blp.alt_response(422, description="`from` names no commit.")
    def post(self, payload: dict, hook_id: str) -> Response:
        """Replay events from a commit

        Queues again, for this hook, the event of every commit after `from` (a branch, tag
        or commit) on the branches it wants, delivered before or not, with the same
        idempotency keys.
        """
        hook = find(hook_id)
        try:
            since = service().store.resolve(payload["from_"])
        except (NotFound, BadRequest):
            raise Unprocessable(
                f"no commit {payload['from_']!r} to replay from", {"from": ["no such commit"]}
            ) from None
        return answer({"queued": task().replay(hook, since)}, 202)
