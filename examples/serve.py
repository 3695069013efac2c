"""`make example`: the CMS on the sample site (port 5000) and the example front end beside it
(port 8001), with CORS set for the front end's origin.

    .venv/bin/python examples/serve.py [--api-port 5000] [--port 8001]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=5000)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    origin = f"http://127.0.0.1:{args.port}"
    cms = subprocess.Popen(
        [sys.executable, "-m", "cms.cli", "serve", "--port", str(args.api_port)],
        env={**os.environ, "CMS_CORS_ORIGINS": origin},
        cwd=HERE.parent,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=HERE / "frontend")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"the front end: {origin}/?api=http://127.0.0.1:{args.api_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        cms.terminate()
        cms.wait()


if __name__ == "__main__":
    main()
