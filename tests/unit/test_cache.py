"""The short cache of public pages and figures."""

import time

from petitions.cache import TTLCache


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _counting():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return compute


def test_values_are_reused_until_they_expire():
    # Steps that binary floating point holds exactly: expiry falls on the very tick.
    clock, compute = Clock(), _counting()
    cache = TTLCache(clock=clock)
    assert cache.get("k", 0.5, compute) == 1
    clock.now += 0.375
    assert cache.get("k", 0.5, compute) == 1
    clock.now += 0.125
    assert cache.get("k", 0.5, compute) == 2
    clock.now += 0.375
    assert cache.get("k", 0.5, compute) == 2


def test_each_key_expires_on_its_own():
    clock = Clock()
    cache = TTLCache(clock=clock)
    cache.get("early", 10, lambda: "first")
    clock.now += 6
    cache.get("late", 10, lambda: "first")
    clock.now += 5
    assert cache.get("early", 10, lambda: "again") == "again"
    assert cache.get("late", 10, lambda: "again") == "first"


def test_the_cache_keeps_monotonic_time_by_default():
    assert TTLCache().clock is time.monotonic


def test_a_zero_ttl_never_caches():
    cache, calls = TTLCache(), []
    for _ in range(3):
        cache.get("k", 0, lambda: calls.append(1))
    assert len(calls) == 3


def test_the_oldest_entries_go_first_past_the_limit():
    cache = TTLCache(max_entries=2)
    for key in ("a", "b", "c"):
        cache.get(key, 60, lambda key=key: key)
    assert cache.get("a", 60, lambda: "recomputed") == "recomputed"
    assert cache.get("c", 60, lambda: "recomputed") == "c"
