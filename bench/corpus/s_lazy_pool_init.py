"""Check-then-act: lazily creating a connection pool on first use.

sqlspec's ``provide_pool()`` created the pool when ``connection_instance`` was
still ``None``; two threads arriving together both saw ``None`` and both built
a pool, so a connection acquired from one pool was later released to the other
("Pool.release() received invalid connection").  Fixed with double-checked
locking around the creation (litestar-org/sqlspec#346, PR #347).  Re-expressed
with a toy pool whose ``release`` checks where the connection came from.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/litestar-org/sqlspec/issues/346; https://github.com/litestar-org/sqlspec/pull/347"


class Pool:
    def __init__(self) -> None:
        self.out: list[object] = []

    def acquire(self) -> tuple[Pool, int]:
        conn = (self, len(self.out))
        self.out.append(conn)
        return conn

    def release(self, conn: tuple[Pool, int], errors: list[str]) -> None:
        if conn[0] is not self:
            errors.append("Pool.release() received invalid connection")


class DatabaseConfig:
    def __init__(self) -> None:
        self.pool: Pool | None = None
        self.pools_created: list[Pool] = []
        self.errors: list[str] = []
        self._pool_lock = threading.Lock()

    def provide_pool(self) -> Pool:
        if self.pool is None:
            pool = Pool()
            self.pools_created.append(pool)
            self.pool = pool
        return self.pool

    def provide_pool_locked(self) -> Pool:
        pool = self.pool
        if pool is None:
            with self._pool_lock:
                pool = self.pool
                if pool is None:
                    pool = Pool()
                    self.pools_created.append(pool)
                    self.pool = pool
        return pool


def run_query(cfg: DatabaseConfig) -> None:
    conn = cfg.provide_pool().acquire()
    cfg.provide_pool().release(conn, cfg.errors)


def run_query_fixed(cfg: DatabaseConfig) -> None:
    conn = cfg.provide_pool_locked().acquire()
    cfg.provide_pool_locked().release(conn, cfg.errors)


def invariant(cfg: DatabaseConfig) -> None:
    check(not cfg.errors, f"errors: {cfg.errors}")
    check(len(cfg.pools_created) == 1, f"{len(cfg.pools_created)} pools were created")


SCENARIO = Scenario(
    name="s_lazy_pool_init",
    category="check-then-act",
    citation=CITATION,
    summary="`if self.pool is None: self.pool = Pool()` builds two pools; release goes to the wrong one",
    racy=Side(DatabaseConfig, [run_query, run_query], invariant),
    fixed=Side(DatabaseConfig, [run_query_fixed, run_query_fixed], invariant),
    expect="violation",
)
