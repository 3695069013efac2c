"""Crash test: SIGKILL of the whole server (gunicorn and its workers) during writes, then a
restart, and nothing acknowledged is lost.

    python bench/crash.py --kills 40 --writers 4     # make crash
    python bench/crash.py --kills 4                  # the short run in make test

Two parts, on a fresh copy of the sample site:

1. At each step of a write (the test-only pause points of ``cms.storage.faults``), a server that
   pauses there is killed, then started again.
2. Writers PATCH random people's titles without pause while the server is killed at random
   moments and started again, ``--kills`` times.

Afterwards: every acknowledged write is in the published branch's history with its value,
``git fsck --strict`` and ``git status`` are clean, every entry can be written again, and the
API's list and search of the people equal the files in git. Prints the figures; exits 1 on any
loss or inconsistency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import Server  # noqa: E402
from cms.auth import TokenStore  # noqa: E402
from cms.content.document import parse  # noqa: E402
from cms.storage.faults import POINTS  # noqa: E402
from cms.storage.seed import seed_repository  # noqa: E402

PEOPLE = "/api/v1/collections/personnes/entries"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


class Run:
    def __init__(self, folder: Path) -> None:
        self.site = folder / "site"
        self.instance = folder / "instance"
        seed_repository(ROOT / "content", self.site)
        _, secret = TokenStore(self.instance).create("Crash", "editor", "crash@example.org")
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self.acknowledged: list[tuple[str, str, str]] = []  # (commit, slug, title)
        self.lock = threading.Lock()
        self.kills = 0
        self.interrupted = 0
        self.attempts = 0

    def start(self, **env: str) -> Server:
        return Server(self.site, self.instance, **env)

    def kill(self, server: Server) -> None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        server.log.close()
        self.kills += 1
        # A journal left behind: the kill caught a write between its ref update and its end.
        self.interrupted += len(list((self.instance / "locks").glob("*.journal")))

    def slugs(self, server: Server) -> list[str]:
        status, _, body = server.get(PEOPLE + "?page_size=100&fields=title")
        assert status == 200, body
        return [entry["slug"] for entry in json.loads(body)]

    def patch(self, server: Server, slug: str, title: str) -> bool:
        """One edit; True when the server acknowledged it (and it is recorded)."""
        url = f"{PEOPLE}/{quote(slug)}"
        try:
            status, headers, _ = server.get(url)
            if status != 200:
                return False
            self.attempts += 1
            status, headers, _ = server.request(
                "PATCH",
                url,
                json.dumps({"fields": {"title": title}}).encode(),
                {**self.headers, "If-Match": headers["ETag"]},
            )
        except (OSError, http.client.HTTPException):
            return False  # killed meanwhile: not acknowledged
        if status == 200:
            with self.lock:
                self.acknowledged.append((headers["X-Content-Commit"], slug, title))
            return True
        return False

    # -- part 1: a kill at each step --------------------------------------------------------

    def each_step(self) -> None:
        for point in POINTS:
            marker = self.instance.parent / f"paused-{point}"
            server = self.start(CMS_TEST_PAUSE=f"{point}:{marker}")
            slug = self.slugs(server)[0]
            writer = threading.Thread(
                target=self.patch, args=(server, slug, f"Pause à {point}"), daemon=True
            )
            writer.start()
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            if not marker.exists():
                raise AssertionError(f"the write never reached {point}")
            self.kill(server)
            writer.join(15)
            server = self.start()
            self.check(server, f"after a kill at {point}")
            server.stop()

    # -- part 2: kills at random moments ----------------------------------------------------

    def random_kills(self, kills: int, writers: int, seed: int) -> None:
        rng = random.Random(seed)
        server = self.start()
        slugs = self.slugs(server)
        for round_ in range(kills):
            stop = threading.Event()

            def write(number: int, at: int, server: Server, stop: threading.Event) -> None:
                local = random.Random(seed * 1000 + at * 10 + number)
                count = 0
                while not stop.is_set():
                    count += 1
                    title = f"Titre {at}-{number}-{count} “é”"
                    self.patch(server, local.choice(slugs), title)

            threads = [
                threading.Thread(target=write, args=(n, round_, server, stop), daemon=True)
                for n in range(writers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.2, 1.5))
            self.kill(server)
            stop.set()
            for thread in threads:
                thread.join(15)
            server = self.start()
            self.check(server, f"after random kill {round_ + 1}")
        server.stop()

    # -- the checks -------------------------------------------------------------------------

    def check(self, server: Server, when: str) -> None:
        fsck = subprocess.run(
            ["git", "fsck", "--strict", "--no-progress"],
            cwd=self.site,
            capture_output=True,
            text=True,
            check=False,
        )
        assert fsck.returncode == 0, f"{when}: git fsck --strict: {fsck.stderr}"
        status = git(self.site, "status", "--porcelain")
        assert status == "", f"{when}: git status: {status}"
        history = set(git(self.site, "rev-list", "HEAD").split())
        for commit, slug, title in self.acknowledged:
            assert commit in history, f"{when}: acknowledged {commit} lost"
            text = git(self.site, "show", f"{commit}:personnes/{slug}.md")
            held = parse(text.encode("utf-8")).data.get("title")
            assert held == title, f"{when}: {commit} holds {held!r}, not {title!r}"
        # The API's list equals the files in git, and every entry can be written again.
        listed = self.slugs(server)
        files = sorted(
            Path(p).stem
            for p in git(self.site, "ls-files", "-z", "personnes").split("\0")
            if p.endswith(".md")
        )
        assert sorted(listed) == files, f"{when}: list {listed} != git {files}"
        for slug in listed:
            assert self.patch(server, slug, f"Réécrit {self.kills}"), f"{when}: {slug} unwritable"
        status, _, body = server.get(f"/api/v1/search?q={quote('Réécrit')}&page_size=100")
        assert status == 200 and len(json.loads(body)) == len(listed), f"{when}: search"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40, help="random kills in part 2")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cms-crash-") as folder:
        run = Run(Path(folder))
        run.each_step()
        run.random_kills(args.kills, args.writers, args.seed)
        history = set(git(run.site, "rev-list", "HEAD").split())
        lost = [commit for commit, _, _ in run.acknowledged if commit not in history]
    print(
        json.dumps(
            {
                "kills": run.kills,
                "kills_inside_a_write": run.interrupted,
                "writes_attempted": run.attempts,
                "writes_acknowledged": len(run.acknowledged),
                "acknowledged_lost": len(lost),
                "commits": len(history),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
