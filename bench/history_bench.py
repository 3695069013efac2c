"""The last change of entries looked up on demand (at another commit than the index's, or after
a reset), with and without the commit-graph of changed paths the server keeps:

    .venv/bin/python bench/history_bench.py --repo bench/out/site-100000-2000 --files 20

The files are among those no commit changed after the first one (the costliest: git walks the
whole history for them), either spread over the folder, as the entries of a page sorted by date
are, or next to each other by name. The repository's commit-graph is removed before and after
the run (the server writes it again within its first minute).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from cms.storage import GitStore


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def timed(repo: Path, head: str, files: list[str]) -> tuple[float, dict]:
    store = GitStore(repo)  # a new store: nothing cached
    try:
        started = time.perf_counter()
        found = store.last_changes(head, files)
        return time.perf_counter() - started, found
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--folder", default="articles")
    args = parser.parse_args()
    repo = args.repo.resolve()
    head = git(repo, "rev-parse", "HEAD").strip()
    first = git(repo, "rev-list", "--max-parents=0", head).split()[0]
    later = set(git(repo, "log", "--format=", "--name-only", f"{first}..{head}").split())
    unchanged = [
        path
        for path in git(repo, "ls-tree", "--name-only", first, f"{args.folder}/").split()
        if path not in later
    ]
    step = max(1, len(unchanged) // args.files)
    sets = {
        "spread over the folder": unchanged[::step][: args.files],
        "next to each other": unchanged[: args.files],
    }
    graphs = repo / ".git" / "objects" / "info" / "commit-graphs"
    shutil.rmtree(graphs, ignore_errors=True)
    (repo / ".git" / "objects" / "info" / "commit-graph").unlink(missing_ok=True)
    commits = git(repo, "rev-list", "--count", head).strip()
    print(f"{repo}: {commits} commits, files unchanged since the first commit")
    rows = []
    try:
        without = {name: timed(repo, head, files) for name, files in sets.items()}
        one = timed(repo, head, sets["spread over the folder"][:1])
        store = GitStore(repo)
        started = time.perf_counter()
        assert store.write_commit_graph(), "git commit-graph write failed"
        written = time.perf_counter() - started
        store.close()
        rows.append(("1 file", one[0], *_check(timed(repo, head, [*one[1]]), one[1], first)))
        for name, files in sets.items():
            seconds, found = without[name]
            again = timed(repo, head, files)
            rows.append((f"{len(files)} files, {name}", seconds, *_check(again, found, first)))
    finally:
        shutil.rmtree(graphs, ignore_errors=True)
    print("| last change of | without the commit-graph | with it |")
    print("|---|---|---|")
    for name, before, after in rows:
        print(f"| {name} | {before:.2f} s | {after:.2f} s |")
    print(f"commit-graph written (with changed paths) in {written:.1f} s")


def _check(measured: tuple[float, dict], expected: dict, first: str) -> tuple[float]:
    """The time of a lookup with the graph, once its answers are the same as without it."""
    seconds, found = measured
    assert found == expected, "different answers with the commit-graph"
    assert all(change.commit == first for change in found.values())
    return (seconds,)


if __name__ == "__main__":
    main()
