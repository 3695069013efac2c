"""Schemathesis against a real server process: every operation of the live OpenAPI document,
examples, coverage, fuzzing and stateful phases, with an editor's and then an admin's token.

    python bench/fuzz.py --seconds 600          # make fuzz
    python bench/fuzz.py --seconds 30           # the short run in make test

Each run gets a fresh copy of the sample site. Exits 1 if schemathesis reports any failure
(a server error, an answer that breaks the document, a valid request refused where the
document does not say so...), and prints its summary either way.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import Server  # noqa: E402
from cms.auth import TokenStore  # noqa: E402
from cms.storage.seed import seed_repository  # noqa: E402

CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def run(role: str, seconds: int, seed: int | None, workers: int) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="cms-fuzz-") as folder:
        site, instance = Path(folder) / "site", Path(folder) / "instance"
        seed_repository(ROOT / "content", site)
        _, secret = TokenStore(instance).create(f"Fuzz {role}", role, f"{role}@fuzz.invalid")
        with Server(site, instance) as server:
            command = [
                str(SCHEMATHESIS),
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.base}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {secret}",
                "--checks",
                "all",
                "--max-time",
                str(seconds),
                "--workers",
                str(workers),
                "--request-timeout",
                "30",
                "--no-color",
                "--generation-database",
                "none",
            ]
            if seed is not None:
                command += ["--seed", str(seed)]
            # Run in the temporary folder: schemathesis keeps a cache of its own in the cwd.
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
        # Once the server has stopped (a request schemathesis gave up on may still have been
        # running): the repository as the run left it.
        fsck = subprocess.run(
            ["git", "fsck", "--strict", "--no-progress"],
            cwd=site,
            capture_output=True,
            text=True,
            check=False,
        )
        output = done.stdout + done.stderr
        errors = server_errors(server.output)
        if errors:
            output += f"\nThe server's own log, but for its request lines:\n{errors}\n"
        if fsck.returncode != 0:
            output += (
                f"\ngit fsck --strict failed after the run (exit {fsck.returncode}):\n"
                f"{fsck.stderr}{fsck.stdout}"
            )
            return 1, output
        return done.returncode, output


def server_errors(log: str) -> str:
    """What the server wrote besides its JSON request lines: the tracebacks of its 500s.
    Lines end at a newline only: a request line may hold U+2028 or U+0085, which
    ``splitlines`` would take for ends of lines."""
    return "\n".join(line for line in log.split("\n") if not line.startswith('{"time"'))


def summary(output: str) -> str:
    """The lines of schemathesis's summary: operations, phases, failures, test cases."""
    start = output.find("SUMMARY")
    return output[start:] if start >= 0 else output[-3000:]


def requests_made(output: str) -> int:
    match = re.search(r"(\d+) generated", output)
    return int(match.group(1)) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="time for each token's run")
    parser.add_argument("--roles", default="editor,admin")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    failed = False
    for role in args.roles.split(","):
        code, output = run(role, args.seconds, args.seed, args.workers)
        print(f"== {role}: exit {code}, {requests_made(output)} test cases")
        print(output if code else summary(output))
        failed = failed or code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
