"""One bounded cache for everything loaded or computed once and shared: datasets, models,
scores. Thirty students asking for the same thing at once wait for a single computation;
a slow computation of another key blocks nobody.

    models = KeyedCache(max_entries=8, max_bytes=800_000_000, size=lambda m: m.nbytes)
    model = models.get(("shipped", path, mtime), lambda: load(path))
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class KeyedCache(Generic[V]):
    """Least-recently-used values by key, each made at most once at a time.

    get(key, make): the cached value, else make() — while it runs, other callers of the same
    key wait for its result; callers of other keys do not. Entries beyond `max_entries`, or
    beyond `max_bytes` as measured by `size(value)`, are dropped oldest first (the newest
    always stays, however big). A make() that raises caches nothing.
    """

    def __init__(self, max_entries: int = 8, max_bytes: int | None = None,
                 size: Callable[[V], int] | None = None):
        if max_bytes is not None and size is None:
            raise ValueError("max_bytes needs size=, a function giving a value's size in bytes")
        self.max_entries, self.max_bytes, self.size = max_entries, max_bytes, size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}  # one lock per key being made

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._values:  # made by the caller we waited for
                    self._values.move_to_end(key)
                    return self._values[key]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:  # stored and the key lock dropped at once: nobody makes it twice
                self._values[key] = value
                self._making.pop(key, None)
                self._trim()
            return value

    def _trim(self) -> None:
        while len(self._values) > 1 and (
            len(self._values) > self.max_entries
            or (self.max_bytes is not None and sum(map(self.size, self._values.values())) > self.max_bytes)
        ):
            self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
