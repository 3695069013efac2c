"""Outgoing webhooks: events from the refs (API, by hand), signed deliveries checked with the
README's recipe, retries with one success per idempotency key, replay, the outbox surviving a
killed server."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.server import Server
from cms.auth import TokenStore
from cms.settings import PROJECT_ROOT
from cms.storage.outbox import Event, Hook
from cms.webhooks import RETRY_FOR, WebhookTask
from tests.conftest import bearer, make_app

PEOPLE = "/api/v1/collections/personnes/entries"
SECRET = "a-secret-of-the-builder-0123456789"


class Receiver:
    """A site builder on 127.0.0.1: answers each request with the next status of ``plan``
    (then 200), and keeps what it received."""

    def __init__(self, plan: list[int] | None = None) -> None:
        self.plan = list(plan or [])
        self.received: list[tuple[int, Message, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.plan.pop(0) if receiver.plan else 200
                receiver.received.append((status, self.headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[tuple[Message, dict]]:
        return [(h, json.loads(b)) for s, h, b in self.received if 200 <= s < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(plan: list[int] | None = None) -> Receiver:
        made.append(Receiver(plan))
        return made[-1]

    yield make
    for item in made:
        item.close()


def readme_verify():
    """The ``verify`` function of the README's recipe, as written there."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    return scope["verify"]


def run_until(app, done, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.extensions["cms.background"].tick()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("not done in time")


def test_failing_four_times_then_delivered_once_per_key_and_verified(
    sample_copy, tmp_path, receiver
) -> None:
    app = make_app(sample_copy.path, tmp_path / "i", CMS_WEBHOOK_BACKOFF="0.05")
    client = app.test_client()
    builder = receiver([500, 502, 503, 500] * 2)  # each of the two events fails 4 times
    made = client.post(
        "/api/v1/webhooks",
        json={"url": builder.url, "secret": SECRET},
        headers=bearer(app, "admin"),
    )
    assert made.status_code == 201
    hook = made.get_json()
    assert hook["secret"] == SECRET and hook["branches"] == ["published"]
    first = client.post(PEOPLE, json={"fields": {"title": "Grace Hopper", "role": "eig"}},
                        headers=bearer(app))  # fmt: skip
    sample_copy.commit(
        {"personnes/loup-theron.md": "---\ntitle: Loup\nrole: eig\n---\n"}, "By hand"
    )
    run_until(app, lambda: len(builder.delivered()) == 2)
    for _ in range(10):  # nothing more comes
        app.extensions["cms.background"].tick()
    delivered = builder.delivered()
    keys = [body["id"] for _, body in delivered]
    assert len(keys) == 2 == len(set(keys))
    assert len(builder.received) == 10
    verify = readme_verify()
    for _, headers, raw in builder.received:  # every attempt is signed
        assert verify(SECRET, headers, raw)
        assert not verify("another-secret-000000", headers, raw)
        assert not verify(SECRET, headers, raw.replace(b"personnes", b"pages"))
        assert headers["Idempotency-Key"] == json.loads(raw)["id"]
    by_hand, api = sorted((body for _, body in delivered), key=lambda b: b["message"] != "By hand")
    assert api["commit"] == first.headers["X-Content-Commit"]
    assert api["entries"] == [
        {"collection": "personnes", "slug": "grace-hopper", "change": "created",
         "path": "personnes/grace-hopper.md"}
    ]  # fmt: skip
    assert api["author"]["name"] == "Éditrice Test" and api["published"] is True
    assert by_hand["message"] == "By hand"
    assert by_hand["entries"][0]["change"] == "updated"
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=bearer(app, "admin"))
    attempts: dict[int, list] = {}
    for item in reversed(log.get_json()):
        attempts.setdefault(item["event"], []).append((item["attempt"], item["status"]))
    assert len(attempts) == 2
    for tries in attempts.values():  # each event: 4 failures, then its one success
        assert [n for n, _ in tries] == [1, 2, 3, 4, 5]
        assert [s == 200 for _, s in tries] == [False] * 4 + [True]
    assert {item["event_state"] for item in log.get_json()} == {"delivered"}


