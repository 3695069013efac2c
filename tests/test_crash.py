"""The short crash run of `make test` (`make crash` is the long one): a real server SIGKILLed at
each step of a write and at random moments during a stream of writes, then restarted; every
acknowledged write is in the history, git is clean, every entry can be written again, and the
list and search equal git (the checks are in bench/crash.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from cms.settings import PROJECT_ROOT


def test_killed_servers_lose_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "bench/crash.py", "--kills", "4", "--writers", "3"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-10_000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["kills"] == 8 and figures["acknowledged_lost"] == 0
    assert figures["writes_acknowledged"] > 0
