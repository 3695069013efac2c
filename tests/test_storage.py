"""Git storage: refs (loose, packed, annotated tags, short shas), trees, blobs and history."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms.errors import BadRequest, Conflict, NotFound, RepositoryError
from cms.storage import GitStore
from cms.storage.git import Identity
from cms.storage.refs import check_ref, valid_ref_name
from tests.conftest import AUTHOR, Site


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
        store.resolve("main:x")
    store.close()


def test_refs_as_git_users_write_them(history) -> None:
    site, (first, second, third) = history
    store = GitStore(site.path)
    assert store.resolve("HEAD") == third
    assert store.resolve("main~1") == store.resolve("main^") == store.resolve("HEAD~") == second
    assert store.resolve("main~2") == store.resolve("main^^") == store.resolve("main~1^1") == first
    assert store.resolve("v1^0") == first
    assert store.resolve(f"{third[:8]}~2") == first
    with pytest.raises(NotFound):
        store.resolve("main~3")
    with pytest.raises(NotFound):
        store.resolve("main^2")  # not a merge
    for bad in ("~1", "main~1234567", "main~-1", "main@{1}", "main~1:x", "--all~1", "main~1 x"):
        with pytest.raises(BadRequest):
            store.resolve(bad)
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
    # The index build's walk, at the lowest priority, finds the same.
    found = store.first_changes(third, paths, ["posts/"], background=True)
    assert found == {path: changes[path] for path in paths[:3]}
    store.close()


DAY2, DAY3 = "2024-02-01T09:00:00Z", "2024-03-01T09:00:00Z"


def test_the_build_walk_finds_what_git_log_finds_across_merges(make_site) -> None:
    """The index build's walk (many paths) reads the history above the first merge without
    pathspecs, then from that merge with them: what `git log -1 -- <path>` says, even where a
    merge kept one side's file and dropped a newer change of the other side."""
    site = make_site({"admin/config.yml": "collections: []\n", "posts/a.md": "A1\n"})
    git = site.repo.git
    git.checkout("-q", "-b", "side")
    side = site.commit({"posts/a.md": "A side\n", "posts/b.md": "B side\n"}, "Side", date=DAY2)
    git.checkout("-q", "main")
    kept = site.commit({"posts/a.md": "A main\n"}, "Main", date="2024-01-01T09:00:00Z")
    with git.custom_environment(GIT_AUTHOR_DATE=DAY3, GIT_COMMITTER_DATE=DAY3):
        git.merge("-q", "--no-ff", "-s", "ours", "-m", "Merge, keeping main's files", "side")
    merge = site.head
    site.commit({"posts/c.md": "C\n", "notes.txt": "outside the content\n"}, "Add c", date=DAY3)
    last = site.commit({"posts/d.md": "D\n"}, "Add d", date=DAY3)
    store = GitStore(site.path)
    paths = ["posts/a.md", "posts/b.md", "posts/c.md", "posts/d.md", "posts/missing.md"]
    found = store.first_changes(last, paths, ["posts/"], background=True)
    expected = {}
    for path in paths:
        commit = git.log("-1", "--format=%H", last, "--", path)
        if commit:
            expected[path] = commit
    assert {path: change.commit for path, change in found.items()} == expected
    assert expected["posts/a.md"] == kept != side  # the merge dropped the newer side change
    assert merge not in expected.values()
    store.close()


def test_last_changes_walk_one_path_at_a_time_over_a_commit_graph(history) -> None:
    """With a commit-graph of changed paths, each path is walked on its own, as `git log -1
    -- <path>` does (git uses the graph's filters for one path only): the same answers."""
    site, (first, second, third) = history
    paths = ["posts/a.md", "posts/b.md", "posts/deep/c.md", "posts/missing.md"]
    reference = GitStore(site.path)
    expected = reference.last_changes(third, paths)
    reference.close()
    store = GitStore(site.path)
    assert store.write_commit_graph()
    subprocess.run(["git", "commit-graph", "verify"], cwd=site.path, check=True)
    subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=site.path, check=True)
    walks = []
    original = store.first_changes
    store.first_changes = lambda commit, wanted, *rest: (
        walks.append(list(wanted)) or original(commit, wanted, *rest)
    )
    assert store.last_changes(third, paths) == expected
    assert sorted(walks) == [[path] for path in sorted(paths)]
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


