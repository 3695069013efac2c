"""The team's remote (CMS_REMOTE), in process on real repositories: every commit pushed first,
a remote that moved met by a rebase or a 409, a remote that is down met by a 503 that changes
nothing, drafts replicated, credentials never shown, the git host's push webhook."""

from __future__ import annotations

import hashlib
import hmac
import re
import subprocess
from pathlib import Path

import pytest

from cms.errors import CMSError
from cms.storage import faults
from cms.storage.lock import WriteLock
from cms.storage.remote import Remote, redact
from tests.conftest import bearer, make_app

PEOPLE = "/api/v1/collections/personnes/entries"
NEWS_ONE = "/api/v1/collections/actualites/entries/2018-01-16-deuxieme-promotion"
HOME = "/api/v1/collections/pages/entries/accueil"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def person(name: str) -> dict:
    return {"fields": {"title": name, "role": "eig"}}


@pytest.fixture
def remote(sample_repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(sample_repo), str(bare)], check=True)
    return bare


def clone(remote: Path, target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(target)], check=True)
    git(target, "config", "user.name", "Someone")
    git(target, "config", "user.email", "someone@example.org")
    return target


def replica(remote: Path, tmp_path: Path, name: str, url: str | None = None, **settings):
    work = clone(remote, tmp_path / name)
    app = make_app(work, tmp_path / f"{name}-instance", CMS_REMOTE=url or str(remote), **settings)
    return app, app.test_client(), work


def other_push(remote: Path, tmp_path: Path, files: dict[str, str], message: str) -> str:
    """A commit pushed to the remote by someone else (a person with git)."""
    work = tmp_path / "person"
    if not work.exists():
        clone(remote, work)
    git(work, "pull", "-q", "--ff-only")
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    git(work, "commit", "-q", "-am", message)
    git(work, "push", "-q", "origin", "main")
    return git(work, "rev-parse", "HEAD")


def test_a_write_is_pushed_before_it_lands(remote, tmp_path) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    made = client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app))
    assert made.status_code == 201
    commit = made.headers["X-Content-Commit"]
    assert git(remote, "rev-parse", "main") == commit == git(work, "rev-parse", "main")
    assert git(work, "status", "--porcelain") == ""


def test_a_remote_that_moved_elsewhere_is_caught_up_and_the_write_made_on_top(
    remote, tmp_path
) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    theirs = other_push(
        remote,
        tmp_path,
        {"personnes/loup-theron.md": "---\ntitle: Loup\nrole: eig\n---\n"},
        "Theirs",
    )
    made = client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app))
    assert made.status_code == 201
    ours = made.headers["X-Content-Commit"]
    assert git(remote, "rev-parse", "main") == ours == git(work, "rev-parse", "main")
    assert git(remote, "rev-parse", f"{ours}^") == theirs
    # The work tree followed both commits.
    assert (work / "personnes/loup-theron.md").read_text().startswith("---\ntitle: Loup")
    assert (work / "personnes/grace-hopper.md").exists()
    assert git(work, "status", "--porcelain") == ""
    # Reads see the other person's commit too.
    assert client.get(PEOPLE + "/loup-theron").get_json()["fields"]["title"] == "Loup"


def test_an_entry_changed_on_the_remote_is_a_409_and_nothing_is_written(remote, tmp_path) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    read = client.get(NEWS_ONE)
    theirs = other_push(
        remote,
        tmp_path,
        {
            "actualites/2018-01-16-deuxieme-promotion.md": (
                "---\ntitle: Changé ailleurs\ndate: 2018-01-16\n---\n"
            )
        },
        "Theirs",
    )
    answer = client.patch(
        NEWS_ONE,
        json={"fields": {"title": "Changé ici"}},
        headers={**bearer(app), "If-Match": read.headers["ETag"]},
    )
    assert answer.status_code == 409, answer.get_json()
    assert "actualites/2018-01-16-deuxieme-promotion.md" in answer.get_json()["message"]
    assert git(remote, "rev-parse", "main") == theirs == git(work, "rev-parse", "main")
    assert git(work, "status", "--porcelain") == ""


