"""A real server process, for the tests and the benchmarks: `cms serve` (gunicorn) on a free
local port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`cms serve` on a free port of 127.0.0.1, started and checked, stopped on exit."""

    def __init__(
        self, repo: Path, instance: Path, workers: int = 2, threads: int = 4, **env: str
    ) -> None:
        self.instance = instance
        self.host = "127.0.0.1"
        self.port = free_port()
        self.base = f"http://{self.host}:{self.port}"
        # The server's log goes to a file (a pipe nobody reads could fill up and stall it).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.output = ""
        env = {**os.environ, "CMS_REPO": str(repo), "CMS_INSTANCE": str(instance), **env}
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
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,  # its own process group: a crash test kills it whole
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                output = self.log.read().decode("utf-8", "replace")
                self.log.close()
                raise RuntimeError(f"the server stopped at start:\n{output}")
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start in 60 s")

    def get(self, path: str, headers: dict[str, str] | None = None):
        return self.request("GET", path, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ):
        request = urllib.request.Request(
            self.base + path, data=body, headers=headers or {}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self.log.closed:
            self.log.seek(0)
            self.output = self.log.read().decode("utf-8", "replace")  # the server's stderr
            self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


NODE = ROOT / "tests" / "node"


class DecapServer:
    """The reference ``decap-server`` (npm, installed from tests/node's lock file when missing)
    in ``mode`` "fs" or "git" on ``repo``, on a free port of 127.0.0.1; stopped by stop()."""

    def __init__(self, repo: Path, mode: str) -> None:
        script = NODE / "node_modules" / "decap-server" / "dist" / "index.js"
        if not script.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE, check=True
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        env = {
            **os.environ,
            "MODE": mode,
            "GIT_REPO_DIRECTORY": str(repo),
            "PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": "error",
        }
        self.process = subprocess.Popen(["node", str(script)], env=env, cwd=NODE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Ceiling:
    """gunicorn (2 workers x 4 threads, the threaded worker, as ``cms serve``) serving one of
    ``bench/ceiling.py``'s apps on a free port of 127.0.0.1."""

    def __init__(self, app: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--worker-class",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                f"bench.ceiling:{app}",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(
                    f"{self.base}/api/v1/collections/a/entries/b", timeout=1
                ).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bench.ceiling:{app} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def __enter__(self) -> Ceiling:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
