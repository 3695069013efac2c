"""How long the domain's slow steps take, for whoever wants to know (the API's metrics).

The domain records (kind, name, seconds): a git process (``git``, its subcommand), a wait for
the write lock (``lock``, ``write``), an index query (``index``, ``page`` or ``search``); and
states measured in the background (``state``: ``remote_sync_lag_seconds``,
``webhook_queue_depth``), whose value is the last one recorded. It imports nothing; the API
subscribes a callback that feeds Prometheus. With no subscriber a record costs a function call.
"""

from __future__ import annotations

from collections.abc import Callable

Subscriber = Callable[[str, str, float], None]
_subscribers: list[Subscriber] = []


def subscribe(callback: Subscriber) -> None:
    if callback not in _subscribers:
        _subscribers.append(callback)


def unsubscribe(callback: Subscriber) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def record(kind: str, name: str, seconds: float) -> None:
    for callback in _subscribers:
        callback(kind, name, seconds)
