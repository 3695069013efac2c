"""One inter-process write lock per repository, with a bounded wait.

``fcntl.flock`` on a file under ``CMS_INSTANCE``: every gunicorn worker (and every ``cms``
command) that writes to the same repository takes the same lock; the kernel releases it if the
holder dies, so a crash never leaves the repository locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cms import timings
from cms.errors import CMSError


class LockTimeout(CMSError):
    """Another write held the lock for longer than the wait allows; try again shortly."""

    status = 503

    def __init__(self, waited: float, retry_after: int = 1) -> None:
        super().__init__(
            f"the repository is busy with other writes (waited {waited:.1f} s); retry shortly",
            {"retry_after": retry_after},
        )
        self.retry_after = retry_after


class WriteLock:
    def __init__(
        self, folder: Path, repository: Path, timeout: float = 10.0, name: str = "write"
    ) -> None:
        """``name``: ``write`` for the repository's write lock, ``remote`` for the lock that
        keeps two fetches or pushes of the team's remote from updating the same refs."""
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha1(str(repository.resolve()).encode(), usedforsecurity=False).hexdigest()
        self.name = name
        self.path = folder / f"{name}-{key[:16]}.lock"
        self.timeout = timeout
        # flock is per open file description: threads of one process share one, so they queue
        # on this mutex first.
        self._threads = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[None]:
        start = time.monotonic()
        if not self._threads.acquire(timeout=self.timeout):
            raise LockTimeout(time.monotonic() - start)
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                delay = 0.001
                while True:
                    try:
                        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        waited = time.monotonic() - start
                        if waited >= self.timeout:
                            raise LockTimeout(waited) from None
                        time.sleep(min(delay, self.timeout - waited))
                        delay = min(delay * 2, 0.05)
                timings.record("lock", self.name, time.monotonic() - start)
                try:
                    yield
                finally:
                    fcntl.flock(descriptor, fcntl.LOCK_UN)
            finally:
                os.close(descriptor)
        finally:
            self._threads.release()
