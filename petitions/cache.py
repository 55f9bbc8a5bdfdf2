"""A small in-process cache with a time to live, for what every signer's request would recompute.

Each worker process keeps its own copy, so a value is at most `ttl` seconds stale wherever it is
served; with several workers and hosts there is no invalidation to coordinate. A ttl of 0 turns
caching off (the tests run that way, so that they see every change at once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

#: Entries kept at most; the least recently stored go first.
MAX_ENTRIES = 2048


class TTLCache:
    """Remember computed values for a few seconds."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        #: Seconds from any fixed start; monotonic, so that setting the wall clock expires nothing.
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, ttl: float, compute: Callable[[], Any]) -> Any:
        """Return the value stored under `key` if younger than `ttl`, else compute and store it."""
        if ttl <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] > now:
                return found[1]
        value = compute()
        self._store(key, now + ttl, value)
        return value

    def put(self, key: Hashable, ttl: float, value: Any) -> None:
        """Store `value` under `key` for `ttl` seconds from now, replacing what was there."""
        if ttl > 0:
            self._store(key, self.clock() + ttl, value)

    def _store(self, key: Hashable, expires: float, value: Any) -> None:
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


#: Public pages and figures, shared by the views of one process.
public = TTLCache()