def test_with_the_remote_down_reads_answer_and_writes_are_503_with_nothing_changed(
    remote, tmp_path
) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    head = git(work, "rev-parse", "main")
    remote.rename(tmp_path / "gone.git")
    assert client.get(HOME).status_code == 200
    answer = client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert "cannot be reached" in answer.get_json()["message"]
    assert git(work, "rev-parse", "main") == head
    assert git(work, "status", "--porcelain") == ""
    assert not (work / "personnes/grace-hopper.md").exists()
    (tmp_path / "gone.git").rename(remote)
    assert client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app)).status_code == 201


def test_drafts_are_branches_on_the_remote_seen_by_the_other_replica(remote, tmp_path) -> None:
    a, client_a, work_a = replica(remote, tmp_path, "a")
    b, client_b, work_b = replica(remote, tmp_path, "b")
    made = client_a.post(
        "/api/v1/branches", json={"name": "cms/personnes/ada"}, headers=bearer(a, "admin")
    )
    assert made.status_code == 201
    wrote = client_a.post(
        PEOPLE + "?branch=cms/personnes/ada", json=person("Ada Lovelace"), headers=bearer(a)
    )
    assert wrote.status_code == 201
    draft = git(remote, "rev-parse", "cms/personnes/ada")
    assert draft == wrote.headers["X-Content-Commit"]
    b.extensions["cms.background"].tick()  # B's interval has passed (first sync)
    assert git(work_b, "rev-parse", "cms/personnes/ada") == draft
    token = bearer(b, "reader")
    seen = client_b.get(PEOPLE + "/ada-lovelace?ref=cms/personnes/ada", headers=token)
    assert seen.status_code == 200
    # Published on B: the published branch moves on the remote, the draft is deleted there,
    # and A follows both at its next sync.
    published = client_b.post(
        "/api/v1/branches/cms/personnes/ada/publish", json={}, headers=bearer(b, "admin")
    )
    assert published.status_code == 200, published.get_json()
    deleted = client_b.delete("/api/v1/branches/cms/personnes/ada", headers=bearer(b, "admin"))
    assert deleted.status_code == 204
    assert git(remote, "branch", "--list", "cms/*") == ""
    report = a.extensions["cms"].store.sync.run()
    assert report.actions == {"cms/personnes/ada": "deleted", "main": "fast-forwarded"}
    assert git(work_a, "rev-parse", "main") == git(remote, "rev-parse", "main")
    assert (work_a / "personnes/ada-lovelace.md").exists()
    assert git(work_a, "status", "--porcelain") == ""
    assert client_a.get(PEOPLE + "/ada-lovelace").status_code == 200


def test_a_commit_made_by_hand_is_pushed_and_a_diverged_branch_reported(remote, tmp_path) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    (work / "personnes/loup-theron.md").write_text("---\ntitle: Loup\nrole: eig\n---\n")
    git(work, "commit", "-q", "-am", "By hand")
    sync = app.extensions["cms"].store.sync
    assert sync.run().actions == {"main": "pushed"}
    assert git(remote, "rev-parse", "main") == git(work, "rev-parse", "main")
    other_push(
        remote, tmp_path, {"personnes/sarah-cocher.md": "---\ntitle: S\nrole: eig\n---\n"}, "There"
    )
    (work / "personnes/hugo-stéphan.md").write_text("---\ntitle: H\nrole: eig\n---\n")
    git(work, "commit", "-q", "-am", "Here")
    here = git(work, "rev-parse", "main")
    report = sync.run()
    assert "diverged" in report.problems["main"]
    assert git(work, "rev-parse", "main") == here
    status = client.get("/api/v1/status").get_json()["remote"]
    assert status["state"] == "diverged"
    assert "diverged" in status["problems"]["main"]


def test_credentials_never_appear_in_an_answer_or_the_status(remote, tmp_path) -> None:
    url = "https://cms:s3cret-t0ken@127.0.0.1:9/site.git"  # nothing listens on port 9
    work = clone(remote, tmp_path / "a")
    app = make_app(work, tmp_path / "i", CMS_REMOTE=url, CMS_REMOTE_TIMEOUT=5)
    client = app.test_client()
    answer = client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app))
    assert answer.status_code == 503
    app.extensions["cms.background"].tick()
    status = client.get("/api/v1/status").get_json()["remote"]
    assert status["url"] == "https://***@127.0.0.1:9/site.git"
    assert status["state"] == "unreachable"
    for text in (answer.get_data(as_text=True), str(status)):
        assert "s3cret" not in text and "t0ken" not in text
    assert redact("fatal: unable to access 'https://u:p%40ss@h/x.git/'") == (
        "fatal: unable to access 'https://***@h/x.git/'"
    )


