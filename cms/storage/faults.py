"""Named points in the write path where tests inject faults: a failure, or a pause that a crash
test uses to kill the process at exactly that step.

In the server these cost one dictionary look-up. A test in the same process registers a
function with ``at(name, action)``; a test that drives a server process sets
``CMS_TEST_PAUSE=<point>:<file>`` in its environment, and the server, on reaching that point,
creates the file and sleeps, so that the test can kill it there. Nothing here reads the
content repository: a repository's hooks are never run (``command``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

POINTS = ("before-ref", "after-ref", "work-tree", "before-done")
_ACTIONS: dict[str, Callable[[], None]] = {}


def at(point: str, action: Callable[[], None] | None) -> None:
    """Run ``action`` whenever the write path reaches ``point`` (None: stop)."""
    if point not in POINTS:
        raise ValueError(f"no fault point {point!r}")
    if action is None:
        _ACTIONS.pop(point, None)
    else:
        _ACTIONS[point] = action


def reached(point: str) -> None:
    action = _ACTIONS.get(point)
    if action is not None:
        action()
    pause = os.environ.get("CMS_TEST_PAUSE")
    if pause:
        name, _, marker = pause.partition(":")
        if name == point and marker:
            Path(marker).write_text(str(os.getpid()), encoding="utf-8")
            time.sleep(3600)