def test_transaction_builds_trees_like_git(make_site) -> None:
    site = make_site({"a/keep.md": "k\n", "a/b/old.md": "o\n", "tool.sh": "#!/bin/sh\n"})
    (site.path / "tool.sh").chmod(0o755)
    site.repo.git.update_index("--chmod=+x", "tool.sh")
    site.commit({}, "Make tool.sh executable")
    store = GitStore(site.path)
    author = Identity("Ada", "ada@example.org")
    with store.transaction("main", "Many changes", author, author) as tx:
        tx.write("a/new/deep/file.md", b"new\n")  # new folders
        tx.delete("a/b/old.md")  # a folder left empty disappears
        tx.write("tool.sh", b"#!/bin/sh\necho hi\n")  # the mode is kept
        tx.write("z.md", "é\n".encode())
    commit = tx.result.sha
    assert commit == site.repo.head.commit.hexsha
    listing = site.repo.git.ls_tree("-r", commit)
    entries = {line.split("\t")[1]: line.split()[0] for line in listing.splitlines()}
    assert entries == {
        "a/keep.md": "100644",
        "a/new/deep/file.md": "100644",
        "tool.sh": "100755",
        "z.md": "100644",
    }
    # git's own tree for the same content has the same id
    site.repo.git.read_tree(commit)
    assert site.repo.git.write_tree() == site.repo.commit(commit).tree.hexsha
    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=site.path, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0 and "dangling" not in fsck.stdout + fsck.stderr
    assert site.repo.git.status("--porcelain") == ""
    assert (site.path / "a/new/deep/file.md").read_text() == "new\n"
    assert not (site.path / "a/b").exists()
    assert site.repo.head.commit.author.name == "Ada"
    assert site.repo.head.commit.message == "Many changes\n"
    store.close()


def test_a_transaction_that_raises_leaves_nothing(make_site) -> None:
    site = make_site({"a.md": "a\n"})
    head = site.head
    objects = site.repo.git.count_objects("-v")
    store = GitStore(site.path)
    author = Identity("Ada", "ada@example.org")
    with pytest.raises(RuntimeError), store.transaction("main", "No", author, author) as tx:
        tx.write("b.md", b"b\n")
        raise RuntimeError("changed my mind")
    assert site.head == head
    assert site.repo.git.count_objects("-v") == objects
    assert not (site.path / "b.md").exists()
    store.close()


names = st.sampled_from(["a", "a.b", "a-b", "a_b", "b", "é", "a0", "A", "z"])
paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + ".md")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(paths, st.text("xyz", min_size=1, max_size=5), min_size=1, max_size=6),
    st.dictionaries(paths, st.one_of(st.none(), st.text("xyz", max_size=5)), max_size=6),
)
def test_trees_built_by_a_transaction_equal_git_s(tmp_path_factory, initial, changes) -> None:
    # A path may not be both a file and a folder.
    everything = set(initial) | set(changes)
    if any(p.removesuffix(".md") + "/" == q[: len(p) - 2] for p in everything for q in everything):
        return
    root = tmp_path_factory.mktemp("trees")
    site = Site(root / "site")
    site.commit(initial, "Start")
    store = GitStore(site.path)
    author = Identity("Ada", "ada@example.org")
    effective = {p: c for p, c in changes.items() if c is not None or p in initial}
    with store.transaction("main", "Change", author, author) as tx:
        for path, content in effective.items():
            if content is None:
                tx.delete(path)
            else:
                tx.write(path, content.encode())
    final = {**initial, **effective}
    final = {p: c for p, c in final.items() if c is not None}
    if tx.result is not None:
        expected = Site(root / "expected")
        expected.commit(final, "All at once")
        assert site.repo.commit(tx.result.sha).tree.hexsha == expected.repo.head.commit.tree.hexsha
        expected.repo.close()
        assert site.repo.git.status("--porcelain") == ""
    store.close()
    site.repo.close()


def test_lru_bounds_items_and_bytes() -> None:
    from cms.storage.lru import LRU

    cache: LRU[str, bytes] = LRU(3, max_bytes=100, weigh=len)
    for key in "abc":
        cache.put(key, b"x" * 10)
    cache.get("a")  # a is now the most recently used
    cache.put("d", b"x" * 10)
    assert cache.get("b") is None and cache.get("a") is not None
    cache.put("e", b"x" * 24)
    cache.put("f", b"x" * 24)
    cache.put("g", b"x" * 24)
    assert cache.bytes <= 100
    assert cache.put("huge", b"x" * 60) == b"x" * 60  # returned, not kept (over a quarter)
    assert cache.get("huge") is None


def test_publishing_into_a_copied_checkout(make_site, tmp_path) -> None:
    """A repository copied (cp -r, rsync, a restored backup) has its index's file stats out
    of date though no file changed: publishing a draft into its checked-out branch works."""
    import shutil
    import time

    from cms.storage.branches import Branches

    original = make_site({"a.md": "---\ntitle: A\n---\n", "b.md": "---\ntitle: B\n---\n"})
    for name in ("a", "b"):
        original.repo.git.checkout("-q", "-b", f"cms/posts/{name}", "main")
        original.commit({f"{name}.md": f"---\ntitle: {name.upper()} 2\n---\n"})
    original.repo.git.checkout("-q", "main")
    time.sleep(0.01)
    copy = tmp_path / "copy"
    shutil.copytree(original.path, copy)  # new inodes and times: the index's stats are stale
    (copy / "a.md").write_text("---\ntitle: edited by hand\n---\n")  # a real local edit
    store = GitStore(copy)
    people = (Identity("Ada", "a@x"), Identity("CMS", "c@x"))
    try:
        done = Branches(store).publish("cms/posts/b", "Publish", *people)
        with pytest.raises(Conflict):  # the edit is in the way: nothing published
            Branches(store).publish("cms/posts/a", "Publish", *people)
    finally:
        store.close()
    assert done.changed and done.fast_forward
    assert (copy / "b.md").read_text() == "---\ntitle: B 2\n---\n"
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert status.stdout == " M a.md\n"
