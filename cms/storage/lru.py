"""A small thread-safe least-recently-used cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache, bounded by a number of items and, when
    given ``weigh`` (an item's size in bytes), by ``max_bytes`` as well."""

    def __init__(
        self, size: int, max_bytes: int | None = None, weigh: Callable[[V], int] | None = None
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.bytes = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        weight = self.weigh(value) if self.weigh else 0
        if self.max_bytes is not None and weight > self.max_bytes // 4:
            return value  # too large to be worth keeping
        with self._lock:
            if key in self._items and self.weigh:
                self.bytes -= self.weigh(self._items[key])
            self._items[key] = value
            self._items.move_to_end(key)
            self.bytes += weight
            while len(self._items) > self.size or (
                self.max_bytes is not None and self.bytes > self.max_bytes
            ):
                _, dropped = self._items.popitem(last=False)
                if self.weigh:
                    self.bytes -= self.weigh(dropped)
        return value
