"""Answers compressed (brotli or gzip) when the client takes them, with tags that revalidate
and match."""

from __future__ import annotations

import gzip

import brotli
import pytest

from cms.api import responses
from tests.conftest import bearer, make_app

ENTRY = "/api/v1/collections/pages/entries/accueil"
LIST = "/api/v1/collections/personnes/entries?body=true"
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}
DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("gzip", "gzip"), ("gzip, deflate, br", "br"), ("br;q=0.5, gzip", "gzip"), ("br", "br")],
)
def test_a_compressed_answer_and_its_tag(client, accept: str, encoding: str) -> None:
    plain = client.get(ENTRY)
    packed = client.get(ENTRY, headers={"Accept-Encoding": accept})
    assert packed.headers["Content-Encoding"] == encoding
    assert DECODE[encoding](packed.data) == plain.data
    assert "Accept-Encoding" in packed.headers["Vary"]
    version = plain.get_json()["version"]
    assert plain.headers["ETag"] == f'"{version}"'
    assert packed.headers["ETag"] == f'"{version}-{encoding}"'
    for tag in (packed.headers["ETag"], plain.headers["ETag"], f'W/"{version}-gzip"'):
        again = client.get(ENTRY, headers={"Accept-Encoding": accept, "If-None-Match": tag})
        assert again.status_code == 304 and again.data == b""


def test_no_encoding_asked_or_all_refused(client) -> None:
    for accept in (None, "identity", "gzip;q=0, br;q=0"):
        headers = {"Accept-Encoding": accept} if accept else {}
        assert client.get(ENTRY, headers=headers).headers.get("Content-Encoding") is None


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_lists_compress_more_than_four_times(client, encoding: str) -> None:
    plain = client.get(LIST)
    packed = client.get(LIST, headers={"Accept-Encoding": encoding})
    assert DECODE[encoding](packed.data) == plain.data
    assert len(plain.data) / len(packed.data) >= 4, (len(plain.data), len(packed.data))


def test_small_answers_stay_as_they_are(client) -> None:
    small = client.get(
        "/api/v1/collections/pages/entries?fields=title&page_size=1", headers=BROWSER
    )
    assert len(small.data) < 1024 and small.headers.get("Content-Encoding") is None


@pytest.mark.parametrize("accept", ["gzip", "br"])
def test_a_compressed_tag_is_a_valid_if_match(sample_copy, tmp_path, accept: str) -> None:
    app = make_app(sample_copy.path, tmp_path / "instance")
    client = app.test_client()
    tag = client.get(ENTRY, headers={"Accept-Encoding": accept}).headers["ETag"]
    changed = client.patch(
        ENTRY,
        json={"fields": {"title": "Accueil"}},
        headers={**bearer(app), "If-Match": tag},
    )
    assert changed.status_code == 200, changed.get_json()


def test_an_answer_is_compressed_once_per_body_and_encoding(
    sample_repo, tmp_path, monkeypatch
) -> None:
    """A browser asking again for the same answer is sent the bytes compressed the first time:
    brotli takes longer than building a page served from the response cache."""
    calls = []
    for name, encode in list(responses.ENCODERS.items()):
        monkeypatch.setitem(
            responses.ENCODERS, name, lambda data, e=encode, n=name: calls.append(n) or e(data)
        )
    client = make_app(sample_repo, tmp_path / "instance").test_client()
    first = client.get(LIST, headers=BROWSER)
    again = client.get(LIST, headers=BROWSER)
    assert first.headers["Content-Encoding"] == "br" and again.data == first.data
    assert calls == ["br"]
    gzipped = client.get(LIST, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(gzipped.data) == brotli.decompress(first.data)
    # No time in the gzip header: every worker and replica sends the same bytes for a tag.
    assert gzipped.data[4:8] == bytes(4)
    assert client.get(ENTRY, headers=BROWSER).status_code == 200
    assert calls == ["br", "gzip", "br"]
