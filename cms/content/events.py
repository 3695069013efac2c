"""What a webhook says about a commit: which entries it created, updated or deleted, on which
branch, by whom.

Events come from the refs, not from the code paths that write: a commit made through the API,
the editor, a fetch from the team's remote or by hand with git is seen the same way, as a branch
that moved. Every commit that reached the branch is one event (a publish that merges a draft
brings the draft's commits and the merge).
"""

from __future__ import annotations

from typing import Any

from cms.content.service import ContentService
from cms.errors import CMSError
from cms.storage import command

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# A branch that moved by more commits than this at once (a large fetch) gives this many events,
# the newest ones.
MAX_COMMITS = 500
CHANGES = {"A": "created", "D": "deleted"}
# Fields ended by NUL, the one character a commit message cannot hold (git refuses it, and so
# does the API); the record and unit separators can be in one.
FIELDS = 7
FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cI%x00%B%x00"


def commits_between(service: ContentService, old: str | None, new: str, branch: str) -> list[str]:
    """The commits that reached ``branch`` when it moved from ``old`` to ``new``, oldest first.
    A new branch (``old`` None) brings the commits the published branch lacks."""
    store = service.store
    exclude = old
    if old is None:
        exclude = store.head() if branch != store.branch else None
    args = ["rev-list", "--reverse", new, *([f"^{exclude}"] if exclude else [])]
    listed = command.run(store.path, args)
    if listed.returncode != 0:
        return []
    return listed.stdout.decode().split()[-MAX_COMMITS:]


def commit_events(service: ContentService, commits: list[str], branch: str) -> list[dict[str, Any]]:
    """One payload per commit (``commits`` oldest first)."""
    if not commits:
        return []
    store = service.store
    shown = command.run(store.path, ["show", "-s", f"--format={FORMAT}", *commits])
    fields = shown.stdout.decode("utf-8", "replace").split("\x00")
    records = [fields[i : i + FIELDS] for i in range(0, len(fields) - FIELDS + 1, FIELDS)]
    events = []
    wanted = set(commits)
    for sha, parents, name, email, authored, committed, message in records:
        sha = sha.strip("\n")  # each commit's fields after the first start a new line
        if sha not in wanted:  # a NUL in a commit made elsewhere (git fsck refuses those)
            continue
        parent_list = parents.split()
        events.append(
            {
                "event": "commit",
                "branch": branch,
                "published": branch == store.branch,
                "commit": sha,
                "parents": parent_list,
                "message": message.strip(),
                "author": {"name": name, "email": email},
                "authored_at": authored,
                "committed_at": committed,
                "entries": _entries(service, parent_list[0] if parent_list else EMPTY_TREE, sha),
            }
        )
    return events


def _entries(service: ContentService, parent: str, commit: str) -> list[dict[str, Any]]:
    """The entries the commit changed, against its first parent."""
    try:
        after = service.snapshot_at(commit)
    except CMSError:
        return []  # a commit whose config cannot be read names no entries
    before = None
    if parent != EMPTY_TREE:
        try:
            before = service.snapshot_at(parent)
        except CMSError:
            before = None
    found = []
    for change in service.store.diff(parent, commit, renames=True):
        owner = after.file_owner(change.path) or (
            before.file_owner(change.path) if before else None
        )
        if owner is None:
            continue
        collection, slug, locale = owner
        kind = "renamed" if change.status == "R" else CHANGES.get(change.status, "updated")
        item = {"collection": collection.name, "slug": slug, "change": kind, "path": change.path}
        if locale:
            item["locale"] = locale
        if change.previous:
            item["previous_path"] = change.previous
        found.append(item)
    return found
