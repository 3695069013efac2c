"""CORS: allowed origins get the headers a browser client needs; others get none."""

from __future__ import annotations

from tests.conftest import make_app

URL = "/api/v1/collections/pages/entries/accueil"


def test_allowed_origin_and_exposed_headers(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "i", CMS_CORS_ORIGINS="https://site.example")
    client = app.test_client()
    response = client.get(URL, headers={"Origin": "https://site.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://site.example"
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "X-Pagination", "X-Content-Commit", "Link"} <= exposed
    assert "Origin" in response.headers["Vary"]
    other = client.get(URL, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other.headers


def test_preflight(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "i", CMS_CORS_ORIGINS="https://site.example")
    response = app.test_client().options(
        URL,
        headers={
            "Origin": "https://site.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_no_origins_configured_means_no_cors(client) -> None:
    response = client.get(URL, headers={"Origin": "https://site.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_any_origin(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "i", CMS_CORS_ORIGINS="*")
    response = app.test_client().get(URL, headers={"Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
