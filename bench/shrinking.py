#!/usr/bin/env python3
"""How far shrinking simplifies a failure, and what a bounded proof costs.

    python bench/shrinking.py            # 10 seeds per scenario (about a minute)
    python bench/shrinking.py --seeds 3  # quicker

Part 1, shrinking: for racy scenarios, the failure the ``portfolio`` of
random walks and PCT finds first (the default, ``auto``, often finds one
already minimal in its dpor half), then shrunk: preemptions before and after, candidate runs, and
the seconds shrinking added (the exploration timed with ``shrink=False`` in
the same process, same seed, subtracted).  Medians over the seeds.

Part 2, ``strategy="bounded"``: schedules and seconds to a proof within two
preemptions of the seed notebook's Lock-fixed ``db_value`` (both ways of
taking the lock), and to the first failure of the unlocked one.

It works from a checkout without installing: ``src/`` is put first on sys.path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import racecheck


class Box:
    def __init__(self) -> None:
        self.n = 0
        self.items: list[int] = []
        self.lock = threading.Lock()


def add_twenty(b: Box) -> None:
    for _ in range(20):
        b.n += 1


def sleepy_bump(b: Box) -> None:
    value = b.n
    time.sleep(0.1)
    b.n = value + 1


def locked_bump(b: Box) -> None:
    with b.lock:
        sleepy_bump(b)


def acquire_bump(b: Box) -> None:
    b.lock.acquire()
    sleepy_bump(b)
    b.lock.release()


def check_then_pop(b: Box) -> None:
    b.items.extend(range(3))

    def worker() -> None:
        while b.items:
            b.items.pop()

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


SHRINK_SCENARIOS: dict[str, tuple[list[Callable[..., Any]], Callable[[Box], bool]]] = {
    "n += 1, 2 threads x 20": ([add_twenty, add_twenty], lambda b: b.n == 40),
    "n += 1, 3 threads x 20": ([add_twenty] * 3, lambda b: b.n == 60),
    "read, sleep, write (db_value)": ([sleepy_bump, sleepy_bump], lambda b: b.n == 2),
    "check-then-pop, 3 workers": ([check_then_pop], lambda b: True),
}


def shrinking(seeds: int) -> None:
    print("| scenario | preemptions found (median) | after shrinking | runs | seconds added |")
    print("|---|---|---|---|---|")
    for name, (bodies, invariant) in SHRINK_SCENARIOS.items():
        found, shrunk, runs, added = [], [], [], []
        for seed in range(seeds):
            t0 = time.perf_counter()
            plain = racecheck.explore(bodies, setup=Box, invariant=invariant, seed=seed,
                                      strategy="portfolio", shrink=False)
            t1 = time.perf_counter()
            result = racecheck.explore(bodies, setup=Box, invariant=invariant, seed=seed,
                                       strategy="portfolio")
            t2 = time.perf_counter()
            if result.failure is None or plain.failure is None:
                continue
            found.append(result.failure.found_preemptions)
            shrunk.append(result.failure.preemptions)
            runs.append(result.failure.shrink_runs)
            added.append((t2 - t1) - (t1 - t0))
        if not found:
            print(f"| {name} | no failure | | | |")
            continue
        print(f"| {name} | {statistics.median(found):g} | {statistics.median(shrunk):g} "
              f"(max {max(shrunk)}) | {statistics.median(runs):g} | "
              f"{statistics.median(added):.2f} |")


def bounded() -> None:
    print()
    print("| scenario (strategy='bounded', 2 preemptions) | schedules | seconds | evidence |")
    print("|---|---|---|---|")
    for name, body in (("db_value, with lock:", locked_bump),
                       ("db_value, acquire()/release()", acquire_bump),
                       ("db_value, no lock (to the failure)", sleepy_bump)):
        for isolate in (False, None):
            t0 = time.perf_counter()
            result = racecheck.explore([body, body], setup=Box, invariant=lambda b: b.n == 2,
                                       strategy="bounded", schedules=100_000, seed=1,
                                       isolate=isolate)
            seconds = time.perf_counter() - t0
            where = "in-process" if isolate is False else "forked"
            said = ("failure at schedule " f"{result.failure.schedule_index + 1}"
                    if result.failure else str(result.evidence))
            print(f"| {name} ({where}) | {result.schedules_run} | {seconds:.2f} | {said} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {args.seeds} seeds")
    shrinking(args.seeds)
    bounded()


if __name__ == "__main__":
    main()
