"""The journal of the write in progress, and the recovery of one that was interrupted.

A write records what it is about to do (the branch, its old and new commit, and the old and new
state of every path it changes) in a small JSON file beside the write lock under
``CMS_INSTANCE``, before it moves the branch; it removes the file when the work tree has
followed. If the process is killed in between, the file is still there, and whoever takes the
write lock next (a starting server, or the next write) finishes or undoes that step first:

* the branch is at the new commit: the commit is made, so the index entries of the paths move to
  it and their files are written, unless a person changed a file since (then only its index
  entry moves, and the person's edit shows as a local change against the new commit). A file
  is the write's own when it holds the old or the new content, or what git leaves when it is
  killed while writing a file in place: no file yet, or the start of the content;
* the branch is still at the old commit: the index entries and the files the write had already
  changed go back;
* the branch is elsewhere: someone moved it since; nothing is touched.

Git lock files (``refs/heads/<branch>.lock``, ``HEAD.lock``, ``index.lock``) left by the killed
write are the server's own when they are at least as new as the journal: those are removed.
Quarantine folders of killed writes (``objects/incoming-cms-*``) are removed too. Everything here
runs under the write lock, so no write of this server is in flight meanwhile.

The file is replaced atomically (write, then rename), which survives a killed process; like
git's own ref updates by default, it is not flushed to disk for a power cut.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cms.errors import CMSError, NotFound
from cms.storage.worktree import State, WorkTree, existing, lock_files

if TYPE_CHECKING:
    from cms.storage.git import GitStore

log = logging.getLogger(__name__)
RECORD_KEYS = {"branch", "base", "new", "checked_out", "paths"}


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".journal-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.replace(temporary, self.path)

    def read(self) -> dict[str, Any] | None:
        try:
            entry = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not set(entry) >= RECORD_KEYS:
            log.warning("ignoring an unreadable write journal %s", self.path)
            return None
        return entry

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0


def record(
    branch: str,
    base: str,
    new: str,
    old_states: dict[str, State | None],
    new_states: dict[str, State | None],
    checked_out: bool,
) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "branch": branch,
        "base": base,
        "new": new,
        "checked_out": checked_out,
        "paths": {
            path: {
                "old": old_states[path].as_list() if old_states.get(path) else None,
                "new": new_states[path].as_list() if new_states.get(path) else None,
            }
            for path in new_states
        },
    }


def recover(store: GitStore) -> str | None:
    """Finish or undo an interrupted write (call with the write lock held). Returns what was
    done ("finished", "undone", "abandoned") or None when there was nothing to do."""
    journal = store.journal
    entry = journal.read()
    if entry is None:
        if journal.path.exists():
            journal.clear()
        return None
    _remove_own_locks(store, entry, journal.mtime())
    branch = entry["branch"]
    try:
        head = store.resolve_branch(branch)
    except NotFound:
        head = None
    paths = entry["paths"]
    old = {p: State.from_list(v["old"]) for p, v in paths.items()}
    new = {p: State.from_list(v["new"]) for p, v in paths.items()}
    checked_out = entry["checked_out"] and store.checked_out_branch() == branch
    if head == entry["new"]:
        outcome, target, other = "finished", new, old
    elif head == entry["base"]:
        outcome, target, other = "undone", old, new
    else:
        outcome = "abandoned"
        checked_out = False
    if checked_out:
        tree = WorkTree(store.path)
        try:
            found = tree.hashes(list(paths))
            ours = [
                path
                for path in paths
                if tree.link_in_path(path) is None
                and _left_by_the_write(store, tree, path, found[path], target[path], other[path])
            ]
            tree.apply(target, files=ours)
        except CMSError as exc:
            # Left as it is, a file that could not be brought back shows as a local change,
            # which writes to it refuse (409) until a person looks at it: better than
            # refusing every write of the repository by failing here each time.
            log.error("could not bring the work tree to %s: %s", entry["new"][:12], exc.message)
            outcome += ", work tree left as it was"
    journal.clear()
    clean_quarantines(store.objects_dir)
    log.warning(
        "recovered an interrupted write on %s (%s -> %s): %s",
        branch,
        entry["base"][:12],
        entry["new"][:12],
        outcome,
    )
    return outcome


def _left_by_the_write(
    store: GitStore,
    tree: WorkTree,
    path: str,
    found: str | None,
    target: State | None,
    other: State | None,
) -> bool:
    """Whether the file is as the write may have left it, rather than edited by a person: the
    old or new content, or what git leaves when killed while writing a file in place (no file
    yet, or the start of its content)."""
    if found is None or found in {_blob(target), _blob(other)}:
        return True
    try:
        written = (tree.root / path).read_bytes()
    except OSError:
        return False
    for state in (target, other):
        if state is not None:
            content = store.read_blob(state.blob)
            if len(written) < len(content) and content.startswith(written):
                return True
    return False


def _blob(state: State | None) -> str | None:
    return None if state is None else state.blob


def _remove_own_locks(store: GitStore, entry: dict[str, Any], since: float) -> None:
    here = store.head_branch() == entry["branch"]
    candidates = lock_files(
        store.git_dir, store.common_dir, entry["branch"], here, here and not store.bare
    )
    for path in existing(candidates):
        try:
            if path.stat().st_mtime >= since:
                path.unlink()
                log.warning("removed %s, left by an interrupted write", path)
        except OSError:
            continue


def clean_quarantines(objects: Path) -> None:
    """Remove the object quarantines of writes that were killed (with the write lock held)."""
    for folder in objects.glob("incoming-cms-*"):
        shutil.rmtree(folder, ignore_errors=True)
