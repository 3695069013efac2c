"""The write path under faults: a failure at each step, a process killed between steps, git's
lock files, hooks in the content repository, and names too long for the file system. After
each, the repository is either one commit ahead or exactly as it was, `git status` and
`git fsck --strict` are clean, and a person's next `git commit` works."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cms.storage import faults
from tests.conftest import bearer, close_app, make_app
from tests.test_api_writes import HOME, NEW_POST, NEWS, Repo, git

PEOPLE = "/api/v1/collections/personnes/entries"


@pytest.fixture
def site(sample_copy, tmp_path):
    app = make_app(sample_copy.path, tmp_path / "instance")
    return app, app.test_client(), Repo(sample_copy.path)


class Killed(BaseException):
    """Stands for SIGKILL in the same process: nothing after the point runs, no rollback."""


def kill() -> None:
    raise Killed


def fail() -> None:
    raise RuntimeError("injected failure")


@pytest.fixture
def fault():
    """``fault(point, action)`` for the length of a test."""
    used: list[str] = []

    def set_fault(point: str, action) -> None:
        faults.at(point, action)
        used.append(point)

    yield set_fault
    for point in used:
        faults.at(point, None)


def person(name: str) -> dict:
    return {"slug": name, "fields": {"title": "Ada Lovelace", "role": "eig"}, "body": "Pionnière."}


def a_person_commits(repo: Repo) -> None:
    """What a person does next in the same work tree: it must work."""
    (repo.path / "NOTE.txt").write_text("une note\n", encoding="utf-8")
    git(repo.path, "add", "NOTE.txt")
    git(repo.path, "commit", "-q", "-m", "A note")
    git(repo.path, "fsck", "--strict", "--no-progress")


def head_is_clean(repo: Repo) -> None:
    repo.assert_clean()
    assert git(repo.path, "diff", "--cached", "--name-only", "HEAD") == ""


# -- 1. a failure after the ref update ------------------------------------------------------------


def test_a_failure_at_the_work_tree_step_restores_ref_index_and_files(site, fault) -> None:
    app, client, repo = site
    reflog = git(repo.path, "reflog", "--format=%H")
    fault("work-tree", fail)
    with pytest.raises(RuntimeError):
        client.post(NEWS, json=NEW_POST, headers=bearer(app))
    repo.assert_unchanged()
    head_is_clean(repo)
    assert not app.extensions["cms"].store.journal.path.exists()
    # The reflog names only commits that exist (the moved-back one among them).
    for sha in git(repo.path, "reflog", "--format=%H").split():
        git(repo.path, "cat-file", "-e", sha)
    assert reflog in git(repo.path, "reflog", "--format=%H")
    a_person_commits(repo)


def test_a_failed_checkout_of_an_edit_puts_the_old_file_back(site, fault) -> None:
    app, client, repo = site
    before = (repo.path / "pages" / "accueil.md").read_bytes()
    current = client.get(HOME)

    def half_done() -> None:
        (repo.path / "pages" / "accueil.md").write_text("à moitié écrit\n", encoding="utf-8")
        raise RuntimeError("disk full")

    fault("work-tree", half_done)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    with pytest.raises(RuntimeError):
        client.patch(HOME, json={"fields": {"title": "Nouveau"}}, headers=headers)
    assert (repo.path / "pages" / "accueil.md").read_bytes() == before
    repo.assert_unchanged()
    a_person_commits(repo)


def test_a_name_too_long_in_bytes_is_refused_before_anything_is_written(site) -> None:
    app, client, repo = site
    response = client.post(PEOPLE, json=person("é" * 200), headers=bearer(app))
    assert response.status_code in (400, 422)
    assert "bytes" in response.get_json()["message"]
    repo.assert_unchanged()
    head_is_clean(repo)
    assert client.post(PEOPLE, json=person("é" * 100), headers=bearer(app)).status_code == 201
    repo.assert_one_commit()
    a_person_commits(repo)


# -- 2. killed between the ref update and the work tree ------------------------------------------


def test_a_write_killed_after_the_ref_update_is_finished_by_the_next_write(site, fault) -> None:
    app, client, repo = site
    current = client.get(HOME)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    fault("after-ref", kill)
    with pytest.raises(Killed):
        client.patch(HOME, json={"fields": {"title": "Premier titre"}}, headers=headers)
    fault("after-ref", None)
    assert len(repo.commits_since_start()) == 1  # made; the work tree has not followed yet
    assert git(repo.path, "status", "--porcelain") != ""
    again = client.get(HOME)
    assert again.get_json()["fields"]["title"] == "Premier titre"
    second = client.patch(
        HOME,
        json={"fields": {"title": "Second titre"}},
        headers={**headers, "If-Match": again.headers["ETag"]},
    )
    assert second.status_code == 200, second.get_json()
    assert len(repo.commits_since_start()) == 2
    head_is_clean(repo)
    assert "title: Second titre" in (repo.path / "pages" / "accueil.md").read_text()
    a_person_commits(repo)


def test_a_write_killed_after_the_ref_update_is_finished_at_start(site, fault, tmp_path) -> None:
    app, client, repo = site
    fault("after-ref", kill)
    with pytest.raises(Killed):
        client.post(NEWS, json=NEW_POST, headers=bearer(app))
    fault("after-ref", None)
    close_app(app)
    make_app(repo.path, Path(app.config["CMS_INSTANCE"]))  # a server starting
    repo.assert_one_commit()
    head_is_clean(repo)


def test_a_write_killed_before_the_ref_update_leaves_nothing(site, fault) -> None:
    app, client, repo = site
    fault("before-ref", kill)
    with pytest.raises(Killed):
        client.post(NEWS, json=NEW_POST, headers=bearer(app))
    fault("before-ref", None)
    assert app.extensions["cms"].store.journal.path.exists()
    app.extensions["cms"].store.recover()
    repo.assert_unchanged()
    assert not app.extensions["cms"].store.journal.path.exists()


def test_recovery_never_overwrites_a_persons_edit(site, fault) -> None:
    app, client, repo = site
    current = client.get(HOME)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    fault("after-ref", kill)
    with pytest.raises(Killed):
        client.patch(HOME, json={"fields": {"title": "Par l’API"}}, headers=headers)
    fault("after-ref", None)
    page = repo.path / "pages" / "accueil.md"
    page.write_text("Écrit à la main\n", encoding="utf-8")
    app.extensions["cms"].store.recover()
    assert page.read_text(encoding="utf-8") == "Écrit à la main\n"
    # The index follows the commit: the person's edit shows as a change against it, and a
    # `git commit -a` would commit that edit, not revert the API's.
    assert git(repo.path, "diff", "--cached", "--name-only", "HEAD") == ""
    assert git(repo.path, "status", "--porcelain").strip() == "M pages/accueil.md"


# -- 3. git lock files ----------------------------------------------------------------------------


@pytest.mark.parametrize("lock", [".git/index.lock", ".git/HEAD.lock", ".git/refs/heads/main.lock"])
def test_a_lock_file_that_is_not_ours_is_a_503_naming_it(site, lock) -> None:
    app, client, repo = site
    (repo.path / lock).write_text("", encoding="utf-8")
    reflog = git(repo.path, "reflog")
    response = client.post(NEWS, json=NEW_POST, headers=bearer(app))
    assert response.status_code == 503
    assert lock.removeprefix(".git/").split("/")[-1] in response.get_json()["message"]
    assert response.headers["Retry-After"]
    assert git(repo.path, "reflog") == reflog
    assert repo.head() == repo.before
    (repo.path / lock).unlink()
    assert client.post(NEWS, json=NEW_POST, headers=bearer(app)).status_code == 201


@pytest.mark.parametrize(
    ("point", "lock"),
    [
        ("before-ref", ".git/refs/heads/main.lock"),
        ("before-ref", ".git/HEAD.lock"),
        ("work-tree", ".git/index.lock"),
    ],
)
def test_our_own_stale_lock_is_removed_by_the_next_write(site, fault, point, lock) -> None:
    app, client, repo = site

    def killed_inside_git() -> None:
        time.sleep(0.01)
        (repo.path / lock).write_text("", encoding="utf-8")
        raise Killed

    fault(point, killed_inside_git)
    with pytest.raises(Killed):
        client.post(NEWS, json=NEW_POST, headers=bearer(app))
    fault(point, None)
    landed = len(repo.commits_since_start())
    post = {**NEW_POST, "fields": {**NEW_POST["fields"], "title": "Une autre"}}
    response = client.post(NEWS, json=post, headers=bearer(app))
    assert response.status_code == 201, response.get_json()
    assert len(repo.commits_since_start()) == landed + 1
    assert not (repo.path / lock).exists()
    head_is_clean(repo)
    for sha in git(repo.path, "reflog", "--format=%H").split():
        git(repo.path, "cat-file", "-e", sha)


# -- 4. quarantines and a racing start ------------------------------------------------------------


def test_quarantines_of_killed_writes_are_removed_at_start(site) -> None:
    app, _, repo = site
    left = repo.path / ".git" / "objects" / "incoming-cms-killed"
    (left / "ab").mkdir(parents=True)
    (left / "ab" / "cdef").write_bytes(b"x")
    close_app(app)
    make_app(repo.path, Path(app.config["CMS_INSTANCE"]))
    assert not left.exists()


# -- 5. publishing after a write to the same file -------------------------------------------------


def test_a_draft_publishes_after_api_writes_to_the_same_file(site) -> None:
    app, client, repo = site
    editor = bearer(app)
    admin = bearer(app, "admin", name="Admin", email="admin@example.org")
    current = client.get(HOME)
    first = client.patch(
        HOME,
        json={"fields": {"title": "Sur main"}},
        headers={**editor, "If-Match": current.headers["ETag"]},
    )
    assert first.status_code == 200
    made = client.post("/api/v1/branches", json={"name": "brouillon"}, headers=editor)
    assert made.status_code == 201
    draft = client.patch(
        HOME + "?branch=brouillon",
        json={"fields": {"title": "Sur le brouillon"}},
        headers={**editor, "If-Match": first.headers["ETag"]},
    )
    assert draft.status_code == 200
    published = client.post("/api/v1/branches/brouillon/publish", json={}, headers=admin)
    assert published.status_code == 200, published.get_json()
    assert "title: Sur le brouillon" in (repo.path / "pages" / "accueil.md").read_text()
    head_is_clean(repo)


# -- 6. hooks -------------------------------------------------------------------------------------


def test_hooks_of_the_content_repository_never_run(site, tmp_path) -> None:
    app, client, repo = site
    ran = tmp_path / "hook-ran"
    hooks = repo.path / ".git" / "hooks"
    for name in ("reference-transaction", "post-index-change", "pre-commit", "post-commit"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\necho {name} >> {ran}\nexit 1\n", encoding="utf-8")
        hook.chmod(0o755)
    response = client.post(NEWS, json=NEW_POST, headers=bearer(app))
    assert response.status_code == 201, response.get_json()
    made = client.post("/api/v1/branches", json={"name": "b"}, headers=bearer(app))
    assert made.status_code == 201
    assert not ran.exists()
    repo.assert_one_commit()


# -- 17. branch names git reads otherwise ---------------------------------------------------------


def test_branch_names_git_treats_specially_are_refused(site) -> None:
    app, client, repo = site
    editor = bearer(app)
    head = repo.head()
    for name in ("HEAD", "FETCH_HEAD", "ORIG_HEAD", "refs/heads/x", head, head.upper()):
        response = client.post("/api/v1/branches", json={"name": name}, headers=editor)
        assert response.status_code == 400, name
    assert git(repo.path, "branch", "--format=%(refname:short)").split() == ["main"]


def test_a_full_sha_always_means_the_commit(site) -> None:
    app, client, repo = site
    old = repo.head()
    post = client.post(NEWS, json=NEW_POST, headers=bearer(app))
    assert post.status_code == 201
    new = repo.head()
    git(repo.path, "branch", old, new)  # made by hand: a branch named like the old commit
    listed = client.get(f"{NEWS}?ref={old}").get_json()
    assert post.get_json()["slug"] not in {e["slug"] for e in listed}
    assert client.get(f"{NEWS}?ref={new}").status_code == 200


def test_recovery_leaves_a_branch_moved_by_someone_else(site, fault) -> None:
    app, client, repo = site
    fault("after-ref", kill)
    with pytest.raises(Killed):
        client.post(NEWS, json=NEW_POST, headers=bearer(app))
    fault("after-ref", None)
    git(repo.path, "reset", "-q", "--hard", repo.before)
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "Someone else")
    moved = repo.head()
    assert app.extensions["cms"].store.recover() == "abandoned"
    assert repo.head() == moved
    repo.assert_clean()


@pytest.mark.parametrize("left", ["missing", "empty", "truncated"])
def test_a_file_git_was_killed_writing_is_finished(site, fault, left) -> None:
    app, client, repo = site
    current = client.get(HOME)
    headers = {**bearer(app), "If-Match": current.headers["ETag"]}
    page = repo.path / "pages" / "accueil.md"

    def killed_inside_checkout() -> None:
        new = git(repo.path, "cat-file", "-p", "main:pages/accueil.md")
        if left == "missing":
            page.unlink()
        else:
            page.write_text("" if left == "empty" else new[:50], encoding="utf-8")
        raise Killed

    fault("work-tree", killed_inside_checkout)
    with pytest.raises(Killed):
        client.patch(HOME, json={"fields": {"title": "Écrit"}}, headers=headers)
    fault("work-tree", None)
    assert app.extensions["cms"].store.recover() == "finished"
    head_is_clean(repo)
    assert "title: Écrit" in page.read_text(encoding="utf-8")


def test_an_unreadable_journal_is_set_aside(site) -> None:
    app, client, repo = site
    journal = app.extensions["cms"].store.journal
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    for junk in ("{not json", '{"branch": "main"}', "[]"):
        journal.path.write_text(junk, encoding="utf-8")
        post = {**NEW_POST, "fields": {**NEW_POST["fields"], "title": f"Titre {len(junk)}"}}
        assert client.post(NEWS, json=post, headers=bearer(app)).status_code == 201
        assert not journal.path.exists()
    head_is_clean(repo)
