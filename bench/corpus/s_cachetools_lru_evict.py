"""Container corruption inside cachetools: two threads evict the same LRU entry.

``LRUCache.__setitem__`` makes room by ``popitem()``, which takes the least
recently used key and then pops it.  Two unlocked inserts into a full cache
both pick the same victim; the second pop raises ``KeyError`` from inside
``__setitem__`` (in rarer interleavings the victim lookup instead sees the
order change: "OrderedDict mutated during iteration").  girder/large_image hit
it ("If two threads each cause an eviction, it would throw a KeyError and
never recover", PR #189) and added a lock; boltons' LRU had the same failure
(mahmoud/boltons#52), and cachetools issues #80/#90/#231 are the same class.
cachetools documents that its caches are not thread-safe; the fix is the
documented lock.  Third-party code: cachetools==7.2.0.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

try:  # optional: imported at load time, before any tool patches threading
    import cachetools
except ImportError:  # the scenario reports itself as not installed
    cachetools = None

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://github.com/girder/large_image/pull/189; https://github.com/mahmoud/boltons/issues/52; "
    "https://github.com/tkem/cachetools/issues/231; https://cachetools.readthedocs.io/en/latest/"
)


def setup() -> SimpleNamespace:
    cache = cachetools.LRUCache(maxsize=1)
    cache["old"] = "tile-0"
    return SimpleNamespace(cache=cache, lock=threading.Lock(), errors=[])


def _put(key: str) -> Body:
    def put(s: SimpleNamespace) -> None:
        try:
            s.cache[key] = f"tile-{key}"
        except (
            KeyError,
            RuntimeError,
        ) as exc:  # RuntimeError: OrderedDict mutated during iteration
            s.errors.append(f"{type(exc).__name__}: {exc}")

    return put


def _put_locked(key: str) -> Body:
    def put_locked(s: SimpleNamespace) -> None:
        with s.lock:
            s.cache[key] = f"tile-{key}"

    return put_locked


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    cache = s.cache
    check(len(cache) == 1 and cache.currsize == 1, f"LRUCache(maxsize=1) holds {dict(cache)}")


SCENARIO = Scenario(
    name="s_cachetools_lru_evict",
    category="container corruption",
    citation=CITATION,
    summary="cachetools.LRUCache full and unlocked: two inserts evict the same key, KeyError",
    racy=Side(setup, [_put("a"), _put("b")], invariant),
    fixed=Side(setup, [_put_locked("a"), _put_locked("b")], invariant),
    expect="violation",
    requires=("cachetools",),
)
