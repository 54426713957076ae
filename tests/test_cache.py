import threading
import time

import pytest

from cnnzoo.cache import KeyedCache


def test_values_are_made_once_and_the_oldest_goes_first():
    cache = KeyedCache(max_entries=2)
    made = []

    def maker(key):
        return lambda: made.append(key) or key.upper()

    assert cache.get("a", maker("a")) == "A"
    assert cache.get("a", maker("a")) == "A"
    cache.get("b", maker("b"))
    cache.get("a", maker("a"))  # a is now the most recent
    cache.get("c", maker("c"))  # b goes
    assert made == ["a", "b", "c"]
    assert "a" in cache and "c" in cache and "b" not in cache and len(cache) == 2


def test_a_byte_budget_keeps_at_least_the_newest():
    cache = KeyedCache(max_entries=10, max_bytes=100, size=len)
    cache.get(1, lambda: "x" * 60)
    cache.get(2, lambda: "y" * 60)
    assert 1 not in cache and 2 in cache
    cache.get(3, lambda: "z" * 500)  # bigger than the budget on its own: still kept
    assert len(cache) == 1 and 3 in cache
    with pytest.raises(ValueError, match="size="):
        KeyedCache(max_bytes=10)


def test_callers_of_one_key_wait_for_a_single_make_and_other_keys_do_not_wait():
    cache = KeyedCache()
    calls, slow_started = [], threading.Event()

    def slow():
        calls.append("slow")
        slow_started.set()
        time.sleep(0.3)
        return "slow"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    slow_started.wait(5)
    started = time.perf_counter()
    assert cache.get("other", lambda: "fast") == "fast"
    assert time.perf_counter() - started < 0.2  # not stuck behind the slow key
    for t in threads:
        t.join()
    assert calls == ["slow"] and results == ["slow"] * 8


def test_a_failed_make_caches_nothing():
    cache = KeyedCache()
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert "k" not in cache
    assert cache.get("k", lambda: 5) == 5
