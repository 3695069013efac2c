"""Scheduled publishing over HTTP: publish a draft branch at a given time, list the schedules,
cancel one. The publishing itself is done in the background (``cms.background``)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from cms.api.auth import require
from cms.api.context import service
from cms.api.entries import SECURITY, require_json
from cms.api.responses import uncached as answer
from cms.api.schemas import ScheduleCreateSchema, ScheduleSchema
from cms.errors import Unprocessable
from cms.storage.git import Identity
from cms.storage.schedules import Schedule as Scheduled
from cms.storage.schedules import Schedules

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1",
    description="Publish a draft at a set time. Needs the admin role, as publishing does.",
)


@blp.before_request
def admins_only() -> None:
    if request.method != "GET":
        require("admin")
        if request.method == "POST" and request.content_length:
            require_json()
    else:
        require("reader")


def schedules() -> Schedules:
    return Schedules(service().store)


def as_dict(schedule: Scheduled) -> dict:
    return {
        "branch": schedule.branch,
        "at": schedule.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "by": schedule.by.name,
        "state": schedule.state,
        "error": schedule.error,
    }


def parse_time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Unprocessable(
            "`at` is a date and time in ISO 8601 with its offset: 2026-12-24T08:00:00+01:00",
            {"at": ["not an ISO 8601 date and time"]},
        ) from None
    if at.tzinfo is None:
        raise Unprocessable(
            "`at` needs its offset (Z or +01:00): a time without one means different "
            "moments on different servers",
            {"at": ["no offset"]},
        )
    return at


@blp.route("/schedules")
class ScheduleList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ScheduleSchema(many=True))
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than reader.")
    def get(self) -> Response:
        """List scheduled publishes

        Every pending schedule, soonest first, and those that failed (with the reason:
        a conflict with the published branch, a branch deleted meanwhile). A schedule that
        was carried out is gone; the publish is in the published branch's history.
        """
        return answer([as_dict(s) for s in schedules().list()])


@blp.route("/schedules/<path:branch>")
class Schedule(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ScheduleSchema)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="The token's role is weaker than reader.")
    @blp.alt_response(404, description="No such branch, or it is not scheduled.")
    def get(self, branch: str) -> Response:
        """Read a branch's schedule

        When it publishes, who set it, and whether it is `pending` or `failed` (and why).
        """
        return answer(as_dict(schedules().get(branch)))

    @blp.doc(security=SECURITY)
    @blp.response(204)
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="Cancelling needs the admin role.")
    @blp.alt_response(404, description="No such branch, or it is not scheduled.")
    def delete(self, branch: str) -> Response:
        """Cancel a scheduled publish

        The draft stays as it is; nothing is published.
        """
        schedules().cancel(branch)
        return Response(status=204)


@blp.route("/branches/<path:branch>/schedule")
class BranchSchedule(MethodView):
    @blp.arguments(ScheduleCreateSchema, example={"at": "2026-12-24T08:00:00+01:00"})
    @blp.doc(security=SECURITY)
    @blp.response(201, ScheduleSchema, headers={"Location": {"description": "The schedule."}})
    @blp.alt_response(401, description="No token, or not a valid one.")
    @blp.alt_response(403, description="Scheduling needs the admin role.")
    @blp.alt_response(404, description="No such branch.")
    @blp.alt_response(409, description="The published branch, or a branch already scheduled.")
    @blp.alt_response(422, description="`at` is not a date and time with its offset.")
    def post(self, payload: dict, branch: str) -> Response:
        """Schedule a publish

        The draft is published at `at` (ISO 8601 with an offset; a time already past
        publishes at once), as if its publish were called then by you: a fast-forward or a
        merge commit in your name. With several servers on one remote it happens once. If it
        cannot be published then (both sides changed the same entries), the schedule stays,
        marked `failed` with the reason. The schedule is then at
        `/api/v1/schedules/{branch}`.
        """
        token = require("admin")
        at = parse_time(payload["at"])
        made = schedules().add(branch, at, Identity(token.name, token.email))
        response = answer(as_dict(made), 201)
        response.headers["Location"] = url_for("schedules.Schedule", branch=branch)
        return response
