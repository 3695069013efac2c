"""The domain never imports Flask: `api → domain → storage`, one way only."""

from __future__ import annotations

import ast
from pathlib import Path

from cms.settings import PROJECT_ROOT

DOMAIN = ["cms/model", "cms/content", "cms/storage", "cms/errors.py", "cms/settings.py"]
FORBIDDEN = ("flask", "flask_smorest", "werkzeug", "cms.api", "marshmallow")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def domain_files() -> list[Path]:
    files: list[Path] = []
    for item in DOMAIN:
        path = PROJECT_ROOT / item
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def test_domain_packages_import_no_flask() -> None:
    files = domain_files()
    assert len(files) > 10
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN), (
                f"{path.relative_to(PROJECT_ROOT)} imports {name}"
            )


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from flask import g\nimport flask_smorest.etag\n")
    assert imported_modules(module) == {"flask", "flask_smorest.etag"}
