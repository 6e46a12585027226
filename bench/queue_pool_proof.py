#!/usr/bin/env python3
"""How far dpor is from proving the seed's Queue worker pool.

    python bench/queue_pool_proof.py [W N ...]   # default: 1 1  2 1  2 2  3 2

For each pair: W daemon workers take N items from a ``queue.Queue``, append
them to a list under a lock and call ``task_done``; the main thread puts the
items and waits in ``q.join()`` (the pattern of
``examples/test_queue_workers.py``).  ``strategy=DporStrategy(0)`` (bound 2)
runs in-process until its search completes; printed: executions, seconds and
the evidence.  Works from a checkout: ``src/`` is put first on sys.path.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import racecheck  # noqa: E402
from racecheck.strategies import DporStrategy  # noqa: E402


def pool(workers: int, items: int) -> None:
    q: queue.Queue[int] = queue.Queue()
    guard = threading.Lock()
    results: list[int] = []

    def worker() -> None:
        while True:
            item = q.get()
            with guard:
                results.append(item)
            q.task_done()

    for _ in range(workers):
        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
    for item in range(items):
        q.put(item)
    q.join()
    assert sorted(results) == list(range(items))


def main() -> None:
    args = [int(a) for a in sys.argv[1:]] or [1, 1, 2, 1, 2, 2, 3, 2]
    if len(args) % 2:
        sys.exit("give pairs of numbers: WORKERS ITEMS [WORKERS ITEMS ...]")
    print(f"Python {sys.version.split()[0]}")
    print("| workers x items | executions | seconds | evidence |")
    print("|---|---:|---:|---|")
    for workers, items in zip(args[::2], args[1::2], strict=True):
        t0 = time.perf_counter()
        def body(workers: int = workers, items: int = items) -> None:
            pool(workers, items)

        result = racecheck.explore([body], strategy=DporStrategy(0),
                                   schedules=1_000_000, isolate=False, shrink=False)
        seconds = time.perf_counter() - t0
        print(f"| {workers} x {items} | {result.schedules_run:,} | {seconds:.1f} | "
              f"{result.evidence} |", flush=True)


if __name__ == "__main__":
    main()
