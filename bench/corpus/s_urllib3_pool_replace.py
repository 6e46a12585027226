"""Check-then-act: get-or-create a per-host pool in a container that disposes.

urllib3's ``PoolManager`` looked the pool up with ``pools.get(key)`` and, on a
miss, built one and stored it.  Two threads missing together both built a
pool; the second store replaced the first, and the container's dispose
callback closed the replaced pool, which the first thread then used ("Pool is
closed").  Fixed by holding a lock across the lookup and the store (urllib3 PR
#204, "Fix a race condition between pools.get and pools.set").
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/urllib3/urllib3/pull/204"


class HTTPConnectionPool:
    def __init__(self, host: str) -> None:
        self.host = host
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def urlopen(self, errors: list[str]) -> None:
        if self.closed:
            errors.append(
                f"ClosedPoolError: HTTPConnectionPool(host={self.host!r}): Pool is closed."
            )


class RecentlyUsedContainer:
    """A dict that calls ``dispose`` on a value it replaces (as urllib3's does)."""

    def __init__(self) -> None:
        self._data: dict[str, HTTPConnectionPool] = {}

    def get(self, key: str) -> HTTPConnectionPool | None:
        return self._data.get(key)

    def __setitem__(self, key: str, value: HTTPConnectionPool) -> None:
        old = self._data.get(key)
        self._data[key] = value
        if old is not None and old is not value:
            old.close()


class PoolManager:
    def __init__(self) -> None:
        self.pools = RecentlyUsedContainer()
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def connection_from_host(self, host: str) -> HTTPConnectionPool:
        pool = self.pools.get(host)
        if pool is not None:
            return pool
        pool = HTTPConnectionPool(host)
        self.pools[host] = pool
        return pool

    def connection_from_host_locked(self, host: str) -> HTTPConnectionPool:
        with self.lock:
            pool = self.pools.get(host)
            if pool is not None:
                return pool
            pool = HTTPConnectionPool(host)
            self.pools[host] = pool
            return pool


def request(pm: PoolManager) -> None:
    pm.connection_from_host("example.org").urlopen(pm.errors)


def request_fixed(pm: PoolManager) -> None:
    pm.connection_from_host_locked("example.org").urlopen(pm.errors)


def invariant(pm: PoolManager) -> None:
    check(not pm.errors, f"a request used a pool another thread had closed: {pm.errors}")


SCENARIO = Scenario(
    name="s_urllib3_pool_replace",
    category="check-then-act",
    citation=CITATION,
    summary="PoolManager get-or-create: both threads create, the second store closes the first's pool",
    racy=Side(PoolManager, [request, request], invariant),
    fixed=Side(PoolManager, [request_fixed, request_fixed], invariant),
    expect="violation",
)