def test_drafts_replay_and_the_admin_api(sample_copy, tmp_path, receiver) -> None:
    app = make_app(sample_copy.path, tmp_path / "i", CMS_WEBHOOK_BACKOFF="0.05")
    client = app.test_client()
    admin = bearer(app, "admin")
    published, drafts = receiver(), receiver()
    for url, branches in ((published.url, ["published"]), (drafts.url, ["drafts"])):
        assert (
            client.post(
                "/api/v1/webhooks", json={"url": url, "branches": branches}, headers=admin
            ).status_code
            == 201
        )
    client.post("/api/v1/branches", json={"name": "cms/personnes/ada"}, headers=admin)
    client.post(PEOPLE + "?branch=cms/personnes/ada",
                json={"fields": {"title": "Ada", "role": "eig"}}, headers=admin)  # fmt: skip
    run_until(app, lambda: len(drafts.delivered()) == 1)
    assert published.received == []
    assert drafts.delivered()[0][1]["branch"] == "cms/personnes/ada"
    # Published: the published hook hears of the draft's commit now.
    client.post("/api/v1/branches/cms/personnes/ada/publish", json={}, headers=admin)
    run_until(app, lambda: len(published.delivered()) == 1)
    event = published.delivered()[0][1]
    assert event["branch"] == "main" and event["entries"][0]["slug"] == "ada"
    # Replay from the commit before: the same event, the same key.
    hooks = client.get("/api/v1/webhooks", headers=admin).get_json()
    assert all("secret" not in hook for hook in hooks)
    first = hooks[0]["id"]
    replayed = client.post(
        f"/api/v1/webhooks/{first}/replay", json={"from": "main~1"}, headers=admin
    )
    assert replayed.status_code == 202 and replayed.get_json() == {"queued": 1}
    run_until(app, lambda: len(published.delivered()) == 2)
    assert published.delivered()[1][1]["id"] == event["id"]
    # The API's checks.
    assert client.get("/api/v1/webhooks", headers=bearer(app, "editor")).status_code == 403
    for body in ({"url": "ftp://x"}, {"url": "http://x", "branches": ["all"]},
                 {"url": "http://x", "secret": "short"}):  # fmt: skip
        assert client.post("/api/v1/webhooks", json=body, headers=admin).status_code == 422
    assert client.post(f"/api/v1/webhooks/{first}/replay", json={"from": "nope"},
                       headers=admin).status_code == 422  # fmt: skip
    assert client.delete(f"/api/v1/webhooks/{first}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/webhooks/{first}", headers=admin).status_code == 404


def test_the_delay_doubles_with_jitter_and_gives_up_after_a_day(tmp_path) -> None:
    task = WebhookTask(None, None, backoff=10)  # type: ignore[arg-type]
    hook = Hook("wh_1", "http://x", SECRET, ("published",), 0, "a")
    now = time.time()
    delays = []
    for attempts in range(12):
        event = Event(1, hook, "c", "main", {}, now, attempts)
        delays.append(task._next(event) - time.time())
    assert 4.9 <= delays[0] <= 10.1 and 9.9 <= delays[1] <= 20.1
    assert max(delays) <= 3600.1 and delays[-1] >= 1799
    assert task._next(Event(1, hook, "c", "main", {}, now - RETRY_FOR, 30)) is None


def test_the_outbox_survives_a_killed_server(sample_copy, tmp_path, receiver) -> None:
    instance = tmp_path / "instance"
    _, admin = TokenStore(instance).create("Ada", "admin", "ada@example.org")
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    builder = receiver([500] * 1000)  # down for now
    server = Server(sample_copy.path, instance, workers=2, threads=2, CMS_WEBHOOK_BACKOFF="0.2")
    try:
        status, _, body = server.request(
            "POST", "/api/v1/webhooks", json.dumps({"url": builder.url}).encode(), headers
        )
        hook = json.loads(body)["id"]
        status, answer, _ = server.request(
            "POST", PEOPLE, json.dumps({"fields": {"title": "Grace", "role": "eig"}}).encode(),
            headers,
        )  # fmt: skip
        assert status == 201
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(builder.received) < 2:
            time.sleep(0.05)
        assert len(builder.received) >= 2  # tried, failed, waiting
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    finally:
        server.stop()
    builder.plan.clear()  # the builder is back
    tried = len(builder.received)
    again = Server(sample_copy.path, instance, workers=2, threads=2, CMS_WEBHOOK_BACKOFF="0.2")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not builder.delivered():
            time.sleep(0.1)
        time.sleep(1.5)  # time for a duplicate to show, if there were one
        log = json.loads(again.get(f"/api/v1/webhooks/{hook}/deliveries", headers)[2])
    finally:
        again.stop()
    delivered = builder.delivered()
    assert len(delivered) == 1
    assert delivered[0][1]["commit"] == answer["X-Content-Commit"]
    assert len(builder.received) > tried
    assert log[0]["status"] == 200 and log[0]["event_state"] == "delivered"


