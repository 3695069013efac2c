"""Every curl session of the README, run as written (in bash, in order) against a real server
on a copy of the sample site: every request answers below 400, with a non-empty answer."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from bench.server import Server
from cms.settings import PROJECT_ROOT
from tests.test_decap_browser import png

BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sessions() -> list[str]:
    """The README's shell blocks that talk to the server (those with curl), in order."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return [block for block in BLOCK.findall(text) if "curl " in block]


def test_the_readme_has_its_sessions() -> None:
    found = sessions()
    assert len(found) >= 6
    assert all("localhost:5000" in block for block in found)


def test_every_readme_command_works(sample_copy, tmp_path: Path) -> None:
    server = Server(sample_copy.path, tmp_path / "instance", CMS_REQUEST_LOG="false")
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    # `npx openapi-typescript` finds the tests' copy (installed from tests/node's lock file).
    (work / "node_modules").symlink_to(PROJECT_ROOT / "tests" / "node" / "node_modules")
    (work / "photo.png").write_bytes(png(32, 20))
    # Every curl of the README fails on an HTTP error (and says so), and logs its status.
    (work / ".curlrc").write_text(
        'fail-with-body\nwrite-out = "%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n"\n',
        encoding="utf-8",
    )
    script = "\n".join(sessions())
    script = script.replace("localhost:5000", f"127.0.0.1:{server.port}")
    script = script.replace("<sha>", sample_copy.head)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CMS_")},
        "CMS_INSTANCE": str(tmp_path / "instance"),
        "CMS_REPO": str(sample_copy.path),
        "CURL_HOME": str(work),
    }
    try:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=work,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    statuses = re.findall(r"^HTTP (\d{3}) (\w+) (\S+)$", done.stderr, re.MULTILINE)
    assert len(statuses) >= 20, done.stderr
    assert all(int(code) < 400 for code, _, _ in statuses), statuses
    methods = {method for _, method, _ in statuses}
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    # What the README says the answers hold.
    assert '"fast_forward":true' in done.stdout.replace(" ", "")
    assert "Le programme 2026" in done.stdout and "Une 8ème promotion" in done.stdout
    assert "cms_http_request_duration_seconds_count" in done.stdout
