"""What an operator sees: a request id, one JSON log line per request, and Prometheus metrics.

* **Request id**: the client's ``X-Request-Id`` when it is a short token of safe characters,
  else a new one; sent back in the answer and written in the log line, so that a report from
  a front end can be found in the logs.
* **Log line** (logger ``cms.requests``, one JSON object a line on stderr): time, method, path
  (no query string, no header: a token never reaches the log), status, duration, the commit
  the answer was read at, the request id and the client's address.
* **Metrics** at ``/metrics`` (prometheus_flask_exporter): request latency and counts by URL
  rule (``/api/v1/collections/<collection>/entries``, not each URL: the number of series stays
  bounded), and the domain's slow steps from ``cms.timings``: git processes by command, waits
  for the write lock, index queries; and the background's state: the lag of the sync with the
  team's remote and the webhook events waiting. Under ``cms serve`` every gunicorn worker writes to
  ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import MultiprocessInternalPrometheusMetrics

from cms import timings

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
LOGGER = "cms.requests"
# Buckets from 1 ms to 10 s: git processes and index queries are milliseconds, lock waits
# reach the 10 s timeout.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class StderrHandler(logging.StreamHandler):
    """Writes to the process's stderr as it is when a line is written (not when the handler
    was made), so that a replaced ``sys.stderr`` (a test capturing it) is followed."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def request_logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = StderrHandler()
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def init_request_log(app: Flask) -> None:
    logger = request_logger()
    enabled = bool(app.config.get("CMS_REQUEST_LOG", True))

    @app.before_request
    def start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        if enabled:
            started = g.get("request_started", time.perf_counter())
            fields = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "level": "info",
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "commit": g.get("content_commit"),
                "request_id": request_id,
                "remote": request.remote_addr,
            }
            logger.info("request", extra={"fields": fields})
        return response


def init_metrics(app: Flask) -> PrometheusMetrics:
    """``/metrics``; in several processes when ``PROMETHEUS_MULTIPROC_DIR`` is set."""
    # The app's own metrics; with several processes their values go to the shared files,
    # which /metrics reads.
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics: PrometheusMetrics = MultiprocessInternalPrometheusMetrics(
            app, group_by="url_rule", defaults_prefix="cms"
        )
    else:
        metrics = PrometheusMetrics(
            app, group_by="url_rule", defaults_prefix="cms", registry=registry
        )
    histograms = {
        "git": Histogram(
            "cms_git_seconds",
            "Duration of the git processes the server runs, by git command.",
            ["command"],
            buckets=BUCKETS,
            registry=registry,
        ),
        "lock": Histogram(
            "cms_write_lock_wait_seconds",
            "Time a write waited for the repository's write lock.",
            ["lock"],
            buckets=BUCKETS,
            registry=registry,
        ),
        "index": Histogram(
            "cms_index_query_seconds",
            "Duration of the index queries of one list or search.",
            ["query"],
            buckets=BUCKETS,
            registry=registry,
        ),
    }

    gauges = {
        "remote_sync_lag_seconds": Gauge(
            "cms_remote_sync_lag_seconds",
            "Seconds since the last successful sync with the team's remote (CMS_REMOTE).",
            registry=registry,
            multiprocess_mode="livemax",
        ),
        "webhook_queue_depth": Gauge(
            "cms_webhook_queue_depth",
            "Webhook events waiting to be delivered (retries included).",
            registry=registry,
            multiprocess_mode="livemax",
        ),
    }

    def observe(kind: str, name: str, seconds: float) -> None:
        if kind == "state":
            gauge = gauges.get(name)
            if gauge is not None:
                gauge.set(seconds)
            return
        histogram = histograms.get(kind)
        if histogram is not None:
            histogram.labels(name).observe(seconds)

    # One app serves a process; the newest one's histograms get the timings.
    for previous in _observers:
        timings.unsubscribe(previous)
    _observers[:] = [observe]
    timings.subscribe(observe)
    app.extensions["cms.metrics"] = metrics
    return metrics


_observers: list[timings.Subscriber] = []
