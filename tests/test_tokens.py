"""Tokens changed by many processes at once: nothing lost, a revoke effective everywhere."""

from __future__ import annotations

import threading
from pathlib import Path

from cms.auth import TokenStore


def in_parallel(*actions) -> list:
    results: list = [None] * len(actions)
    start = threading.Barrier(len(actions))

    def run(number: int) -> None:
        start.wait()
        results[number] = actions[number]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_creates_are_all_stored(tmp_path: Path) -> None:
    # One store per "process": each has its own lock file descriptor, as workers do.
    made = in_parallel(
        *(lambda n=n: TokenStore(tmp_path).create(f"t{n}", "editor") for n in range(20))
    )
    listed = TokenStore(tmp_path).list()
    assert len(listed) == 20
    checker = TokenStore(tmp_path)
    for token, secret in made:
        assert checker.check(secret) == token


def test_a_revoke_racing_a_create_takes_effect_for_every_worker(tmp_path: Path) -> None:
    worker = TokenStore(tmp_path)  # a worker that has read the file before
    for trial in range(10):
        admin, secret = TokenStore(tmp_path).create(f"admin{trial}", "admin")
        assert worker.check(secret) == admin
        _, (other, other_secret) = in_parallel(
            lambda admin=admin: TokenStore(tmp_path).revoke(admin.id),
            lambda trial=trial: TokenStore(tmp_path).create(f"other{trial}", "editor"),
        )
        assert worker.check(secret) is None
        assert worker.check(other_secret) == other
