"""Serve real Decap sites unchanged and compare what the API lists with what Decap would list.

    python bench/sites.py PATH [PATH...] [--out table.md]

Each PATH is a git repository (a work tree or a bare mirror) of a public site with a Decap
``config.yml`` (``admin/config.yml``, ``static/admin/``, ``public/admin/``...). When the newest
commit has no config any more, the last commit that had one is used. Each site is cloned into
a temporary folder and served by ``create_app`` with its own config; nothing is written to it.

For every site the table gives: the generator (from its files), the files in the repository,
the collections, the files Decap would list (a folder collection's files with its extension,
to its nesting depth, names not starting with '.'; a file collection's files that exist), the
entries the API lists, the reads of each listed entry that were not 200, and the problems
``cms validate`` reports (errors and warnings). The sites themselves are never committed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cms import create_app  # noqa: E402
from cms.content.validation import validate  # noqa: E402

CONFIG_NAME = "/admin/config.yml"
GENERATORS = {
    "docusaurus": ("docusaurus.config.js", "docusaurus.config.ts"),
    "hugo": ("config.toml", "hugo.toml", "hugo.yaml", "config.yaml", "themes/"),
    "gatsby": ("gatsby-config.js", "gatsby-config.ts"),
    "eleventy": (".eleventy.js", "eleventy.config.js", ".eleventy.cjs"),
    "jekyll": ("_config.yml", "Gemfile"),
    "astro": ("astro.config.mjs", "astro.config.ts"),
    "next": ("next.config.js", "next.config.mjs"),
}
MAX_READS = 400  # entries read one by one per collection


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


@dataclass
class Row:
    site: str
    commit: str = ""
    generator: str = "?"
    files: int = 0
    collections: int = 0
    expected: int = 0
    listed: int = 0
    not_ok: int = 0
    errors: int = 0
    warnings: int = 0
    notes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        notes = "; ".join(self.notes)
        return (
            f"| {self.site} | {self.commit[:10]} | {self.generator} | {self.files} | "
            f"{self.collections} | {self.expected} | {self.listed} | {self.not_ok} | "
            f"{self.errors} / {self.warnings} | {notes} |"
        )


HEADER = (
    "| site | commit | generator | files | collections | Decap would list | API lists | "
    "non-200 reads | validate errors / warnings | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def config_path(repo: Path) -> tuple[str, str]:
    """(commit, config path): HEAD if it has a Decap config, else the last commit that had
    one. The config is the shortest tracked path ending in ``admin/config.yml``."""

    def found(commit: str) -> str | None:
        names = git(repo, "ls-tree", "-r", "--name-only", commit).splitlines()
        configs = [n for n in names if n == "admin/config.yml" or n.endswith(CONFIG_NAME)]
        return min(configs, key=len) if configs else None

    head = git(repo, "rev-parse", "HEAD").strip()
    place = found(head)
    if place:
        return head, place
    last = git(repo, "log", "-1", "--format=%H", "--", f"*{CONFIG_NAME}").strip()
    if last:
        for commit in (last, git(repo, "rev-parse", f"{last}^").strip()):
            place = found(commit)
            if place:
                return commit, place
    raise ValueError("no Decap config.yml in this repository's history")


def generator(files: list[str]) -> str:
    names = set(files)
    for name, markers in GENERATORS.items():
        for marker in markers:
            if marker in names or (
                marker.endswith("/") and any(f.startswith(marker) for f in files)
            ):
                return name
    return "?"


def expected_files(collection, files: list[str]) -> int:
    if collection.kind == "files":
        return sum(1 for item in collection.files.values() if item.path in set(files))
    prefix = f"{collection.folder}/" if collection.folder else ""
    count = 0
    for path in files:
        if not path.startswith(prefix) or not path.endswith(f".{collection.extension}"):
            continue
        parts = path[len(prefix) :].split("/")
        hidden = any(p.startswith(".") for p in parts[:-1]) or (
            parts[-1].startswith(".") and parts[-1] != f".{collection.extension}"
        )
        if len(parts) <= collection.depth and not hidden:
            count += 1
    return count


def survey(source: Path, work: Path) -> Row:
    name = source.parent.name if source.name in ("repo", ".git") else source.name
    name = source.parent.parent.name if source.name == ".git" else name
    row = Row(name.replace("+", "/").removesuffix(".git"))
    site = work / "site.git"
    # A bare clone: the server reads git objects only, and a snapshot may lack large files.
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(site)], check=True)
    commit, place = config_path(site)
    git(site, "branch", "-f", "cms-survey", commit)
    row.commit = commit
    files = [f for f in git(site, "ls-tree", "-r", "-z", "--name-only", commit).split("\0") if f]
    row.files = len(files)
    row.generator = generator(files)
    try:
        app = create_app(
            {
                "CMS_REPO": str(site),
                "CMS_INSTANCE": str(work / "instance"),
                "CMS_CONFIG": place,
                "CMS_BRANCH": "cms-survey",
                "TESTING": True,
            }
        )
    except Exception as exc:  # a config the server refuses: that is the finding
        row.notes.append(f"not served: {exc}")
        return row
    client = app.test_client()
    snapshot = app.extensions["cms"].snapshot()
    collections = snapshot.collections()
    row.collections = len(collections)
    for collection in collections:
        row.expected += expected_files(collection, files)
        slugs: list[str] = []
        page = 1
        while True:
            answer = client.get(
                f"/api/v1/collections/{collection.name}/entries?page_size=100&page={page}"
            )
            if answer.status_code != 200:
                row.notes.append(f"{collection.name}: list {answer.status_code}")
                break
            batch = answer.get_json()
            slugs += [entry["slug"] for entry in batch]
            meta = json.loads(answer.headers["X-Pagination"])
            if page >= meta["total_pages"]:
                break
            page += 1
        row.listed += len(slugs)
        for slug in slugs[:MAX_READS]:
            address = quote(slug) if slug else ".empty"
            read = client.get(f"/api/v1/collections/{collection.name}/entries/{address}")
            if read.status_code != 200:
                row.not_ok += 1
                row.notes.append(f"{collection.name}/{slug}: {read.status_code}")
    findings = validate(snapshot)
    row.findings = [f.line() for f in findings]
    row.errors = sum(1 for f in findings if f.severity == "error")
    row.warnings = len(findings) - row.errors
    app.extensions["cms.index"].close()
    app.extensions["cms"].store.close()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sites", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--findings", action="store_true", help="print cms validate's lines")
    args = parser.parse_args()
    rows = []
    for source in args.sites:
        with tempfile.TemporaryDirectory(prefix="cms-site-") as folder:
            row = survey(source.resolve(), Path(folder))
        rows.append(row)
        print(row.markdown(), flush=True)
        if args.findings:
            for line in row.findings:
                print(f"    {line}")
    table = HEADER + "\n" + "\n".join(row.markdown() for row in rows) + "\n"
    print("\n" + table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