def test_replaying_a_hook_removed_meanwhile_is_a_404_and_queues_nothing(tmp_path) -> None:
    """A replay found the hook, then another request removed it before the events were
    queued: a 404 as if it had been removed first, not a 500 from the events' foreign key."""
    from cms.errors import NotFound
    from cms.storage.outbox import Outbox

    outbox = Outbox(tmp_path / "webhooks.sqlite")
    hook = outbox.add_hook("http://127.0.0.1:9/hook", ("published",), "secret", "test")
    assert outbox.remove_hook(hook.id)
    with pytest.raises(NotFound):
        outbox.replay(hook, [("a" * 40, "main", {"commit": "a" * 40})])
    assert outbox.depth() == 0
    outbox.close()


def test_commit_events_keep_messages_with_separator_characters(sample_copy) -> None:
    """A commit message may hold any character but NUL (the API refuses it, git too): the
    record and unit separators, new lines. Each commit still gets its event, its message
    whole."""
    from cms.content import ContentService
    from cms.content.events import commit_events
    from cms.storage import GitStore

    messages = ["Deux\x1eparts", "Champs\x1fmêlés\x1fici", "Lignes\n\nsuite\x1e\x1f fin"]
    shas = []
    for number, message in enumerate(messages):
        sample_copy.commit({f"notes/{number}.md": "texte\n"}, message)
        shas.append(sample_copy.repo.head.commit.hexsha)
    service = ContentService(GitStore(sample_copy.path), "admin/config.yml")
    events = commit_events(service, shas, "main")
    assert [(e["commit"], e["message"]) for e in events] == list(zip(shas, messages, strict=True))
    assert all(e["author"]["email"] and e["parents"] for e in events)
    service.store.close()


def test_a_hook_removed_while_its_events_are_made_or_sent_stops_nothing(tmp_path) -> None:
    """Another request removes a hook while the background makes its events or sends one:
    what is left of it is dropped, the rest goes on (the background task failed on the
    foreign key, every tick while the race lasted)."""
    from cms.storage.outbox import Outbox

    outbox = Outbox(tmp_path / "webhooks.sqlite")
    kept = outbox.add_hook("http://127.0.0.1:9/kept", ("published",), "secret", "test")
    gone = outbox.add_hook("http://127.0.0.1:9/gone", ("published",), "secret", "test")
    events = [(hook.id, "a" * 40, "main", {"commit": "a" * 40}) for hook in (kept, gone)]
    assert outbox.remove_hook(gone.id)
    assert outbox.advance({}, {"main": "a" * 40}, events) == 1
    assert outbox.heads() == {"main": "a" * 40}
    third = outbox.add_hook("http://127.0.0.1:9/third", ("published",), "secret", "test")
    outbox.replay(third, [("b" * 40, "main", {"commit": "b" * 40})])
    claimed = {event.hook.id: event for event in outbox.claim(lease=60)}
    assert set(claimed) == {kept.id, third.id}
    assert outbox.remove_hook(third.id)
    outbox.record(claimed[third.id], None, "refused", 0.1, time.time() + 60)
    outbox.record(claimed[kept.id], 200, None, 0.1, None)
    assert [d["status"] for d in outbox.deliveries(kept.id)] == [200]
    assert outbox.deliveries(third.id) == [] and outbox.depth() == 0
    outbox.close()
