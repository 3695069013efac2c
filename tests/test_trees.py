"""Diffs read from trees in this process say what `git diff-tree -r --no-renames` says."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from cms.storage import trees as trees_module
from cms.storage.git import _raw_diff
from cms.storage.trees import Trees

FILE, EXECUTABLE, LINK, SUBMODULE = "100644", "100755", "120000", "160000"


class Objects:
    """Trees written into a bare repository with git's plumbing, from {path: (mode, text)}."""

    def __init__(self, path: Path) -> None:
        subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
        self.path = path
        self._blobs: dict[str, str] = {}

    def git(self, *args: str, data: bytes | None = None) -> bytes:
        return subprocess.run(
            ["git", *args], input=data, capture_output=True, check=True, cwd=self.path
        ).stdout

    def blob(self, text: str) -> str:
        if text not in self._blobs:
            written = self.git("hash-object", "-w", "--stdin", data=text.encode())
            self._blobs[text] = written.decode().strip()
        return self._blobs[text]

    def tree(self, files: dict[str, tuple[str, str]]) -> str:
        folders: dict[str, dict[str, tuple[str, str]]] = {}
        lines = []
        for path, (mode, text) in files.items():
            head, slash, rest = path.partition("/")
            if slash:
                folders.setdefault(head, {})[rest] = (mode, text)
            elif mode == SUBMODULE:
                lines.append(f"{mode} commit {text}\t{path}")
            else:
                lines.append(f"{mode} blob {self.blob(text)}\t{path}")
        for name, inner in folders.items():
            lines.append(f"040000 tree {self.tree(inner)}\t{name}")
        listing = "".join(f"{line}\n" for line in lines).encode()
        return self.git("mktree", "--missing", data=listing).decode().strip()

    def read(self, sha: str) -> bytes:
        return self.git("cat-file", "tree", sha)

    def git_diff(self, old: str, new: str) -> list[tuple[str, ...]]:
        return list(_raw_diff(self.git("diff-tree", "-r", "-z", "--no-renames", old, new)))


@pytest.fixture
def objects(tmp_path: Path) -> Objects:
    return Objects(tmp_path / "objects.git")


def folder(size: int) -> dict[str, tuple[str, str]]:
    """A large folder (the collection) beside a few other files and folders."""
    files = {f"articles/entry-{n:05d}.md": (FILE, f"# Article {n % 13}\n") for n in range(size)}
    files.update(
        {
            "config.yml": (FILE, "collections: []\n"),
            "articles.md": (FILE, "a file named like the folder\n"),
            "articles-extra/one.md": (FILE, "one\n"),
            "pages/about.md": (FILE, "about\n"),
            "pages/legal/terms.md": (FILE, "terms\n"),
        }
    )
    return files


def mutate(files: dict[str, tuple[str, str]], rng: random.Random, step: int) -> None:
    """One commit's worth of changes of any kind git records in a tree."""
    for _ in range(rng.choice([1, 1, 1, 2, 3, 8])):
        kind = rng.randrange(9)
        path = rng.choice(sorted(files))
        if kind == 0:
            files.pop(path, None)
        elif kind == 1:
            files[f"articles/new-{step}-{rng.randrange(10**6)}.md"] = (FILE, f"new {step}\n")
        elif kind == 2:
            files[path] = (EXECUTABLE, files.get(path, (FILE, ""))[1])
        elif kind == 3:
            files[path] = (LINK, "../elsewhere")
        elif kind == 4:
            files[path] = (SUBMODULE, "1" * 40)
        elif kind == 5 and "/" in path:  # a file replaced by a folder of the same name
            files.pop(path, None)
            files[f"{path}/inside.md"] = (FILE, "inside\n")
        elif kind == 6 and not path.startswith("articles/"):
            top = path.split("/")[0]  # a small folder replaced by a file of the same name
            for other in [p for p in files if p.startswith(f"{top}/")]:
                files.pop(other)
            files[top] = (FILE, "now a file\n")
        else:
            mode = files.get(path, (FILE, ""))[0]
            files[path] = (FILE if mode == SUBMODULE else mode, f"edited {step} {rng.random()}\n")
    if not files:
        files["config.yml"] = (FILE, "collections: []\n")