def test_the_git_hosts_push_webhook_needs_its_signature(remote, tmp_path) -> None:
    _, client, work = replica(remote, tmp_path, "a", CMS_HOOK_SECRET="hook-secret")
    theirs = other_push(
        remote, tmp_path, {"personnes/loup-theron.md": "---\ntitle: L\nrole: eig\n---\n"}, "Theirs"
    )
    body = b'{"ref": "refs/heads/main"}'
    assert client.post("/api/v1/hooks/git", data=body).status_code == 401
    wrong = hmac.new(b"other", body, hashlib.sha256).hexdigest()
    assert (
        client.post(
            "/api/v1/hooks/git", data=body, headers={"X-Hub-Signature-256": f"sha256={wrong}"}
        ).status_code
        == 401
    )
    assert git(work, "rev-parse", "main") != theirs
    good = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    github = client.post(
        "/api/v1/hooks/git", data=body, headers={"X-Hub-Signature-256": f"sha256={good}"}
    )
    assert github.status_code == 200
    assert github.get_json() == {"actions": {"main": "fast-forwarded"}, "problems": {}}
    assert git(work, "rev-parse", "main") == theirs
    gitea = client.post("/api/v1/hooks/git", data=body, headers={"X-Gitea-Signature": good})
    assert gitea.get_json() == {"actions": {}, "problems": {}}
    gitlab = client.post("/api/v1/hooks/git", data=b"", headers={"X-Gitlab-Token": "hook-secret"})
    assert gitlab.status_code == 200


def test_without_a_secret_the_hook_is_off(client) -> None:
    answer = client.post("/api/v1/hooks/git", data=b"{}")
    assert answer.status_code == 404
    assert "CMS_HOOK_SECRET" in answer.get_json()["message"]


def test_metrics_show_the_sync_lag_and_the_webhook_queue(remote, tmp_path) -> None:
    app, client, _ = replica(remote, tmp_path, "a")
    app.extensions["cms.background"].tick()
    text = client.get("/metrics").get_data(as_text=True)
    lag = re.search(r"^cms_remote_sync_lag_seconds (\S+)$", text, re.MULTILINE)
    assert lag is not None and 0 <= float(lag.group(1)) < 5
    assert re.search(r"^cms_webhook_queue_depth 0\.0$", text, re.MULTILINE)


def test_ssh_never_waits_on_a_terminal_unless_configured(remote, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.delenv("GIT_SSH", raising=False)
    work = clone(remote, tmp_path / "a")
    lock = WriteLock(tmp_path / "locks", work, 5, "remote")
    config = dict(Remote(work, "git@git.example.org:team/site.git", 7, lock).config)
    assert config["core.sshCommand"] == "ssh -o BatchMode=yes -o ConnectTimeout=7"
    git(work, "config", "core.sshCommand", "ssh -i /srv/deploy-key")
    assert "core.sshCommand" not in dict(Remote(work, "git@h:x.git", 7, lock).config)


def test_redaction_removes_the_secret_not_the_user_name() -> None:
    url = "http://cms:pa55word@127.0.0.1/site.git"
    text = "error: cannot lock ref 'refs/remotes/cms-remote/main' (pa55word, pa55word)"
    assert redact(text, url) == "error: cannot lock ref 'refs/remotes/cms-remote/main' (***, ***)"
    token = "https://ghp_abc123@github.com/team/site.git"
    assert redact("fatal: ghp_abc123 refused", token) == "fatal: *** refused"


def test_a_write_rolled_back_here_is_taken_back_from_the_remote(remote, tmp_path) -> None:
    app, client, work = replica(remote, tmp_path, "a")
    head = git(remote, "rev-parse", "main")

    def disk_full() -> None:
        raise CMSError("no space left on device")

    faults.at("work-tree", disk_full)
    try:
        answer = client.post(PEOPLE, json=person("Grace Hopper"), headers=bearer(app))
    finally:
        faults.at("work-tree", None)
    assert answer.status_code == 409
    assert "nothing was written" in answer.get_json()["message"]
    assert git(remote, "rev-parse", "main") == head == git(work, "rev-parse", "main")
    assert git(work, "status", "--porcelain") == ""
