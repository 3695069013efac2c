"""Answers gzip-compressed when the client takes them, with tags that revalidate and match."""

from __future__ import annotations

import gzip

from tests.conftest import bearer, make_app

ENTRY = "/api/v1/collections/pages/entries/accueil"
LIST = "/api/v1/collections/personnes/entries?body=true"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_a_compressed_answer_and_its_tag(client) -> None:
    plain = client.get(ENTRY)
    packed = client.get(ENTRY, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert "Accept-Encoding" in packed.headers["Vary"]
    version = plain.get_json()["version"]
    assert plain.headers["ETag"] == f'"{version}"'
    assert packed.headers["ETag"] == f'"{version}-gzip"'
    for tag in (packed.headers["ETag"], plain.headers["ETag"], f'W/"{version}-gzip"'):
        again = client.get(ENTRY, headers={**GZIP, "If-None-Match": tag})
        assert again.status_code == 304 and again.data == b""
    assert (
        client.get(ENTRY, headers={"Accept-Encoding": "gzip;q=0"}).headers.get("Content-Encoding")
        is None
    )


def test_lists_compress_more_than_four_times(client) -> None:
    plain = client.get(LIST)
    packed = client.get(LIST, headers=GZIP)
    assert gzip.decompress(packed.data) == plain.data
    assert len(plain.data) / len(packed.data) >= 4, (len(plain.data), len(packed.data))


def test_small_answers_stay_as_they_are(client) -> None:
    small = client.get("/api/v1/collections/pages/entries?fields=title&page_size=1", headers=GZIP)
    assert len(small.data) < 1024 and small.headers.get("Content-Encoding") is None


def test_the_compressed_tag_is_a_valid_if_match(sample_copy, tmp_path) -> None:
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    tag = client.get(ENTRY, headers=GZIP).headers["ETag"]
    changed = client.patch(
        ENTRY,
        json={"fields": {"title": "Accueil"}},
        headers={**bearer(app), "If-Match": tag},
    )
    assert changed.status_code == 200, changed.get_json()
