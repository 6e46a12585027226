"""Lost update inside cachetools: ``Cache.__setitem__`` does ``currsize += size``.

cachetools' caches are documented as not thread-safe ("access to a shared
cache from multiple threads must be properly synchronized", cachetools docs;
the maintainer repeats it in tkem/cachetools#54 and #288).  Used unlocked, two
threads inserting different keys can both read ``currsize`` before either
writes it back: the cache then holds two items but believes it holds one, so
it evicts too late from then on.  The fix is the documented one: a lock
around every access.  Third-party code: cachetools==7.2.0 (pure Python).
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
    "https://cachetools.readthedocs.io/en/latest/ (classes are not thread-safe); "
    "https://github.com/tkem/cachetools/issues/54; https://github.com/tkem/cachetools/issues/288"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(cache=cachetools.Cache(maxsize=10), lock=threading.Lock())


def _put(key: str) -> Body:
    def put(s: SimpleNamespace) -> None:
        s.cache[key] = key.upper()

    return put


def _put_locked(key: str) -> Body:
    def put_locked(s: SimpleNamespace) -> None:
        with s.lock:
            s.cache[key] = key.upper()

    return put_locked


def invariant(s: SimpleNamespace) -> None:
    cache = s.cache
    check(
        len(cache) == 2 and cache.currsize == 2,
        f"cache holds {len(cache)} items but currsize == {cache.currsize}",
    )


SCENARIO = Scenario(
    name="s_cachetools_currsize",
    category="lost update",
    citation=CITATION,
    summary="cachetools.Cache shared unlocked: two inserts, currsize counts one",
    racy=Side(setup, [_put("a"), _put("b")], invariant),
    fixed=Side(setup, [_put_locked("a"), _put_locked("b")], invariant),
    expect="violation",
    requires=("cachetools",),
)
