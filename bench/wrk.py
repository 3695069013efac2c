"""wrk (Debian's package, an HTTP load generator written in C) for the benchmarks: installed
when missing, and run for a number of seconds.

A load generator in Python shares the machine's two cores with the server it measures and
spends about as much time per request as a fast server does: with 8 threads of
``http.client``, neither this server nor ``decap-server`` got past about 700 requests a second
on this machine, whatever either did. wrk spends a small fraction of that.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# Each of wrk's threads asks for the requests of ``REQUESTS`` (a file, one line each: a path,
# or a JSON body posted to ``POST_TO``) in its own random order, with a query parameter that
# makes every URL distinct (no cache of built answers is ever hit).
SCRIPT = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local lines = {}
for line in io.lines(os.getenv("WRK_REQUESTS")) do lines[#lines + 1] = line end
local post_to = os.getenv("WRK_POST_TO") or ""
local n = 0
function init(args)
  math.randomseed(1 + (id or 0) * 7919)
end
function request()
  n = n + 1
  local line = lines[math.random(#lines)]
  if post_to ~= "" then
    return wrk.format("POST", post_to, {["Content-Type"] = "application/json"}, line)
  end
  local joint = string.find(line, "?", 1, true) and "&" or "?"
  return wrk.format("GET", line .. joint .. "___=" .. (id or 0) .. "-" .. n)
end
"""


def need(*tools: str) -> None:
    """Debian's packages of these tools, installed when missing (needs root)."""
    missing = [
        tool
        for tool in tools
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=environment)


def wrk(
    url: str,
    seconds: int,
    connections: int,
    requests: list[str] | None = None,
    post_to: str | None = None,
) -> float:
    """Requests per second over ``seconds``, with ``connections`` connections on 2 threads:
    of ``url`` itself, or of ``requests`` (paths under ``url``, or bodies posted to its path
    ``post_to``), picked at random. Any answer other than 2xx or 3xx is an error."""
    need("wrk")
    with tempfile.TemporaryDirectory(prefix="wrk-") as folder:
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
        environment = dict(os.environ)
        if requests is not None:
            script, listed = Path(folder) / "requests.lua", Path(folder) / "requests.txt"
            script.write_text(SCRIPT, encoding="utf-8")
            listed.write_text("".join(f"{line}\n" for line in requests), encoding="utf-8")
            command += ["-s", str(script)]
            environment["WRK_REQUESTS"] = str(listed)
            environment["WRK_POST_TO"] = post_to or ""
        done = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, env=environment
        )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed answers")
    assert match, done.stdout + done.stderr
    return float(match.group(1))
