"""The short cache of public pages and figures."""

import time

from petitions.cache import TTLCache


def test_values_are_reused_until_they_expire():
    cache, calls = TTLCache(), []

    def compute():
        calls.append(1)
        return len(calls)

    assert cache.get("k", 0.2, compute) == 1
    assert cache.get("k", 0.2, compute) == 1
    time.sleep(0.25)
    assert cache.get("k", 0.2, compute) == 2


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
