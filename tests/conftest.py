"""Fixtures: small real git repositories built from dedented text, and apps serving them."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import git
import pytest

from cms import create_app
from cms.settings import PROJECT_ROOT
from cms.storage.seed import seed_repository

AUTHOR = git.Actor("Ada Tester", "ada@example.org")
ENV = {
    "GIT_AUTHOR_DATE": "2024-01-02T10:00:00+01:00",
    "GIT_COMMITTER_DATE": "2024-01-02T10:00:00+01:00",
}


class Site:
    """A git repository in a temporary folder, written to commit by commit."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch=branch)
        with self.repo.config_writer() as config:
            config.set_value("user", "name", AUTHOR.name)
            config.set_value("user", "email", AUTHOR.email)

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str = "Edit",
        author: git.Actor = AUTHOR,
        date: str | None = None,
    ) -> str:
        """Write (or, for None, delete) files and commit them; returns the new commit's sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.repo.git.rm("-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
            self.repo.git.add("--", name)
        env = dict(ENV)
        if date:
            env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        with self.repo.git.custom_environment(**env):
            self.repo.git.commit(
                "-q", "--allow-empty", "-m", message, f"--author={author.name} <{author.email}>"
            )
        return self.repo.head.commit.hexsha

    @property
    def head(self) -> str:
        return self.repo.head.commit.hexsha


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Site]:
    sites: list[Site] = []

    def make(files: Mapping[str, str | bytes | None] | None = None, name: str = "site") -> Site:
        site = Site(tmp_path / name)
        if files:
            site.commit(files, "Create the site")
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.repo.close()


def bearer(app, role: str = "editor", name: str = "Éditrice Test", email: str = "ed@example.org"):
    """Headers with a new token of ``role`` for ``app``."""
    from cms.auth import TokenStore

    _, secret = TokenStore(Path(app.config["CMS_INSTANCE"])).create(name, role, email)
    return {"Authorization": f"Bearer {secret}"}


_OPEN_APPS: list = []


def make_app(repo: Path, instance: Path, **settings: object):
    """An app on ``repo``; its git processes are closed when the test ends."""
    config = {"CMS_REPO": str(repo), "CMS_INSTANCE": str(instance), "TESTING": True}
    config.update(settings)
    app = create_app(config)
    _OPEN_APPS.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_apps():
    yield
    while _OPEN_APPS:
        close_app(_OPEN_APPS.pop())


def close_app(app) -> None:
    """Close an app's index connections, git processes and outbox."""
    app.extensions["cms.outbox"].close()
    app.extensions["cms.index"].close()
    app.extensions["cms"].store.close()


@pytest.fixture(scope="session")
def sample_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site of ``content/`` in its own repository; tests that share it only read."""
    path = tmp_path_factory.mktemp("sample") / "site"
    seed_repository(PROJECT_ROOT / "content", path)
    return path


@pytest.fixture(scope="session")
def sample_app(sample_repo: Path, tmp_path_factory: pytest.TempPathFactory):
    config = {"CMS_REPO": str(sample_repo), "CMS_INSTANCE": str(tmp_path_factory.mktemp("i"))}
    app = create_app({**config, "TESTING": True})
    yield app
    close_app(app)


@pytest.fixture
def client(sample_app):
    return sample_app.test_client()


@pytest.fixture
def sample_copy(sample_repo: Path, tmp_path: Path) -> Site:
    """A private copy of the sample repository, for tests that commit to it."""
    target = tmp_path / "copy"
    shutil.copytree(sample_repo, target)
    site = Site.__new__(Site)
    site.path = target
    site.repo = git.Repo(target)
    with site.repo.config_writer() as config:
        config.set_value("user", "name", AUTHOR.name)
        config.set_value("user", "email", AUTHOR.email)
    yield site
    site.repo.close()


@pytest.fixture(autouse=True)
def _no_cms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they pass, never the developer's CMS_* variables."""
    for name in list(os.environ):
        if name.startswith("CMS_"):
            monkeypatch.delenv(name)
