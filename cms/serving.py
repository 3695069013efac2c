"""The gunicorn worker of ``cms serve`` (and of the Docker image): gunicorn's threaded worker,
with the errors gunicorn answers itself (a request line over ``limit_request_line``, a
malformed header or chunk...) in the API's one JSON error shape rather than an HTML page.

Use it with ``gunicorn --worker-class cms.serving.Worker 'cms:create_app()'``.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, writing ``{code, status, message}`` as JSON."""
    body = json.dumps(
        {"code": status_int, "status": reason, "message": mesg or reason}, ensure_ascii=False
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class Worker(ThreadWorker):
    def init_process(self) -> None:
        # gunicorn's worker calls util.write_error for the requests it refuses itself; in this
        # worker process, those answers take the API's error shape.
        util.write_error = write_json_error
        super().init_process()
