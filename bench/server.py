"""A real server process for the benchmarks: `cms serve` (gunicorn) on a free local port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(
        self, repo: Path, instance: Path, workers: int = 2, threads: int = 4, **env: str
    ) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        environment = {
            **os.environ,
            "CMS_REPO": str(repo),
            "CMS_INSTANCE": str(instance),
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cms.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            env=environment,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server stopped at start")
            try:
                urllib.request.urlopen(f"http://{self.host}:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start in 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
