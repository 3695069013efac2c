"""Creating a content repository from a folder of files (the sample site in ``content/``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import git

SEED_AUTHOR = git.Actor("CMS sample", "cms@localhost")


def seed_repository(source: Path, target: Path, branch: str = "main") -> bool:
    """Make ``target`` a new git repository holding a copy of ``source`` in one first commit.

    Does nothing and returns False when ``target`` already is a repository. The copy goes to a
    temporary sibling folder first, so an interrupted seed never leaves a half-made repository.
    """
    if (target / ".git").exists():
        return False
    if not source.is_dir():
        raise FileNotFoundError(f"no sample content at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.seeding")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    repo = git.Repo.init(staging, initial_branch=branch)
    with repo:
        repo.git.add("--all")
        repo.index.commit(
            "Create the site from the sample content",
            author=SEED_AUTHOR,
            committer=SEED_AUTHOR,
        )
    if target.exists():
        target.rmdir()
    staging.rename(target)
    return True
