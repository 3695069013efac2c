"""Running git: one place that sets the environment of every git process the server starts.

The server never executes code from the content repository. Hooks (``.git/hooks`` or
``core.hooksPath``: ``reference-transaction``, ``post-index-change``...) and ``core.fsmonitor``
would run programs named by the repository, so every git process gets them switched off through
``GIT_CONFIG_COUNT`` (which outranks every configuration file). No process waits for a
password, opens a pager or reads the terminal.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from cms import timings

# Configuration forced on every git process the server runs (git 2.31+ reads these variables).
FORCED_CONFIG = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
)


def environment(
    extra: Mapping[str, str] | None = None, config: Sequence[tuple[str, str]] = ()
) -> dict[str, str]:
    """The environment of a git process: the server's, with hooks and prompts switched off.
    ``config`` adds settings the same way: a remote's URL passed like this is seen by no other
    user of the machine, unlike a command line."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_CONFIG_") or key in ("GIT_CONFIG_NOSYSTEM",)
    }
    env.update(extra or {})
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_PAGER"] = "cat"
    settings = (*FORCED_CONFIG, *config)
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for number, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


def forced_variables() -> dict[str, str]:
    """Only the variables that ``environment`` adds (for GitPython's ``update_environment``)."""
    full = environment()
    return {
        key: full[key]
        for key in full
        if key.startswith("GIT_CONFIG_") or key in ("GIT_TERMINAL_PROMPT", "GIT_PAGER")
    }


def run(
    root: Path,
    args: Sequence[str],
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    config: Sequence[tuple[str, str]] = (),
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """``git <args>`` in ``root``, its output captured; never raises for git's exit code.
    Past ``timeout`` seconds the process is killed (``subprocess.TimeoutExpired``)."""
    started = time.perf_counter()
    try:
        return subprocess.run(
            ["git", *args],
            cwd=root,
            input=stdin,
            capture_output=True,
            env=environment(env, config),
            check=False,
            timeout=timeout,
        )
    finally:
        timings.record("git", _subcommand(args), time.perf_counter() - started)


def _subcommand(args: Sequence[str]) -> str:
    """The git command of ``args`` (after ``-c`` options), for the metrics' label."""
    position = 0
    while position < len(args) and args[position].startswith("-"):
        position += 2 if args[position] == "-c" else 1
    return args[position] if position < len(args) else "git"


def popen(root: Path, args: Sequence[str], background: bool = False, **options) -> subprocess.Popen:
    """A long-running ``git <args>`` in ``root`` (cat-file batches, log walks); a
    ``background`` one at the lowest CPU priority: it takes only what other work leaves."""
    process = subprocess.Popen(["git", *args], cwd=root, env=environment(), **options)
    if background:
        with suppress(OSError):  # it ended already
            os.setpriority(os.PRIO_PROCESS, process.pid, 19)
    return process


def stderr_text(result: subprocess.CompletedProcess) -> str:
    return (result.stderr or b"").decode("utf-8", "replace").strip()
