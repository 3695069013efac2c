"""Reading the content repository straight from git objects, at one commit.

Nothing here looks at the work tree: a read names a commit, and everything it returns comes from
that commit's trees and blobs. Trees and blobs are immutable, so what was read once is cached by
object id.

GitPython's README warns that long-lived ``Repo`` objects leak in long-running processes; the leak
comes from creating many of them, each with its own ``git cat-file`` processes. Reads keep one
``Repo`` per thread for the life of the process (so one pair of cat-file processes per thread, not
one per request) and close them on ``close()``. Writes open their own ``Repo`` per unit of work.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import git

from cms.errors import NotFound, RepositoryError
from cms.storage import command
from cms.storage.journal import Journal, clean_quarantines, recover
from cms.storage.lock import WriteLock
from cms.storage.loose import read_loose
from cms.storage.lru import LRU
from cms.storage.refs import FULL_SHA, SHORT_SHA, check_ref
from cms.storage.remote import Remote
from cms.storage.trees import ABSENT, Raw, Trees, parse_tree

if TYPE_CHECKING:
    from cms.storage.sync import Sync

# `~N` and `^N` steps after a branch, tag or sha (`main~3`, `v1.0^`, `main^2~1`): N has at most
# six digits.
ANCESTRY = re.compile(r"(?:[~^][0-9]{0,6})+$")
STEP = re.compile(r"([~^])([0-9]*)")
FEW_BLOBS = 16  # read_blobs reads this many or fewer without starting a process
REVISION = re.compile(r"[0-9a-f]{40}(?:\.\.[0-9a-f]{40})?|[0-9a-f]{40}\.\.\.[0-9a-f]{40}")


@dataclass(frozen=True)
class Identity:
    """A commit author or committer."""

    name: str
    email: str


@dataclass(frozen=True)
class TreeEntry:
    path: str
    sha: str


@dataclass(frozen=True)
class Change:
    """The last commit that touched a path."""

    commit: str
    date: str
    author: str
    email: str


@dataclass(frozen=True)
class FileChange:
    """A file that differs between two commits: A(dded), M(odified), D(eleted), T(ype)."""

    path: str
    status: str
    blob: str | None  # the new blob; None when deleted
    previous: str | None = None  # a renamed file's old path
    old_blob: str | None = None


@dataclass(frozen=True)
class FileVersion:
    """One commit of a file's history: the file's path and blob after that commit."""

    change: Change
    message: str
    path: str
    blob: str | None  # None: the commit deleted it
    status: str  # A, M, D, R (renamed), T
    previous: str | None = None  # the path before, for a rename


@dataclass(frozen=True)
class Ref:
    name: str
    kind: str  # "branch" or "tag"
    commit: str


class GitStore:
    """Read access to one repository. Thread-safe; share one per process."""

    def __init__(
        self,
        path: Path | str,
        branch: str | None = None,
        lock_folder: Path | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path)
        try:
            repo = git.Repo(self.path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise RepositoryError(f"{self.path} is not a git repository") from None
        check_ownership(self.path)
        with repo:
            if branch is None:
                if repo.head.is_detached:
                    raise RepositoryError(
                        f"{self.path}: HEAD is detached; set CMS_BRANCH to the published branch"
                    )
                branch = repo.active_branch.name
            check_ref(branch)
            if branch not in {h.name for h in repo.heads}:
                raise RepositoryError(f"{self.path} has no branch {branch!r}")
            self.common_dir = Path(repo.common_dir)
            self.git_dir = Path(repo.git_dir)
            self.bare = repo.bare
            self.objects_dir = Path(repo.odb.db_path("")).resolve()
        self.branch = branch
        self.write_lock = WriteLock(
            lock_folder or self.common_dir / "cms-locks", self.path, lock_timeout
        )
        self.journal = Journal(self.write_lock.path.with_suffix(".journal"))
        # The team's remote, when there is one (``connect``): every ref move is pushed first.
        self.remote: Remote | None = None
        self.sync: Sync | None = None
        self._packed: tuple[tuple[int, int, int] | None, dict[str, str]] = (None, {})
        self._local = threading.local()
        self._repos: list[git.Repo] = []
        self._processes: list[subprocess.Popen] = []
        self._repos_lock = threading.Lock()
        self._trees: LRU[tuple[str, str, int], tuple[TreeEntry, ...]] = LRU(512)
        self._blobs: LRU[str, bytes] = LRU(4096, max_bytes=64 << 20, weigh=len)
        self._changes: LRU[tuple[str, str], Change | None] = LRU(65536)
        self._peeled: LRU[str, str] = LRU(4096)
        self.trees = Trees(self._read_tree)
        self._published: LRU[tuple[str, str], bool] = LRU(4096)
        self._paths: LRU[tuple[str, str], TreeEntry | bool] = LRU(65536)
        self._listed: LRU[tuple[str, str, int], tuple[TreeEntry, ...]] = LRU(1024)
        self._histories: LRU[tuple[str, str], list[FileVersion]] = LRU(1024)
        self._links: LRU[str, frozenset[str]] = LRU(1024)

    def connect(self, url: str, state_path: Path, timeout: float = 30.0) -> Sync:
        """Push every ref this store moves to ``url`` first, and sync with it."""
        from cms.storage.sync import Sync  # it builds on this module

        lock = WriteLock(self.write_lock.path.parent, self.path, timeout + 10, "remote")
        self.remote = Remote(self.path, url, timeout, lock)
        self.sync = Sync(self, self.remote, state_path)
        return self.sync

    # -- the per-thread Repo ------------------------------------------------------------------

    @property
    def repo(self) -> git.Repo:
        repo = getattr(self._local, "repo", None)
        if repo is None:
            repo = git.Repo(self.path)
            repo.git.update_environment(**command.forced_variables())
            self._local.repo = repo
            with self._repos_lock:
                self._repos.append(repo)
        return repo

    def close(self) -> None:
        with self._repos_lock:
            for repo in self._repos:
                repo.close()
            self._repos.clear()
            for process in self._processes:
                if process.stdin:
                    process.stdin.close()
                process.wait()
                if process.stdout:
                    process.stdout.close()
            self._processes.clear()
        self._local = threading.local()

    # -- refs ---------------------------------------------------------------------------------

    def resolve(self, ref: str | None = None) -> str:
        """The full sha of a branch, a tag, or a (short) commit sha. Unknown: NotFound.

        A branch or tag is read from the ref files (loose or packed) with no git process; only
        an annotated tag's peeling and a short sha ask git, and both answers are cached.
        """
        if ref is None or ref == "" or ref == "HEAD":
            ref = self.branch
        ancestry = ANCESTRY.search(ref)
        if ancestry is not None and ancestry.start() > 0:
            return self._ancestor(self.resolve(ref[: ancestry.start()]), ancestry.group(), ref)
        check_ref(ref)
        if FULL_SHA.fullmatch(ref):
            # A full sha always means the commit, even if a branch or tag has that name.
            commit = self._peel(ref)
            if commit is not None:
                return commit
        for prefix in ("refs/heads/", "refs/tags/"):
            target = self._read_ref(prefix + ref)
            if target is None:
                continue
            commit = target if prefix == "refs/heads/" else self._peel(target)
            if commit is not None:
                return commit
        if SHORT_SHA.fullmatch(ref):
            commit = self._peel(ref.lower())
            if commit is not None:
                return commit
        raise NotFound(f"no branch, tag or commit named {ref!r}", {"ref": ref})

    def _ancestor(self, commit: str, suffix: str, ref: str) -> str:
        """The commit that ``~N`` and ``^N`` steps lead to from ``commit`` (git's meaning).
        Git sees only the full sha and the steps rebuilt from their numbers."""
        steps = "".join(
            f"{op}{int(number) if number else ''}" for op, number in STEP.findall(suffix)
        )
        found = self._peel(f"{commit}{steps}")
        if found is None:
            raise NotFound(f"no commit {ref!r}: the history is not that long", {"ref": ref})
        return found

    def _read_ref(self, name: str, hops: int = 5) -> str | None:
        """The sha a ref names, from its loose file or from packed-refs (``name`` is checked)."""
        try:
            text = (self.common_dir / name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if text.startswith("ref: ") and hops:
            return self._read_ref(text[5:], hops - 1)
        if FULL_SHA.fullmatch(text):
            return text
        return self._packed_refs().get(name)

    def _packed_refs(self) -> dict[str, str]:
        """packed-refs as a mapping, parsed again only when the file changes."""
        path = self.common_dir / "packed-refs"
        try:
            stat = path.stat()
        except OSError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._repos_lock:
            if self._packed[0] == key:
                return self._packed[1]
        refs: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and line[0] not in "#^":
                sha, _, name = line.partition(" ")
                refs[name] = sha
        with self._repos_lock:
            self._packed = (key, refs)
        return refs

    def _peel(self, name: str) -> str | None:
        """The commit a sha (full or short, of a commit or an annotated tag) names, if any."""
        cached = self._peeled.get(name)
        if cached is not None:
            return cached or None
        try:
            # `name` is a checked ref name, hex, or a full sha and ~N/^N steps: git peels
            # tags and expands short shas.
            commit = self.repo.git.rev_parse("--verify", "--quiet", f"{name}^{{commit}}")
        except git.GitCommandError:
            commit = ""
        if FULL_SHA.fullmatch(name) or commit:
            self._peeled.put(name, commit)
        return commit or None

    def head(self) -> str:
        return self.resolve(self.branch)

    def is_published(self, commit: str) -> bool:
        """Whether a commit is in the published branch's history (cached per head)."""
        head = self.head()
        if commit == head:
            return True
        cached = self._published.get((commit, head))
        if cached is None:
            cached = self._published.put((commit, head), self.is_ancestor(commit, head))
        return cached

    def head_branch(self) -> str | None:
        """The branch HEAD points at (None when detached)."""
        try:
            head = (self.git_dir / "HEAD").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return (
            head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None
        )

    def checked_out_branch(self) -> str | None:
        """The branch the work tree has checked out (None when bare or detached)."""
        return None if self.bare else self.head_branch()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock, after finishing or undoing a write that was interrupted."""
        with self.write_lock.hold():
            recover(self)
            yield

    def recover(self) -> str | None:
        """Finish or undo an interrupted write of this server, if there is one (at start)."""
        with self.write_lock.hold():
            clean_quarantines(self.objects_dir)
            return recover(self)

    def resolve_branch(self, branch: str) -> str:
        """The commit a branch points at, read from the ref files (no cache): NotFound if none."""
        check_ref(branch)
        commit = self._read_ref(f"refs/heads/{branch}")
        if commit is None:
            raise NotFound(f"no branch named {branch!r}", {"branch": branch})
        return commit

    def transaction(self, branch: str, message: str, author: Identity, committer: Identity):
        """``with store.transaction(...) as tx:`` one commit on a clean exit, else nothing."""
        from cms.storage.transaction import transaction  # it builds on this module

        return transaction(self, branch, message, author, committer)

    def refs(self) -> list[Ref]:
        repo = self.repo
        found = [Ref(h.name, "branch", h.commit.hexsha) for h in repo.heads]
        for tag in repo.tags:
            try:
                found.append(Ref(tag.name, "tag", tag.commit.hexsha))
            except ValueError:
                continue  # a tag of a tree or a blob: not a version of the content
        return found

    def branch_heads(self, prefix: str = "") -> dict[str, str]:
        """Branch name → commit, for the branches whose name starts with ``prefix``: read from
        the ref files and packed-refs, as ``_read_ref`` does (no process is started)."""
        heads = {
            name.removeprefix("refs/heads/"): sha
            for name, sha in self._packed_refs().items()
            if name.startswith(f"refs/heads/{prefix}")
        }
        base = self.common_dir / "refs" / "heads"
        start = base / prefix if prefix.endswith("/") else base
        for folder, _, files in os.walk(start):
            for file in files:
                path = Path(folder) / file
                name = path.relative_to(base).as_posix()
                if not name.startswith(prefix) or name.endswith(".lock"):
                    continue
                try:
                    text = path.read_text(encoding="ascii").strip()
                except (OSError, UnicodeDecodeError):
                    continue
                if FULL_SHA.fullmatch(text):
                    heads[name] = text
        return heads

    def config_stamp(self) -> tuple[int, int]:
        """When the repository's config file last changed (branch descriptions live there)."""
        try:
            found = (self.git_dir / "config").stat()
        except OSError:
            return (0, 0)
        return (found.st_mtime_ns, found.st_size)

    def parents(self, sha: str) -> list[str]:
        """The parents of a commit, read by this thread's running ``git cat-file``."""
        return [parent.hexsha for parent in self.repo.commit(sha).parents]

    def commit_info(self, sha: str) -> Change:
        commit = self.repo.commit(sha)
        return Change(
            commit.hexsha,
            commit.authored_datetime.isoformat(),
            commit.author.name or "",
            commit.author.email or "",
        )

    # -- trees and blobs ----------------------------------------------------------------------

    def list_tree(self, commit: str, folder: str, depth: int = 1) -> tuple[TreeEntry, ...]:
        """The blobs under ``folder`` at ``commit``, down to ``depth`` levels. Missing: empty."""
        listed = self._listed.get((commit, folder, depth))
        if listed is not None:
            return listed
        tree = self.repo.commit(commit).tree
        entries: tuple[TreeEntry, ...] = ()
        if folder:
            try:
                tree = tree / folder
            except KeyError:
                tree = None
        if isinstance(tree, git.Tree):
            key = (tree.hexsha, folder, depth)
            cached = self._trees.get(key)
            if cached is None:
                cached = self._trees.put(key, tuple(self._walk(tree, folder, depth)))
            entries = cached
        return self._listed.put((commit, folder, depth), entries)

    def folder_tree(self, commit: str, folder: str) -> str | None:
        """The sha of the tree of ``folder`` at ``commit`` (None: no such folder): what a
        folder's listing depends on."""
        tree = self.repo.commit(commit).tree
        try:
            found = tree / folder if folder else tree
        except KeyError:
            return None
        return found.hexsha if isinstance(found, git.Tree) else None

    def _walk(self, tree: git.Tree, prefix: str, depth: int) -> Iterator[TreeEntry]:
        for blob in tree.blobs:
            if blob.mode == LINK_MODE:
                continue  # a symbolic link is never content
            yield TreeEntry(f"{prefix}/{blob.name}" if prefix else blob.name, blob.hexsha)
        if depth > 1:
            for sub in tree.trees:
                yield from self._walk(
                    sub, f"{prefix}/{sub.name}" if prefix else sub.name, depth - 1
                )

    def blob_at(self, commit: str, path: str) -> TreeEntry | None:
        """The blob at ``path`` in ``commit``, or None. Answered by a ``git cat-file
        --batch-check`` process kept per thread, from the trees alone (never the file system)."""
        cached = self._paths.get((commit, path))
        if cached is not None:
            return cached or None
        found = None
        if path and "\n" not in path and "\r" not in path and FULL_SHA.fullmatch(commit):
            answer = self._check_object(f"{commit}:{path}")
            parts = answer.split(" ")
            if len(parts) == 3 and parts[1] == "blob" and not self._is_link(commit, path):
                found = TreeEntry(path, parts[0])
        self._paths.put((commit, path), found or False)
        return found

    def _is_link(self, commit: str, path: str) -> bool:
        """Whether the blob at ``path`` is a symbolic link (its parent tree says so)."""
        folder, _, name = path.rpartition("/")
        answer = self._check_object(f"{commit}:{folder}" if folder else f"{commit}^{{tree}}")
        tree = answer.split(" ")[0]
        if not FULL_SHA.fullmatch(tree):
            return False
        links = self._links.get(tree)
        if links is None:
            raw = self.repo.odb.stream(bytes.fromhex(tree)).read()
            names: frozenset[str] = frozenset()
            if b"120000 " in raw:  # else no entry can be a link: no need to parse
                names = frozenset(
                    entry_name.decode("utf-8", "surrogateescape")
                    for entry_name, (mode, _) in parse_tree(raw).items()
                    if mode == b"120000"
                )
            links = self._links.put(tree, names)
        return name in links

    def _check_object(self, name: str) -> str:
        process = getattr(self._local, "batch_check", None)
        if process is None or process.poll() is not None:
            process = command.popen(
                self.path,
                ["cat-file", "--batch-check"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._local.batch_check = process
            with self._repos_lock:
                self._processes.append(process)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        process.stdin.flush()
        return process.stdout.readline().decode("utf-8", "surrogateescape").strip()

    def read_blob(self, sha: str) -> bytes:
        cached = self._blobs.get(sha)
        if cached is not None:
            return cached
        return self._blobs.put(sha, self.repo.odb.stream(bytes.fromhex(sha)).read())

    # -- history ------------------------------------------------------------------------------

    def last_changes(self, commit: str, paths: Iterable[str]) -> dict[str, Change | None]:
        """The last commit that touched each path, as ``git log -1 <commit> -- <path>`` says.

        One ``git log`` walk, limited to exactly these paths, serves them all (it stops as soon
        as every path is found), and answers are cached by (commit, path): history below a
        commit never changes.
        """
        wanted = list(dict.fromkeys(paths))
        found: dict[str, Change | None] = {}
        missing = []
        for path in wanted:
            cached = self._changes.get((commit, path))
            if cached is not None:
                found[path] = cached
            else:
                missing.append(path)
        if missing:
            if len(missing) > 1 and self.has_commit_graph():
                # git reads the graph's filters for one path at a time only: one walk each,
                # as many at once as there are cores
                walked = {}
                workers = min(len(missing), os.cpu_count() or 1)
                with ThreadPoolExecutor(workers, thread_name_prefix="cms-log") as pool:
                    for found in pool.map(lambda p: self.first_changes(commit, [p]), missing):
                        walked.update(found)
            else:
                walked = self.first_changes(commit, missing)
            for path in missing:
                found[path] = change = walked.get(path)
                if change is not None:
                    self._changes.put((commit, path), change)
        return found

    def write_commit_graph(self) -> bool:
        """Write the repository's commit-graph, with the paths each commit changed (Bloom
        filters), or add the commits that came since as a new layer; at the lowest CPU
        priority. ``git log -- <path>`` then skips the commits that did not change the path
        without reading their trees (``make bench-history``: on 2,000 commits of a
        100,000-file folder, the last change of a file unchanged since the first commit takes
        1.4 s instead of 4.6 s; of 20 such files spread over the folder, 10 s instead of 71 s;
        of 20 next to each other by name, 9.0 s instead of 4.5 s). False when git did not
        write it (another process was writing it)."""
        args = ["commit-graph", "write", "--reachable", "--changed-paths", "--split"]
        process = command.popen(
            self.path,
            [*args, "--no-progress"],
            background=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return process.wait() == 0

    def has_commit_graph(self) -> bool:
        """Whether the commit-graph ``write_commit_graph`` writes is there."""
        return (
            self.common_dir / "objects" / "info" / "commit-graphs" / "commit-graph-chain"
        ).exists()

    def is_ancestor(self, older: str, newer: str) -> bool:
        result = command.run(self.path, ["merge-base", "--is-ancestor", older, newer])
        return result.returncode == 0

    def diff(
        self, old: str, new: str, renames: bool = False, merge_base: bool = False
    ) -> list[FileChange]:
        """The files that differ between two commits. Without ``renames``, a rename is a
        deletion and an addition; with it, one change (status R) naming both paths. With
        ``merge_base``, from the commits' merge base to ``new`` (what ``new`` changed since
        it left ``old``)."""
        raw = None
        if not renames and not merge_base:
            try:  # read here, from the trees kept in memory (git reads both trees in full)
                raw = self.trees.diff(self.tree_of(old), self.tree_of(new))
            except (ValueError, git.BadName):
                raw = None  # not commits, or a damaged tree: git says what is wrong
        if raw is None:
            options = [
                "-M" if renames else "--no-renames",
                *(["--merge-base"] if merge_base else []),
            ]
            raw = list(_raw_diff(self._run("diff-tree", "-r", "-z", *options, old, new)))
        changes = []
        for path, old_mode, new_mode, old_sha, new_sha, status, *moved in raw:
            previous = moved[0] if moved else None
            if "160000" in (old_mode, new_mode):
                continue  # a submodule holds no content of this repository
            if "120000" in (old_mode, new_mode):
                # A symbolic link is never content: one that became a file is an addition,
                # a file that became one a deletion.
                if new_mode == "120000" and old_mode not in ("120000", ABSENT):
                    changes.append(FileChange(previous or path, "D", None, None, old_sha))
                elif old_mode == "120000" and new_mode not in ("120000", ABSENT):
                    changes.append(FileChange(path, "A", new_sha))
                continue
            changes.append(
                FileChange(
                    path,
                    status[0],
                    None if set(new_sha) == {"0"} else new_sha,
                    previous,
                    None if set(old_sha) == {"0"} else old_sha,
                )
            )
        return changes

    def tree_of(self, commit: str) -> str:
        """The sha of a commit's root tree."""
        return self.repo.commit(commit).tree.hexsha

    def _read_tree(self, sha: str) -> bytes:
        """A tree object's bytes: inflated here when it is loose, else from git."""
        loose = read_loose(self.objects_dir, sha, b"tree")
        if loose is not None:
            return loose
        return self.repo.odb.stream(bytes.fromhex(sha)).read()

    def log(
        self, revisions: list[str], pathspecs: list[str], background: bool = False
    ) -> Iterator[tuple[Change, list[str]]]:
        """The commits of ``git log <revisions> -- <pathspecs>``, newest first, each with the
        paths it changed (no rename detection: a rename touches both paths). A ``background``
        walk runs at the lowest CPU priority: it takes only what other work leaves."""
        walk = self._log(revisions, pathspecs, background)
        try:
            for change, _, paths in walk:
                yield change, paths
        finally:
            walk.close()  # stops git when the caller stops early

    def _log(
        self, revisions: list[str], pathspecs: list[str], background: bool
    ) -> Generator[tuple[Change, int, list[str]], None, None]:
        """``log``'s commits, each with its number of parents."""
        for revision in revisions:
            if not REVISION.fullmatch(revision):
                raise ValueError(f"not a commit or a range of commits: {revision!r}")
        args = [
            "--literal-pathspecs",
            "-c",
            "core.quotepath=off",
            "log",
            "--no-renames",
            "--name-only",
            "-z",
            "--format=%x01%H%x00%aI%x00%an%x00%ae%x00%P%x00",
            *revisions,
            "--",
            *pathspecs,
        ]
        process = command.popen(
            self.path, args, background, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert process.stdout is not None
        current: Change | None = None
        parents = 0
        paths: list[str] = []
        header: list[str] = []
        try:
            for record in _split(process.stdout, b"\0"):
                text = record.decode("utf-8", "surrogateescape").lstrip("\n")
                if text.startswith("\x01"):
                    if current is not None:
                        yield current, parents, paths
                    current, paths, header = None, [], [text[1:]]
                elif header:
                    header.append(text)
                    if len(header) == 5:
                        current, parents, header = Change(*header[:4]), len(text.split()), []
                elif text and current is not None:
                    paths.append(text)
            if current is not None:
                yield current, parents, paths
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()

    def file_history(self, commit: str, path: str) -> list[FileVersion]:
        """The commits that changed a file, newest first, following renames as
        ``git log --follow`` does (cached: history below a commit never changes)."""
        key = (commit, path)
        cached = self._histories.get(key)
        if cached is not None:
            return cached
        if not FULL_SHA.fullmatch(commit):
            raise ValueError(f"not a full commit sha: {commit!r}")
        output = self._run(
            "--literal-pathspecs",
            "-c",
            "core.quotepath=off",
            "log",
            "--follow",
            "-M",
            "--raw",
            "--no-abbrev",
            "-z",
            "--format=%x01%H%x00%aI%x00%an%x00%ae%x00%s%x00",
            commit,
            "--",
            path,
        )
        records = [r.decode("utf-8", "surrogateescape") for r in output.split(b"\0")]
        versions: list[FileVersion] = []
        position = 0
        while position < len(records):
            record = records[position].lstrip("\n")
            if record.startswith("\x01"):
                sha = record[1:]
                date, author, email, message = records[position + 1 : position + 5]
                change = Change(sha, date, author, email)
                position += 5
                continue
            if record.startswith(":"):
                _, _, _, new_sha, status = record[1:].split(" ")
                renamed = status[0] in "RC"
                old_path = records[position + 1]
                new_path = records[position + 2] if renamed else old_path
                versions.append(
                    FileVersion(
                        change,
                        message,
                        new_path,
                        None if set(new_sha) == {"0"} else new_sha,
                        status[0],
                        old_path if renamed else None,
                    )
                )
                position += 3 if renamed else 2
                continue
            position += 1
        return self._histories.put(key, versions)

    def read_blobs(self, shas: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(sha, content) of many blobs, streamed by one ``git cat-file --batch`` (a few are
        read by this thread's running one, without starting a process)."""
        wanted = list(shas)
        if len(wanted) <= FEW_BLOBS:
            for sha in wanted:
                yield sha, self.read_blob(sha)
            return
        process = command.popen(
            self.path,
            ["cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdin is not None and process.stdout is not None

        def feed() -> None:
            try:
                for sha in wanted:
                    process.stdin.write(f"{sha}\n".encode())  # type: ignore[union-attr]
                process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass  # the reader stopped early

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for sha in wanted:
                header = process.stdout.readline().split()
                if len(header) != 3:
                    raise RepositoryError(f"git cat-file could not read blob {sha}")
                size = int(header[2])
                data = process.stdout.read(size)
                process.stdout.read(1)
                yield sha, data
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()
            writer.join()

    def _run(self, *args: str) -> bytes:
        result = command.run(self.path, args)
        if result.returncode != 0:
            raise RepositoryError(f"git {args[0]} failed: {command.stderr_text(result)}")
        return result.stdout

    def first_changes(
        self,
        commit: str,
        paths: Iterable[str],
        pathspecs: list[str] | None = None,
        background: bool = False,
    ) -> dict[str, Change]:
        """The last commit that changed each path (those found), from one ``git log`` walk
        limited to ``pathspecs`` (by default, the paths themselves) that stops as soon as
        every path is found (``background``: see ``log``)."""
        if not FULL_SHA.fullmatch(commit):
            raise ValueError(f"not a full commit sha: {commit!r}")
        remaining = set(paths)
        found: dict[str, Change] = {}
        if not remaining:
            return found
        if pathspecs is not None and len(remaining) > 1:
            # Down to the first merge, a walk without pathspecs: git then compares each commit
            # with its parent once, where a walk limited to pathspecs compares them twice
            # (once more to simplify the history) and matches every file of a tree against
            # every pathspec (13.8 s instead of 31.8 on 2,000 commits of a 100,000-file
            # folder, three pathspecs). Above the first merge the history is one line of
            # commits, the one the limited walk takes (its simplification drops only commits
            # that change none of the paths); from that merge on, the history it would
            # simplify is walked with the pathspecs.
            merge = _take(self._log([commit], [], background), remaining, found, merges=False)
            if merge is None or not remaining:
                return found
            commit = merge
        specs = sorted(remaining) if pathspecs is None else pathspecs
        _take(self._log([commit], specs, background), remaining, found)
        return found


def _take(
    walk: Generator[tuple[Change, int, list[str]], None, None],
    remaining: set[str],
    found: dict[str, Change],
    merges: bool = True,
) -> str | None:
    """Move each path of ``remaining`` to ``found`` with the first commit of ``walk`` that
    changed it; git is stopped once every path is found. Without ``merges``, the walk stops
    at the first merge commit, which is given back (None when there was none)."""
    try:
        for change, parents, touched in walk:
            if parents > 1 and not merges:
                return change.commit
            for path in touched:
                if path in remaining:
                    found[path] = change
                    remaining.discard(path)
            if not remaining:
                break
    finally:
        walk.close()  # stops git if it is still walking
    return None


LINK_MODE = 0o120000


def check_ownership(path: Path) -> None:
    """A RepositoryError naming git's ownership check when git refuses the repository because
    another user owns it (a bind mount into a container, typically): every git process would
    fail, and GitPython would say only "broken pipe"."""
    probe = command.run(path, ["rev-parse", "--git-dir"])
    if probe.returncode == 0 or "dubious ownership" not in command.stderr_text(probe):
        return
    owner = path.stat().st_uid
    raise RepositoryError(
        f"{path} is owned by uid {owner}, and this server runs as uid {os.geteuid()}: git "
        "refuses repositories of other users (its safe.directory check). Run the server as "
        f"uid {owner} (in a container: --user {owner}), give the repository to uid "
        f"{os.geteuid()}, or, if you trust it, `git config --global --add safe.directory "
        f"{path}` for the server's user"
    )


def _raw_diff(output: bytes) -> Iterator[Raw | tuple[str, str, str, str, str, str, str]]:
    """The files of ``git diff-tree -r -z`` output: (path, old mode, new mode, old sha, new
    sha, status), and the old path after them for a rename or a copy."""
    fields = [f.decode("utf-8", "surrogateescape") for f in output.split(b"\0")]
    position = 0
    while position + 1 < len(fields):
        old_mode, new_mode, old_sha, new_sha, status = fields[position].lstrip(":").split(" ")
        if status[0] in "RC":
            path, previous = fields[position + 2], fields[position + 1]
            yield (path, old_mode, new_mode, old_sha, new_sha, status, previous)
            position += 3
        else:
            yield (fields[position + 1], old_mode, new_mode, old_sha, new_sha, status)
            position += 2


def _split(stream, separator: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    """The records of a byte stream, split at ``separator``."""
    pending = b""
    while True:
        chunk = stream.read1(size) if hasattr(stream, "read1") else stream.read(size)
        if not chunk:
            break
        pending += chunk
        *records, pending = pending.split(separator)
        yield from records
    if pending:
        yield pending
