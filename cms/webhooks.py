"""Outgoing webhooks: tell a site builder (Netlify, a CI job, a front end's revalidation URL)
what each commit changed.

The background thread of every worker (``cms.background``) ticks ``WebhookTask``:

1. **Watch.** The branch heads are compared with the ones events were last made for (kept in
   the outbox); each commit that reached a branch becomes an event for every hook that wants
   that branch (``published``, ``drafts``), in the same SQLite transaction that records the new
   heads. A commit made by hand or fetched from the team's remote is seen like any other.
2. **Deliver.** Due events are leased and POSTed as JSON, signed: ``X-CMS-Timestamp`` (Unix
   seconds) and ``X-CMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the
   hook's secret (the README shows how to check it). ``Idempotency-Key`` is the hook, the
   commit and the branch: the same on every retry. A 2xx answer delivers it; anything else
   (an error status, a redirect, no answer in 10 s) is retried after an exponential delay with
   jitter (``CMS_WEBHOOK_BACKOFF`` seconds first, doubling, at most an hour apart) for 24
   hours, then given up. Every attempt is in the hook's delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import time
from typing import Any
from urllib.parse import urlsplit

from cms import timings
from cms.content.events import commit_events, commits_between
from cms.content.service import ContentService
from cms.storage.outbox import Event, Hook, Outbox

log = logging.getLogger(__name__)

TIMEOUT = 10.0
RETRY_FOR = 24 * 3600.0
MAX_DELAY = 3600.0
LEASE = TIMEOUT + 20


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``; the answer's status. A redirect is not followed: it is an
    answer that is not a 2xx, so the event is tried again later, never sent elsewhere."""
    parts = urlsplit(url)
    kind = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}.get(
        parts.scheme
    )
    if kind is None or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    connection = kind(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body, headers)
        answer = connection.getresponse()
        answer.read(64 << 10)
        return answer.status
    finally:
        connection.close()


def wants(hook: Hook, branch: str, published: str) -> bool:
    kind = "published" if branch == published else "drafts"
    return kind in hook.branches


class WebhookTask:
    def __init__(self, service: ContentService, outbox: Outbox, backoff: float = 10.0) -> None:
        self.service = service
        self.outbox = outbox
        self.backoff = backoff

    def tick(self) -> None:
        self.watch()
        self.deliver()
        timings.record("state", "webhook_queue_depth", self.outbox.depth())

    # -- 1. events from the refs ----------------------------------------------------------------

    def watch(self) -> int:
        """Queue the events of the commits that reached a branch since the last look."""
        store = self.service.store
        heads = store.branch_heads()
        seen = self.outbox.heads()
        moved: dict[str, str | None] = {
            branch: commit for branch, commit in heads.items() if seen.get(branch) != commit
        }
        moved.update({branch: None for branch in seen if branch not in heads})
        if not moved:
            return 0
        hooks = self.outbox.hooks()
        events: list[tuple[str, str, str, dict[str, Any]]] = []
        if seen and hooks:  # the first look only records where the branches are
            for branch, commit in moved.items():
                takers = [h for h in hooks if wants(h, branch, store.branch)]
                if commit is None or not takers:
                    continue
                commits = commits_between(self.service, seen.get(branch), commit, branch)
                for payload in commit_events(self.service, commits, branch):
                    events += [(h.id, payload["commit"], branch, payload) for h in takers]
        return self.outbox.advance(seen, moved, events)

    def replay(self, hook: Hook, since: str) -> int:
        """Queue again the events of the commits of the branches ``hook`` wants after
        ``since`` (a commit), up to their heads."""
        store = self.service.store
        queued: list[tuple[str, str, dict[str, Any]]] = []
        for branch, head in store.branch_heads().items():
            if not wants(hook, branch, store.branch) or not store.is_ancestor(since, head):
                continue
            commits = commits_between(self.service, since, head, branch)
            queued += [
                (p["commit"], branch, p) for p in commit_events(self.service, commits, branch)
            ]
        return self.outbox.replay(hook, queued)

    # -- 2. delivery ----------------------------------------------------------------------------

    def deliver(self) -> int:
        sent = 0
        for event in self.outbox.claim(LEASE):
            self.send(event)
            sent += 1
        return sent

    def send(self, event: Event) -> None:
        body = json.dumps(
            {"id": event.key, "hook": event.hook.id, **event.payload}, ensure_ascii=False
        ).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cms-webhooks",
            "X-CMS-Event": "commit",
            "X-CMS-Hook": event.hook.id,
            "X-CMS-Delivery": str(event.id),
            "Idempotency-Key": event.key,
            "X-CMS-Timestamp": timestamp,
            "X-CMS-Signature": signature(event.hook.secret, timestamp, body),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = post(event.hook.url, body, headers)
        except (OSError, ValueError, http.client.HTTPException) as failed:
            error = str(failed)[:300] or type(failed).__name__  # refused, timed out, bad URL
        seconds = time.monotonic() - started
        delivered = status is not None and 200 <= status < 300
        if not delivered and error is None:
            error = f"HTTP {status}"
        self.outbox.record(event, status, error, seconds, None if delivered else self._next(event))
        if not delivered:
            log.warning("webhook %s: %s not delivered: %s", event.hook.id, event.key, error)

    def _next(self, event: Event) -> float | None:
        """When to try again: an exponential delay, between half and all of it at random (two
        events failing together do not come back together); None after 24 hours."""
        now = time.time()
        if now - event.created_at >= RETRY_FOR:
            return None
        ceiling = min(MAX_DELAY, self.backoff * 2**event.attempts)
        return now + random.uniform(ceiling / 2, ceiling)
