"""Deadlock through pool exhaustion: nested checkouts with a checkout timeout.

A request holds one pooled connection and checks out a second for nested work
(a REQUIRES_NEW transaction, a helper that opens its own session).  With as
many concurrent requests as pool slots, every request holds one slot and waits
for another: aiopg users hit it ("you can deadlock it easily if you acquire
two connections in a nested manner", aio-libs/aiopg#113, #127), asyncpg
documented the pattern as a deadlock (MagicStack/asyncpg#5), and OpenMRS
measured it in production (openmrs-core PR #6278).  A checkout timeout turns
the hang into an error; the maintainers' answer is not to nest: the fix reuses
the outer connection.  Expected verdict: deadlock.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/aio-libs/aiopg/issues/113; https://github.com/aio-libs/aiopg/issues/127; "
    "https://github.com/MagicStack/asyncpg/issues/5"
)

CHECKOUT_TIMEOUT = 0.5  # seconds; virtual under racecheck


class PoolTimeout(Exception):
    pass


class Pool:
    def __init__(self, size: int) -> None:
        self.slots = threading.BoundedSemaphore(size)
        self.errors: list[str] = []
        self.done: list[str] = []

    def acquire(self) -> object:
        if not self.slots.acquire(timeout=CHECKOUT_TIMEOUT):
            raise PoolTimeout("QueuePool limit reached, connection timed out")
        return object()

    def release(self, conn: object) -> None:
        self.slots.release()


def make_pool() -> Pool:
    return Pool(size=2)


def increment_order_seed(pool: Pool, conn: object) -> None:
    pass  # the nested unit of work


def save_order(pool: Pool) -> None:
    outer = pool.acquire()
    try:
        inner = pool.acquire()  # nested checkout
        try:
            increment_order_seed(pool, inner)
        finally:
            pool.release(inner)
        pool.done.append("order")
    except PoolTimeout as exc:
        pool.errors.append(f"PoolTimeout: {exc}")
    finally:
        pool.release(outer)


def save_order_fixed(pool: Pool) -> None:
    outer = pool.acquire()
    try:
        increment_order_seed(pool, outer)  # reuse the connection we hold
        pool.done.append("order")
    finally:
        pool.release(outer)


def invariant(pool: Pool) -> None:
    check(not pool.errors, f"errors: {pool.errors}")
    check(pool.done == ["order", "order"], f"orders saved: {pool.done}")


SCENARIO = Scenario(
    name="s_deadlock_nested_pool",
    category="deadlock",
    citation=CITATION,
    summary="pool of 2, two requests each hold one connection and wait (with timeout) for a second",
    racy=Side(make_pool, [save_order, save_order], invariant),
    fixed=Side(make_pool, [save_order_fixed, save_order_fixed], invariant),
    expect="deadlock",
)
