"""Loose objects read in this process give what `git cat-file` gives, or nothing (git reads)."""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

from cms.storage.loose import read_loose


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], input=data, capture_output=True, check=True, cwd=repo
    ).stdout


def test_loose_tree_is_read_as_git_reads_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    blob = git(repo, "hash-object", "-w", "--stdin", data="Pérennisation\n".encode()).decode()
    listing = "".join(f"100644 blob {blob.strip()}\tarticle-{n}.md\n" for n in range(300))
    tree = git(repo, "mktree", data=listing.encode()).decode().strip()
    objects = repo / "objects"

    assert read_loose(objects, tree, b"tree") == git(repo, "cat-file", "tree", tree)
    assert read_loose(objects, blob.strip(), b"tree") is None  # another kind: git says
    assert read_loose(objects, "0" * 40, b"tree") is None  # missing
    empty = git(repo, "mktree", data=b"").decode().strip()
    assert read_loose(objects, empty, b"tree") == b""

    identity = ("-c", "user.name=Ada Tester", "-c", "user.email=ada@example.org")
    commit = git(repo, *identity, "commit-tree", tree, "-m", "Articles").decode().strip()
    git(repo, "update-ref", "refs/heads/main", commit)
    git(repo, "repack", "-a", "-d", "-q")
    git(repo, "prune-packed")
    assert read_loose(objects, tree, b"tree") is None  # packed: git reads it


def test_damaged_loose_object_is_left_to_git(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    sha = "ab" + "c" * 38
    (objects / "ab").mkdir(parents=True)
    (objects / "ab" / sha[2:]).write_bytes(b"not zlib at all")
    assert read_loose(objects, sha, b"tree") is None
    (objects / "ab" / sha[2:]).write_bytes(zlib.compress(b"tree 99\0short"))
    assert read_loose(objects, sha, b"tree") is None  # its size is not its header's
    (objects / "ab" / sha[2:]).write_bytes(zlib.compress(b"tree 5\0short") + b"trailing")
    assert read_loose(objects, sha, b"tree") is None
    assert read_loose(objects, "../../etc/passwd", b"tree") is None  # not a sha
