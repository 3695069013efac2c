"""A content repository owned by another user (a typical bind mount into a container): git
refuses it (its ``safe.directory`` check), and the server says so, naming the check."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cms.errors import RepositoryError
from cms.storage import GitStore

OTHER_UID = 12345


@pytest.fixture
def foreign_repo(sample_repo: Path, tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    target = tmp_path / "foreign"
    shutil.copytree(sample_repo, target)
    for folder, dirs, files in os.walk(target):
        for name in [*dirs, *files]:
            os.lchown(Path(folder) / name, OTHER_UID, OTHER_UID)
    os.lchown(target, OTHER_UID, OTHER_UID)
    return target


def test_a_repository_of_another_user_names_gits_ownership_check(foreign_repo: Path) -> None:
    with pytest.raises(RepositoryError) as raised:
        GitStore(foreign_repo)
    message = raised.value.message
    assert "owned by uid 12345" in message and "safe.directory" in message
    assert str(foreign_repo) in message


def test_cms_validate_says_the_same(foreign_repo: Path, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from cms.cli import main

    monkeypatch.setenv("CMS_REPO", str(foreign_repo))
    monkeypatch.setenv("CMS_INSTANCE", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2
    assert "safe.directory" in result.output and "BrokenPipe" not in result.output
