"""The ceiling of the server's stack on this machine: gunicorn's threaded worker serving a
Flask view that answers a small JSON object without reading anything, and the same worker
serving a bare WSGI callable. No request to this project's server can be cheaper than the
first; ``bench/index_bench.py`` measures both beside it.

    gunicorn --worker-class gthread --workers 2 --threads 4 bench.ceiling:flask_app
    gunicorn --worker-class gthread --workers 2 --threads 4 bench.ceiling:bare_app
"""

from __future__ import annotations

from flask import Flask

flask_app = Flask(__name__)


@flask_app.get("/api/v1/collections/<collection>/entries/<slug>")
def entry(collection: str, slug: str) -> dict[str, str]:
    return {"collection": collection, "slug": slug}


def bare_app(environ: dict, start_response) -> list[bytes]:
    body = b'{"slug":"-"}'
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
