"""Every error, whatever raised it, has the one shape and never an HTML page."""

from __future__ import annotations

import pytest

from cms.content.service import Snapshot
from cms.errors import BadRequest, CMSError, ConfigError, NotFound, RepositoryError, Unprocessable
from tests.conftest import make_app


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status and body["status"]
    assert set(body) <= {"code", "status", "message", "errors"}
    return body


def test_method_not_allowed_and_unknown_paths(client) -> None:
    refused = client.delete("/api/v1/refs")
    assert_error_shape(refused, 405)
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert assert_error_shape(client.get("/api/v1/nope"), 404)["message"]
    assert_error_shape(client.get("/api/v2/collections"), 404)


def test_an_unexpected_failure_is_a_json_500(sample_repo, tmp_path, monkeypatch) -> None:
    app = make_app(sample_repo, tmp_path / "i", TESTING=False)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Snapshot, "entry", fail)
    response = app.test_client().get("/api/v1/collections/pages/entries/accueil")
    body = assert_error_shape(response, 500)
    assert "disk on fire" not in response.get_data(as_text=True)
    assert body["code"] == 500 and body["status"] == "Internal Server Error"
    assert body["message"].startswith("The server encountered an internal error")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadRequest("bad"), 400),
        (NotFound("gone", {"slug": "x"}), 404),
        (Unprocessable("no", {"json": {"fields": {"title": ["is required"]}}}), 422),
        (ConfigError("admin/config.yml", "broken", 3), 500),
        (RepositoryError("no repo"), 503),
    ],
)
def test_domain_errors_map_to_their_status(
    sample_repo, tmp_path, monkeypatch, error: CMSError, status: int
) -> None:
    app = make_app(sample_repo, tmp_path / "i")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(Snapshot, "entry", fail)
    response = app.test_client().get("/api/v1/collections/pages/entries/accueil")
    body = assert_error_shape(response, status)
    assert body["message"] == error.message
    assert body.get("errors", {}) == error.errors
