"""The checked-out work tree and its index, as a write sees them: only the paths it touches.

A write moves the branch first, then brings the index entries and files of exactly the paths it
changed to the new commit; a rollback or a recovery brings them back the same way. Files are
written from the index by ``git checkout-index -u`` (smudge filters and line endings applied as
a checkout would, and the index's stat data refreshed, so that ``git status`` and a later
``git read-tree -m -u`` see the files as clean).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cms.errors import CMSError
from cms.storage import command

ZERO = "0" * 40


class WorkTreeFailure(CMSError):
    """A git command on the index or the work tree failed."""

    status = 500


class RepositoryLocked(CMSError):
    """A git lock file that is not the server's own is in the way; nothing was written."""

    status = 503

    def __init__(self, path: Path, root: Path) -> None:
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        super().__init__(
            f"git's lock file {shown} exists: another git command is working in the content "
            "repository, or one was killed; remove that file if no git command is running",
            {"lock": str(shown), "retry_after": 5},
        )
        self.retry_after = 5


@dataclass(frozen=True)
class State:
    """What one path holds in a commit: its mode (octal) and blob, or nothing (None)."""

    mode: int
    blob: str

    def as_list(self) -> list:
        return [self.mode, self.blob]

    @classmethod
    def from_list(cls, value: list | None) -> State | None:
        return None if value is None else cls(int(value[0]), str(value[1]))


class WorkTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _git(self, *args: str, stdin: bytes | None = None) -> str:
        result = command.run(self.root, args, stdin=stdin)
        if result.returncode != 0:
            raise WorkTreeFailure(f"git {args[0]} failed: {command.stderr_text(result)}")
        return result.stdout.decode("utf-8", "surrogateescape")

    def apply(self, states: Mapping[str, State | None], files: Iterable[str] | None = None) -> None:
        """Set the index entries of ``states``, then make the files of ``files`` (default:
        all of them) match: written from the index, or removed where the state is None."""
        listing = "".join(
            f"{state.mode:o} {state.blob} 0\t{path}\0" if state else f"0 {ZERO}\t{path}\0"
            for path, state in states.items()
        )
        if listing:
            self._git("update-index", "-z", "--index-info", stdin=listing.encode())
        chosen = list(states) if files is None else list(files)
        written = [path for path in chosen if states.get(path) is not None]
        if written:
            self._git("checkout-index", "-f", "-u", "-q", "-z", "--stdin", stdin=_nul(written))
        for path in chosen:
            if states.get(path) is None:
                target = self.root / path
                if target.is_symlink() or target.is_file():
                    target.unlink()
                remove_empty_parents(target.parent, self.root)

    def hashes(self, paths: Iterable[str]) -> dict[str, str | None]:
        """The blob each file of the work tree would be added as (None: no such file)."""
        present = [p for p in paths if (self.root / p).is_file() and not _through_link(self, p)]
        found: dict[str, str | None] = dict.fromkeys(paths)
        if present:
            out = self._git("hash-object", "--stdin-paths", stdin="\n".join(present).encode())
            found.update(zip(present, out.split(), strict=True))
        return found

    def link_in_path(self, path: str) -> str | None:
        """The first folder of ``path`` that is a symbolic link in the work tree, if any."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if (self.root / folder).is_symlink():
                return folder
        return None


def _through_link(tree: WorkTree, path: str) -> bool:
    return tree.link_in_path(path) is not None or (tree.root / path).is_symlink()


def _nul(paths: list[str]) -> bytes:
    return "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")


def remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def lock_files(
    git_dir: Path, common_dir: Path, branch: str, head_here: bool, checked_out: bool
) -> list[Path]:
    """The lock files git takes to move ``branch``: the ref's, HEAD's when HEAD points at it
    (its reflog is written too), and the index's when the work tree follows."""
    found = [common_dir / "refs" / "heads" / f"{branch}.lock"]
    if head_here:
        found.append(git_dir / "HEAD.lock")
    if checked_out:
        found.append(git_dir / "index.lock")
    return found


def existing(paths: Iterable[Path]) -> list[Path]:
    return [path for path in paths if os.path.lexists(path)]
