"""``ExpiringMap``: the one in-process cache shape the API keeps (verified keys, closed jobs' snapshots).

Bounded and time-limited: an entry is gone ``ttl_seconds`` after it was put, and when the map is full the
least recently used entry makes room. Nothing here is shared between processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringMap(Generic[K, V]):
    def __init__(self, ttl_seconds: float, max_entries: int) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if time.monotonic() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (value, time.monotonic() + self._ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def items(self) -> Iterator[tuple[K, V]]:
        """The entries, expired ones included (``get`` is what drops those)."""
        return ((key, value) for key, (value, _) in self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)
