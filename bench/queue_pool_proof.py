#!/usr/bin/env python3
"""How far dpor is from proving the seed's Queue worker pool.

    python bench/queue_pool_proof.py [W N ...]   # default: 1 1  2 1  2 2  3 2
    python bench/queue_pool_proof.py --example   # examples/test_queue_workers.py's pool

For each pair: W daemon workers take N items from a ``queue.Queue``, append
them to a list under a lock and call ``task_done``; the main thread puts the
items and waits in ``q.join()`` (the pattern of
``examples/test_queue_workers.py``).  ``strategy=DporStrategy(0)`` (bound 2)
runs in-process until its search completes; printed: executions, seconds and
the evidence.  ``--example`` runs the seed example's own test instead
(``test_queue_workers_process_every_item``: 3 workers, 6 items, each result
tagged with the worker's thread name), printing progress every 5,000
executions.  Works from a checkout: ``src/`` is put first on sys.path.
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


class _Progress(DporStrategy):
    def begin(self, index: int) -> bool:
        if index and index % 5000 == 0:
            print(f"  {index:,} executions, searching <= {self.level} preemptions",
                  flush=True)
        return super().begin(index)


def example() -> None:
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import test_queue_workers as seed

    print(f"Python {sys.version.split()[0]}: {seed.NUM_THREADS} workers x "
          f"{seed.NUM_ITEMS} items (examples/test_queue_workers.py)", flush=True)
    t0 = time.perf_counter()
    result = racecheck.explore([seed.test_queue_workers_process_every_item],
                               strategy=_Progress(0), schedules=10_000_000, isolate=False,
                               shrink=False)
    print(f"{result.schedules_run:,} executions, {time.perf_counter() - t0:.0f} s: "
          f"{result.evidence}")


def main() -> None:
    if sys.argv[1:] == ["--example"]:
        example()
        return
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