@pytest.mark.parametrize("seed", range(4))
def test_diffs_equal_git_diff_tree(objects: Objects, seed: int) -> None:
    """Commit after commit (each diff starts from the trees the last one kept in memory), and
    between commits far apart: the same files, statuses, modes and shas, in the same order."""
    rng = random.Random(seed)
    files = folder(600)
    diffs = Trees(objects.read, large=4096)
    shas = [objects.tree(files)]
    for step in range(40):
        mutate(files, rng, step)
        shas.append(objects.tree(files))
        assert diffs.diff(shas[-2], shas[-1]) == objects.git_diff(shas[-2], shas[-1])
    for _ in range(10):
        old, new = rng.sample(shas, 2)
        assert diffs.diff(old, new) in (objects.git_diff(old, new), None)


def test_large_folder_diff_reads_only_what_differs(objects: Objects, monkeypatch) -> None:
    """A one-file change in a folder of thousands of files parses a few entries, and the new
    tree gets the marks of the old one, shifted past the change."""
    files = folder(3000)
    first = objects.tree(files)
    files["articles/entry-01500.md"] = (FILE, "changed, and longer than before\n")
    files["articles/entry-01500-b.md"] = (FILE, "added\n")
    second = objects.tree(files)
    diffs = Trees(objects.read)
    assert diffs.diff(first, second) == objects.git_diff(first, second)
    folder_sha = objects.git("rev-parse", f"{second}:articles").decode().strip()
    kept = diffs.tree(folder_sha)
    assert kept.marks is not None  # given by the diff, not by reading the whole tree
    starts, position = {len(kept.data)}, 0
    while position < len(kept.data):
        starts.add(position)
        position = trees_module.ENTRY.match(kept.data, position).end()
    assert set(kept.marks) <= starts and len(kept.marks) > 3000 // trees_module.STRIDE
    del files["articles/entry-00007.md"]
    files["articles/entry-02999.md"] = (EXECUTABLE, "# Article 2999\n")
    third = objects.tree(files)
    assert diffs.diff(second, third) == objects.git_diff(second, third)
    # Another process moved on meanwhile: the next diff starts from a tree this one has not
    # read, and finds its marks by a walk from the tree last read there, not by a full read.
    files["articles/entry-00100.md"] = (FILE, "fourth\n")
    fourth = objects.tree(files)
    files["articles/entry-02000.md"] = (FILE, "fifth\n")
    fifth = objects.tree(files)
    stride = trees_module.STRIDE_ENTRIES

    class SmallTreesOnly:
        def match(self, data: bytes, position: int):
            assert len(data) < trees_module.LARGE, "a large tree was read in full"
            return stride.match(data, position)

    monkeypatch.setattr(trees_module, "STRIDE_ENTRIES", SmallTreesOnly())
    assert diffs.diff(fourth, fifth) == objects.git_diff(fourth, fifth)


def test_too_many_changes_are_left_to_git(objects: Objects, monkeypatch) -> None:
    files = folder(3000)
    first = objects.tree(files)
    for n in range(0, 3000, 10):
        files[f"articles/entry-{n:05d}.md"] = (FILE, "rewritten\n")
    second = objects.tree(files)
    monkeypatch.setattr(trees_module, "MAX_ENTRIES", 100)
    assert Trees(objects.read).diff(first, second) is None
    monkeypatch.setattr(trees_module, "MAX_ENTRIES", 100_000)
    assert Trees(objects.read).diff(first, second) == objects.git_diff(first, second)


def test_a_kept_folder_is_not_read_again(objects: Objects) -> None:
    """Read ahead (as the server does for its collections' folders at the index's commit),
    a large folder is not read by the next diff from that commit: only the new trees are."""
    files = folder(3000)
    first = objects.tree(files)
    files["articles/entry-00042.md"] = (FILE, "changed\n")
    second = objects.tree(files)
    read: list[str] = []

    def reading(sha: str) -> bytes:
        read.append(sha)
        return objects.read(sha)

    diffs = Trees(reading)
    diffs.keep(first, "articles")
    diffs.keep(first, "no/such/folder")
    diffs.keep(first, "config.yml/not-a-folder")
    old_folder = objects.git("rev-parse", f"{first}:articles").decode().strip()
    assert read.count(old_folder) == 1 and diffs.tree(old_folder).marks is not None
    read.clear()
    assert diffs.diff(first, second) == objects.git_diff(first, second)
    assert old_folder not in read
