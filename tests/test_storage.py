"""Git storage: refs (loose, packed, annotated tags, short shas), trees, blobs and history."""

from __future__ import annotations

import subprocess

import pytest

from cms.errors import BadRequest, NotFound, RepositoryError
from cms.storage import GitStore
from cms.storage.refs import check_ref, valid_ref_name
from tests.conftest import AUTHOR


@pytest.fixture
def history(make_site):
    site = make_site({"admin/config.yml": "collections: []\n", "posts/a.md": "A1\n"})
    first = site.head
    site.repo.create_tag("v1", message="Version 1")  # annotated
    site.repo.create_tag("light")  # lightweight
    second = site.commit(
        {"posts/b.md": "B1\n", "posts/deep/c.md": "C1\n"},
        "Add b and c",
        date="2024-02-01T09:00:00Z",
    )
    third = site.commit({"posts/a.md": "A2\n"}, "Edit a", date="2024-03-01T09:00:00Z")
    return site, (first, second, third)


def test_resolve_branches_tags_and_shas(history) -> None:
    site, (first, _, third) = history
    store = GitStore(site.path)
    assert store.branch == "main"
    assert store.resolve() == third == store.resolve("main") == store.head()
    assert store.resolve("v1") == first  # an annotated tag is peeled to its commit
    assert store.resolve("light") == first
    assert store.resolve(first) == first
    assert store.resolve(first[:7]) == first
    assert store.resolve(first[:7].upper()) == first
    with pytest.raises(NotFound):
        store.resolve("nope")
    with pytest.raises(NotFound):
        store.resolve("0" * 40)
    with pytest.raises(BadRequest):
        store.resolve("main^")
    store.close()


def test_packed_refs_are_read_and_reread_when_they_change(history) -> None:
    site, (first, second, third) = history
    store = GitStore(site.path)
    site.repo.git.pack_refs("--all")
    assert store.resolve("main") == third
    assert store.resolve("v1") == first
    site.repo.git.update_ref("refs/heads/main", second)  # a loose ref again, newer than packed
    assert store.resolve("main") == second
    site.repo.git.branch("other", first)
    site.repo.git.pack_refs("--all")
    assert store.resolve("other") == first
    store.close()


def test_tree_listing_and_blobs(history) -> None:
    site, (first, _, third) = history
    store = GitStore(site.path)
    assert [e.path for e in store.list_tree(third, "posts")] == ["posts/a.md", "posts/b.md"]
    deep = [e.path for e in store.list_tree(third, "posts", depth=2)]
    assert deep == ["posts/a.md", "posts/b.md", "posts/deep/c.md"]
    assert store.list_tree(first, "posts/deep") == ()
    assert store.list_tree(third, "nowhere") == ()
    assert store.list_tree(third, "posts/a.md") == ()
    blob = store.blob_at(third, "posts/a.md")
    assert store.read_blob(blob.sha) == b"A2\n"
    assert store.read_blob(store.blob_at(first, "posts/a.md").sha) == b"A1\n"
    assert store.blob_at(third, "posts/zzz.md") is None
    assert store.blob_at(third, "posts") is None
    store.close()


def test_last_changes_match_git_log(history) -> None:
    site, (first, second, third) = history
    store = GitStore(site.path)
    paths = ["posts/a.md", "posts/b.md", "posts/deep/c.md", "posts/missing.md"]
    changes = store.last_changes(third, paths)
    assert changes["posts/a.md"].commit == third
    assert changes["posts/b.md"].commit == second
    assert changes["posts/deep/c.md"].commit == second
    assert changes["posts/missing.md"] is None
    assert changes["posts/b.md"].author == AUTHOR.name
    assert changes["posts/b.md"].date == "2024-02-01T09:00:00+00:00"
    for path in paths[:3]:
        expected = site.repo.git.log("-1", "--format=%H", third, "--", path)
        assert changes[path].commit == expected
    assert store.last_changes(second, ["posts/a.md"])["posts/a.md"].commit == first
    store.close()


def test_a_folder_that_is_not_a_repository(tmp_path) -> None:
    with pytest.raises(RepositoryError, match="not a git repository"):
        GitStore(tmp_path)


def test_a_missing_published_branch(history) -> None:
    site, _ = history
    with pytest.raises(RepositoryError, match="no branch 'gh-pages'"):
        GitStore(site.path, "gh-pages")


NAMES = [
    "main",
    "feature/x",
    "cms/actualites/2018-01-16-deuxieme-promotion",
    "cms/personnes/thaïs-coutinho",
    "v1.0",
    "a..b",
    "a/.b",
    ".a",
    "a.",
    "a.lock",
    "a/b.lock/c",
    "a//b",
    "/a",
    "a/",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[1",
    "a\\b",
    "a@{1}",
    "@",
    "a@b",
    "-a",
    "HEAD",
]


@pytest.mark.parametrize("name", NAMES)
def test_ref_names_follow_git_check_ref_format(name: str) -> None:
    git_says = (
        subprocess.run(
            ["git", "check-ref-format", "--allow-onelevel", name], capture_output=True, check=False
        ).returncode
        == 0
    )
    # A leading "-" is valid for git but would read as an option on a command line.
    expected = git_says and not name.startswith("-")
    assert valid_ref_name(name) == expected
    if not expected:
        with pytest.raises(BadRequest):
            check_ref(name)
