"""Atomicity violation: reading ``sum`` and ``count`` of a summary without its lock.

Writers update a summary's ``sum`` and ``count`` together under a lock; a
reader that fetches the two fields one after the other can see one update
half-applied and report a mean for a state that never existed.  TiKV fixed
exactly this in its read pool ("avoid get inconsistent sample sum and count
from histogram", tikv/tikv PR #14202) by reading both under the metric's
lock; micrometer#998 reports the same for timer snapshots.  Re-expressed in
Python; the fix takes the writer's lock for the snapshot.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/tikv/tikv/pull/14202; "
    "https://github.com/micrometer-metrics/micrometer/issues/998"
)


class Summary:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sum = 0.0
        self.count = 0
        self.snapshots: list[tuple[float, int]] = []

    def observe(self, value: float) -> None:
        with self.lock:
            self.sum += value
            self.count += 1


def request(m: Summary) -> None:
    m.observe(10.0)


def scrape(m: Summary) -> None:
    total = m.sum
    n = m.count
    m.snapshots.append((total, n))


def scrape_fixed(m: Summary) -> None:
    with m.lock:
        total = m.sum
        n = m.count
    m.snapshots.append((total, n))


def invariant(m: Summary) -> None:
    for snap in m.snapshots:
        check(snap in ((0.0, 0), (10.0, 1)), f"torn snapshot (sum, count) = {snap}")


SCENARIO = Scenario(
    name="s_torn_metric_snapshot",
    category="atomicity violation",
    citation=CITATION,
    summary="writer updates sum and count under a lock; unlocked reader sees (10, 0) or (0, 1)",
    racy=Side(Summary, [request, scrape], invariant),
    fixed=Side(Summary, [request, scrape_fixed], invariant),
    expect="violation",
)
