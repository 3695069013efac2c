"""The short schemathesis run of `make test` (`make fuzz` is the long one): every operation of
the live OpenAPI document against a real server, with an editor's and an admin's token; zero
failures of any check, and `git fsck --strict` clean after it."""

from __future__ import annotations

import subprocess
import sys

from cms.settings import PROJECT_ROOT


def test_schemathesis_finds_nothing() -> None:
    # One worker: with two, hypothesis's ast.parse in two threads at once trips CPython 3.11's
    # "AST constructor recursion depth mismatch" SystemError (CPython issue gh-106905).
    done = subprocess.run(
        [
            sys.executable,
            "bench/fuzz.py",
            "--seconds",
            "25",
            "--roles",
            "editor,admin",
            "--workers",
            "1",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    assert done.stdout.count("exit 0") == 2
