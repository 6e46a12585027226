"""Lost update: ``self.count += 1`` on an attribute from two threads.

``x += 1`` on an attribute is a load, an add and a store: a switch between the
load and the store loses the other thread's increment.  The Python FAQ lists
``i = i + 1`` among the operations that are *not* atomic; forseti-security
fixed exactly this ("+= is not threadsafe", PR #3080) by taking a lock around
its object counter; citus replaced one with an atomic increment in a test
helper (PR #3381).
Coyote's users ask why ``Number++`` races go unfound: plain memory accesses
must be scheduling points.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/forseti-security/forseti-security/pull/3080; "
    "https://github.com/citusdata/citus/pull/3381; "
    "https://docs.python.org/3/faq/library.html#what-kinds-of-global-value-mutation-are-thread-safe"
)


class Inventory:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()


def scan_two(inv: Inventory) -> None:
    for _ in range(2):
        inv.count += 1


def scan_two_locked(inv: Inventory) -> None:
    for _ in range(2):
        with inv.lock:
            inv.count += 1


def invariant(inv: Inventory) -> None:
    check(inv.count == 4, f"four increments left count == {inv.count}")


SCENARIO = Scenario(
    name="s_attr_increment",
    category="lost update",
    citation=CITATION,
    summary="seed: `obj.count += 1` twice in each of two threads; increments are lost",
    racy=Side(Inventory, [scan_two, scan_two], invariant),
    fixed=Side(Inventory, [scan_two_locked, scan_two_locked], invariant),
    expect="violation",
)
