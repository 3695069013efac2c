"""The `cms` command: validate (text and JSON), openapi, and a broken config stopping the start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cms import create_app
from cms.errors import ConfigError
from cms.settings import PROJECT_ROOT
from tests.conftest import make_app

CMS = [sys.executable, "-m", "cms.cli"]


def run(args: list[str], repo: Path, instance: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {"CMS_REPO": str(repo), "CMS_INSTANCE": str(instance), "PATH": "/usr/bin:/bin"}
    environment.update(env)
    return subprocess.run(
        [*CMS, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=PROJECT_ROOT,
        check=False,
    )


def test_validate_the_sample_site_is_clean(sample_repo: Path, tmp_path: Path) -> None:
    result = run(["validate"], sample_repo, tmp_path / "instance")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "13 entries checked" in result.stderr and "0 error(s)" in result.stderr


def test_validate_reports_one_line_per_problem(sample_copy, tmp_path: Path) -> None:
    site = sample_copy
    site.commit(
        {
            "actualites/2020-01-01-cassee.md": "---\ntitle: Cassée\ndate: hier\n---\nTexte\n",
            "actualites/2020-01-02-vide.md": "---\ntitle: [\n---\n",
            "personnes/inconnue.md": "---\ntitle: Inconnue\nrole: stagiaire\n---\n",
            "pages/accueil.md": (site.path / "pages/accueil.md")
            .read_text(encoding="utf-8")
            .replace("    - Sarah Cocher\n", "    - Sarah Cocher\n    - Personne Absente\n"),
        }
    )
    result = run(["validate"], site.path, tmp_path / "instance")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "actualites/2020-01-01-cassee.md: date: must be a date in the format "
        "YYYY-MM-DD HH:mm:ss Z, not 'hier'"
    ) in lines
    assert any(
        line.startswith("actualites/2020-01-02-vide.md: invalid YAML front matter: line 3")
        for line in lines
    )
    assert "actualites/2020-01-02-vide.md: title: is required" in lines
    assert "actualites/2020-01-02-vide.md: date: is required" in lines
    assert "actualites/2020-01-02-vide.md: body: is required" in lines
    assert "personnes/inconnue.md: role: must be one of 'eig', 'sponsor', not 'stagiaire'" in lines
    assert (
        "pages/accueil.md: talents.list: no personnes entry has title 'Personne Absente'" in lines
    )
    assert len(lines) == 7, lines

    as_json = run(["validate", "--format", "json"], site.path, tmp_path / "instance")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["errors"] == 7 and report["warnings"] == 0
    assert report["commit"] == site.head
    assert {"path", "field", "message", "severity"} == set(report["problems"][0])


def test_validate_at_a_ref_and_unknown_widgets_are_warnings(make_site, tmp_path: Path) -> None:
    site = make_site(
        {
            "admin/config.yml": (
                "collections:\n  - name: c\n    folder: c\n    fields:\n"
                "      - {name: title}\n      - {name: stars, widget: rating}\n"
            ),
            "c/a.md": "---\ntitle: A\nstars: {any: thing}\n---\n",
        }
    )
    first = site.head
    site.commit({"c/b.md": "---\nstars: 3\n---\n"})
    result = run(["validate", "--ref", first], site.path, tmp_path / "instance")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "admin/config.yml: c.stars: warning: unknown widget 'rating' (line 6): "
        "any value is accepted"
    ]
    assert run(["validate"], site.path, tmp_path / "instance").returncode == 1


def test_relations_by_slug_are_checked_and_included(make_site, tmp_path: Path) -> None:
    """Decap's `value_field: "{{slug}}"` points at entries by their slug."""
    site = make_site(
        {
            "admin/config.yml": (
                "collections:\n  - name: people\n    folder: people\n    fields: [{name: title}]\n"
                "  - name: posts\n    folder: posts\n    fields:\n      - {name: title}\n"
                "      - {name: by, widget: relation, collection: people,"
                " value_field: '{{slug}}'}\n"
            ),
            "people/ada.md": "---\ntitle: Ada\n---\n",
            "posts/one.md": "---\ntitle: One\nby: ada\n---\n",
        }
    )
    assert run(["validate"], site.path, tmp_path / "instance").returncode == 0
    site.commit({"posts/two.md": "---\ntitle: Two\nby: nobody\n---\n"})
    result = run(["validate"], site.path, tmp_path / "instance")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["posts/two.md: by: no people entry has {{slug}} 'nobody'"]
    client = make_app(site.path, tmp_path / "app").test_client()
    listed = client.get("/api/v1/collections/posts/entries?include=by").get_json()
    assert [e["included"]["by"]["slug"] if e["included"]["by"] else None for e in listed] == [
        "ada",
        None,
    ]


def test_a_broken_config_stops_the_start_with_file_and_line(make_site, tmp_path: Path) -> None:
    site = make_site(
        {"admin/config.yml": "collections:\n  - name: c\n    fields: [{name: a}]\n", "c/a.md": ""}
    )
    with pytest.raises(ConfigError) as caught:
        create_app({"CMS_REPO": str(site.path), "CMS_INSTANCE": str(tmp_path / "i")})
    assert (
        str(caught.value)
        == "admin/config.yml, line 2: collection 'c' needs either `folder` or `files` (not both)"
    )
    result = run(["serve", "--port", "5999"], site.path, tmp_path / "instance")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: admin/config.yml, line 2: "
        "collection 'c' needs either `folder` or `files` (not both)"
    )
    missing = run(["validate"], tmp_path / "nowhere", tmp_path / "instance")
    assert missing.returncode == 2 and "is not a git repository" in missing.stderr


def test_a_missing_config_is_named(make_site, tmp_path: Path) -> None:
    site = make_site({"README.md": "no config\n"})
    with pytest.raises(ConfigError) as caught:
        create_app({"CMS_REPO": str(site.path), "CMS_INSTANCE": str(tmp_path / "i")})
    assert str(caught.value).startswith("admin/config.yml: no such file at commit ")


def test_instance_may_not_be_inside_the_repository(sample_repo: Path) -> None:
    with pytest.raises(ValueError, match="must not be inside"):
        create_app({"CMS_REPO": str(sample_repo), "CMS_INSTANCE": str(sample_repo / "instance")})


def test_tokens_create_list_revoke(sample_repo: Path, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    created = run(
        ["tokens", "create", "Ada Lovelace", "--role", "admin", "--email", "ada@example.org"],
        sample_repo,
        instance,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("cms_")
    stored = (instance / "tokens.json").read_text()
    assert secret.split("_", 2)[2] not in stored  # only a hash is kept
    assert oct((instance / "tokens.json").stat().st_mode & 0o777) == "0o600"
    listed = run(["tokens", "list"], sample_repo, instance).stdout
    token_id = listed.split("\t")[0]
    assert "\tadmin\tAda Lovelace <ada@example.org>\t" in listed
    app = make_app(sample_repo, instance)
    client = app.test_client()
    url = "/api/v1/collections/pages/entries/accueil?ref=main"
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/refs", headers=headers).status_code == 200
    revoked = run(["tokens", "revoke", token_id], sample_repo, instance)
    assert revoked.returncode == 0
    assert client.get(url, headers=headers).status_code == 401  # seen without a restart
    assert run(["tokens", "revoke", token_id], sample_repo, instance).returncode == 2
    bad = run(["tokens", "create", "x", "--role", "owner"], sample_repo, instance)
    assert bad.returncode == 2
