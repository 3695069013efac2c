"""The read API on the sample site: entries, lists, refs, versions and validators."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import git
import pytest

from cms.settings import PROJECT_ROOT
from tests.conftest import bearer, make_app

SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"
NEWS = "/api/v1/collections/actualites/entries/2018-01-16-deuxieme-promotion"


def test_home_page_keeps_its_french_text(client, sample_repo: Path) -> None:
    response = client.get("/api/v1/collections/pages/entries/accueil")
    assert response.status_code == 200
    entry = response.get_json()
    head = git.Repo(sample_repo).head.commit.hexsha
    assert response.headers["X-Content-Commit"] == head
    assert response.headers["ETag"] == f'"{entry["version"]}"'
    assert entry["commit"] == head
    fields = entry["fields"]
    assert fields["title"] == "Page d'accueil"
    assert fields["hero"]["title"] == "Entreprendre\npour le service public"
    assert fields["intro"]["desc"].startswith("Les Entrepreneur(e)s d’intérêt général pilotent")
    assert fields["medias"]["tiles"][0]["title"] == (
        "Ishan Bhojwani\u202f: “La refonte des EIG répond à un manque de compétences de pilotage”"
    )
    assert fields["agents"]["list"] == ["Marielle Chrisment", "Adnène Trojette "]
    assert fields["join"]["btn"]["external"] is True
    assert entry["problems"] == []
    assert entry["updated_by"] == "CMS sample"


def test_content_files_are_the_seeds_byte_for_byte() -> None:
    pairs = {
        "000_2c18c2d7714e9f17.txt": "pages/accueil.md",
        "001_4b0ccd95b28e0068.txt": "pages/programme.md",
        "002_812137fdf5801c18.txt": "actualites/2018-01-16-deuxieme-promotion.md",
        "003_c490b01558ed4dfd.txt": "docs/bienvenue.md",
        "004_66a7ba7f1c160269.txt": "pages/candidats.md",
    }
    if not SEEDS.is_dir():
        pytest.skip("the seeds are not beside this checkout")
    for seed, path in pairs.items():
        assert (PROJECT_ROOT / "content" / path).read_bytes() == (SEEDS / seed).read_bytes()


def test_entry_fields_are_served_as_the_file_holds_them(client) -> None:
    entry = client.get(NEWS).get_json()
    assert entry["fields"]["date"] == "2018-01-15 23:00:00 +01:00"
    assert entry["fields"]["tags"] == ["entrepreneur.e d’intérêt général"]
    # A plain YAML scalar ends at its last non-space character.
    assert entry["fields"]["files"][0]["nom"] == "Télécharger le communiqué de presse"
    assert entry["body"].startswith("Après le succès de la première promotion")
    assert entry["path"] == "actualites/2018-01-16-deuxieme-promotion.md"


def test_a_file_without_front_matter_is_all_body(client) -> None:
    entry = client.get("/api/v1/collections/docs/entries/bienvenue").get_json()
    assert entry["fields"] == {}
    assert entry["body"].startswith("# Bienvenue dans la communauté des Entrepreneur(e)s")
    assert entry["problems"] == []


def test_non_ascii_slugs(client) -> None:
    response = client.get("/api/v1/collections/personnes/entries/" + quote("thaïs-coutinho"))
    assert response.status_code == 200
    assert response.get_json()["fields"]["title"] == "Thaïs Coutinho"
    # The same slug in decomposed form (as macOS writes file names) finds the same entry.
    decomposed = "tha\u0131\u0308s-coutinho".replace("\u0131", "i")
    assert (
        client.get("/api/v1/collections/personnes/entries/" + quote(decomposed)).status_code == 200
    )


def test_render_html_is_sanitized(client) -> None:
    entry = client.get(NEWS + "?render=html").get_json()
    assert "<strong>Présidence de la République</strong>" in entry["html"]
    assert '<a href="https://entrepreneur-interet-general.etalab.gouv.fr/"' in entry["html"]
    assert "<script" not in entry["html"]
    assert client.get(NEWS + "?render=pdf").status_code == 400


def test_if_none_match_gives_304(client) -> None:
    first = client.get(NEWS)
    second = client.get(NEWS, headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304
    assert second.data == b""
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-Content-Commit"] == first.headers["X-Content-Commit"]
    other = client.get(NEWS, headers={"If-None-Match": '"0000"'})
    assert other.status_code == 200


def test_list_etag_and_304(client) -> None:
    url = "/api/v1/collections/personnes/entries?sort=title"
    first = client.get(url)
    assert first.status_code == 200
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    other = client.get(url + "&page_size=2")
    assert other.headers["ETag"] != first.headers["ETag"]


def test_list_pagination_headers(client) -> None:
    response = client.get("/api/v1/collections/personnes/entries?page_size=3&page=2&sort=title")
    assert response.status_code == 200
    meta = json.loads(response.headers["X-Pagination"])
    assert meta == {
        "total": 8,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 2,
        "previous_page": 1,
        "next_page": 3,
    }
    links = dict(
        (part.split(">; rel=")[1].strip('"'), part.split(">; rel=")[0].lstrip("<"))
        for part in response.headers["Link"].split(", ")
    )
    assert set(links) == {"first", "last", "prev", "next"}
    assert "page=3" in links["next"] and "page=1" in links["prev"]
    assert all("sort=title" in url and "page_size=3" in url for url in links.values())
    titles = [e["fields"]["title"] for e in response.get_json()]
    assert titles == ["Hugo Stéphan", "Loup Theron", "Marielle Chrisment"]
    assert all("body" not in e for e in response.get_json())


def test_list_sort_folds_accents_and_case(client) -> None:
    entries = client.get("/api/v1/collections/personnes/entries?sort=-title").get_json()
    titles = [e["fields"]["title"] for e in entries]
    assert titles[:2] == ["Thaïs Coutinho", "Sarah Cocher"]
    assert titles[-2:] == ["Amélie Medem", "Adnène Trojette"]


def test_list_filters(client) -> None:
    url = "/api/v1/collections/personnes/entries"
    sponsors = client.get(url + "?filter[role]=sponsor&sort=title").get_json()
    assert [e["slug"] for e in sponsors] == ["adnène-trojette", "marielle-chrisment"]
    others = client.get(url + "?filter[role][ne]=sponsor").get_json()
    assert len(others) == 6
    found = client.get(url + "?filter[title][contains]=THAIS").get_json()
    assert [e["slug"] for e in found] == ["thaïs-coutinho"]
    both = client.get(url + "?filter[slug][in]=loup-theron,sarah-cocher").get_json()
    assert {e["slug"] for e in both} == {"loup-theron", "sarah-cocher"}
    news = "/api/v1/collections/actualites/entries"
    assert len(client.get(news + "?filter[date][gte]=2018-01-15T22:00:00Z").get_json()) == 1
    assert client.get(news + "?filter[date][gt]=2018-01-15T22:00:00Z").get_json() == []
    assert len(client.get(news + "?filter[tags][contains]=intérêt").get_json()) == 1
    assert len(client.get(news + "?filter[files][exists]=true").get_json()) == 1


def test_list_fields_body_and_include(client) -> None:
    url = "/api/v1/collections/pages/entries?fields=title,talents.list&include=talents.list"
    pages = {e["slug"]: e for e in client.get(url).get_json()}
    home = pages["accueil"]
    assert home["fields"] == {
        "title": "Page d'accueil",
        "talents": {"list": ["Hugo Stéphan", "Thaïs Coutinho", "Sarah Cocher"]},
    }
    included = home["included"]["talents.list"]
    assert [p["slug"] for p in included] == ["hugo-stéphan", "thaïs-coutinho", "sarah-cocher"]
    assert included[0]["fields"]["role"] == "eig"
    with_body = client.get("/api/v1/collections/actualites/entries?body=true").get_json()
    assert with_body[0]["body"].startswith("Après le succès")


def test_include_matches_values_with_stray_spaces(client) -> None:
    home = client.get("/api/v1/collections/pages/entries?include=agents.list").get_json()
    agents = next(e for e in home if e["slug"] == "accueil")["included"]["agents.list"]
    assert [a["slug"] for a in agents] == ["marielle-chrisment", "adnène-trojette"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/collections/nope", 404),
        ("/api/v1/collections/nope/entries", 404),
        ("/api/v1/collections/pages/entries/nope", 404),
        ("/api/v1/collections/pages/entries?ref=nope", 404),
        ("/api/v1/collections?ref=deadbeef", 404),
        ("/api/v1/collections?ref=a..b", 400),
        ("/api/v1/collections?ref=main~1", 404),  # the sample has one commit
        ("/api/v1/collections?ref=main~1:x", 400),
        ("/api/v1/collections/personnes/entries?page=0", 400),
        ("/api/v1/collections/personnes/entries?page=x", 400),
        ("/api/v1/collections/personnes/entries?page_size=101", 400),
        ("/api/v1/collections/personnes/entries?page_size=0", 400),
        ("/api/v1/collections/personnes/entries?sort=nope", 400),
        ("/api/v1/collections/personnes/entries?sort=-", 400),
        ("/api/v1/collections/personnes/entries?filter[nope]=1", 400),
        ("/api/v1/collections/personnes/entries?filter[title][like]=1", 400),
        ("/api/v1/collections/personnes/entries?filter[title=1", 400),
        ("/api/v1/collections/personnes/entries?fields=nope", 400),
        ("/api/v1/collections/personnes/entries?include=title", 400),
        ("/api/v1/collections/personnes/entries?body=maybe", 400),
        ("/api/v1/collections/actualites/entries?filter[date][lt]=yesterday", 400),
        ("/api/v1/collections/pages/entries?filter[candidats.open]=1", 400),
        ("/api/v1/collections/pages/entries/..%2f..%2fetc%2fpasswd", 404),
        ("/api/v1/collections/pages/entries/../../etc/passwd", 404),
        ("/api/v1/collections/docs/entries/.git", 404),
        ("/api/v1/collections/docs/entries/.git/config", 404),
        ("/api/v1/collections/docs/entries/..%2Fadmin%2Fconfig", 404),
        ("/api/v1/collections/docs/entries/%00", 404),
        ("/api/v1/collections/personnes/entries/" + "x" * 5000, 404),
        ("/api/v1/nothing", 404),
    ],
)
def test_bad_reads_get_the_error_shape(client, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert set(body) <= {"code", "status", "message", "errors"}


def test_refs_lists_branches_and_tags(sample_copy) -> None:
    sample_copy.repo.create_tag("v1")
    sample_copy.repo.create_head("brouillon")
    app = make_app(sample_copy.path, sample_copy.path.parent / "instance")
    anonymous = app.test_client().get("/api/v1/refs").get_json()
    assert sorted(r["name"] for r in anonymous) == ["main", "v1"]  # no draft branches
    refs = app.test_client().get("/api/v1/refs", headers=bearer(app, "reader")).get_json()
    by_name = {r["name"]: r for r in refs}
    head = sample_copy.head
    assert by_name["main"] == {"name": "main", "kind": "branch", "commit": head, "published": True}
    assert by_name["brouillon"]["published"] is False
    assert by_name["v1"] == {"name": "v1", "kind": "tag", "commit": head, "published": False}


def test_reads_at_older_commits_branches_and_tags(sample_copy) -> None:
    site = sample_copy
    first = site.head
    site.repo.create_tag("v1", message="Première version")
    path = "actualites/2018-01-16-deuxieme-promotion.md"
    text = (site.path / path).read_text(encoding="utf-8")
    edited = text.replace("title: Une 2ème promotion", "title: La 2ème promotion")
    second = site.commit({path: edited}, "Update actualites “2018-01-16-deuxieme-promotion”")
    app = make_app(site.path, site.path.parent / "instance")
    client = app.test_client()

    now = client.get(NEWS)
    assert now.get_json()["fields"]["title"].startswith("La 2ème promotion")
    assert now.headers["X-Content-Commit"] == second
    assert now.get_json()["updated_by"] == "Ada Tester"
    # A shared cache may keep the published branch's answer a second, then revalidate it.
    assert now.headers["Cache-Control"] == (
        "public, max-age=0, s-maxage=1, stale-while-revalidate=30"
    )
    assert "Authorization" in now.headers["Vary"]
    private = client.get(NEWS, headers=bearer(app, "reader"))
    assert private.headers["Cache-Control"] == "private, no-cache"

    for ref in (first, first[:7], "v1"):
        old = client.get(f"{NEWS}?ref={ref}")
        assert old.status_code == 200, ref
        if ref != first:  # a tag or a short sha may name another commit tomorrow
            assert old.headers["Cache-Control"] == "public, no-cache"
        assert old.get_json()["fields"]["title"].startswith("Une 2ème promotion")
        assert old.headers["X-Content-Commit"] == first
        assert old.get_json()["updated_by"] == "CMS sample"
    pinned = client.get(f"{NEWS}?ref={first}")
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert pinned.headers["ETag"] != now.headers["ETag"]


def test_commits_made_by_other_means_are_served_without_restart(sample_copy) -> None:
    site = sample_copy
    app = make_app(site.path, site.path.parent / "instance")
    client = app.test_client()
    before = client.get("/api/v1/collections/personnes/entries").get_json()
    assert len(before) == 8
    new = site.commit(
        {"personnes/zoé-durand.md": "---\ntitle: Zoé Durand\nrole: eig\n---\n"},
        "Add a person by hand",
    )
    after = client.get("/api/v1/collections/personnes/entries")
    assert after.headers["X-Content-Commit"] == new
    assert len(after.get_json()) == 9
    entry = client.get("/api/v1/collections/personnes/entries/" + quote("zoé-durand"))
    assert entry.status_code == 200
    site.commit({"personnes/zoé-durand.md": None}, "Remove her again")
    assert client.get("/api/v1/collections/personnes/entries/zo%C3%A9-durand").status_code == 404


def test_reads_come_from_git_objects_not_the_work_tree(sample_copy) -> None:
    site = sample_copy
    app = make_app(site.path, site.path.parent / "instance")
    (site.path / "pages" / "accueil.md").write_text("---\ntitle: Pas commité\n---\n")
    (site.path / "personnes" / "fantome.md").write_text("---\ntitle: Fantôme\nrole: eig\n---\n")
    client = app.test_client()
    home = client.get("/api/v1/collections/pages/entries/accueil").get_json()
    assert home["fields"]["title"] == "Page d'accueil"
    assert client.get("/api/v1/collections/personnes/entries/fantome").status_code == 404


def test_collections_and_schema(client) -> None:
    collections = client.get("/api/v1/collections").get_json()
    assert [c["name"] for c in collections] == ["pages", "actualites", "docs", "personnes"]
    news = next(c for c in collections if c["name"] == "actualites")
    assert news["kind"] == "folder" and news["create"] is True and news["delete"] is True
    assert news["label_singular"] == "Actualité"
    assert [f["name"] for f in news["fields"]][:2] == ["title", "date"]
    pages = client.get("/api/v1/collections/pages").get_json()
    assert pages["kind"] == "files" and pages["create"] is False
    assert [f["name"] for f in pages["files"]] == ["accueil", "programme", "candidats"]
    schema = client.get("/api/v1/collections/personnes").get_json()["schema"]
    assert schema["properties"]["role"]["enum"] == ["eig", "sponsor"]
    assert schema["required"] == ["title", "role"]


def test_the_root_and_the_api_root_link_to_where_to_start(client) -> None:
    for url in ("/", "/api/v1", "/api/v1/"):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        links = answer.get_json()["links"]
        assert links["openapi"] == "/api/v1/openapi.json" and links["docs"] == "/docs"
        assert client.get(links["collections"]).status_code == 200


def test_the_readme_search_example_finds_a_person(client) -> None:
    found = client.get("/api/v1/collections/personnes/entries?q=stephan&fields=title").get_json()
    assert [e["fields"]["title"] for e in found] == ["Hugo Stéphan"]


def test_the_shared_cache_lifetime_is_a_setting(sample_repo, tmp_path) -> None:
    app = make_app(sample_repo, tmp_path / "instance", CMS_SHARED_MAX_AGE=0)
    answer = app.test_client().get("/api/v1/collections/pages/entries/accueil")
    assert answer.headers["Cache-Control"] == "public, no-cache"
    app = make_app(sample_repo, tmp_path / "instance2", CMS_SHARED_MAX_AGE=5)
    listed = app.test_client().get("/api/v1/collections/pages/entries")
    assert listed.headers["Cache-Control"] == (
        "public, max-age=0, s-maxage=5, stale-while-revalidate=30"
    )


def test_one_entry_with_its_relations_included(client) -> None:
    answer = client.get("/api/v1/collections/pages/entries/accueil?include=talents.list")
    assert answer.status_code == 200
    people = answer.get_json()["included"]["talents.list"]
    assert [p["fields"]["title"] for p in people][:2] == ["Hugo Stéphan", "Thaïs Coutinho"]
    plain = client.get("/api/v1/collections/pages/entries/accueil").get_json()
    assert answer.get_json()["fields"] == plain["fields"] and "included" not in plain
    bad = client.get("/api/v1/collections/pages/entries/accueil?include=nope")
    assert bad.status_code == 400
