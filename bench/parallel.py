#!/usr/bin/env python3
"""jobs=N: one exploration's schedules over N processes, against the same exploration run serially.

    python bench/parallel.py [--schedules 2000] [--repeats 3] [--jobs 2] [--quick]

Two bodies, both correct, so every exploration runs its whole budget (the
cost users pay on a passing test), under the default strategy (``auto``):

- ``locked-4x6``: four threads, six locked increments each.  The default's
  dpor search gives up after its patience (16 schedules), and the sampled
  schedules that follow are independent of each other, so they run in
  parallel.
- ``locked-3x6``: three such threads; the dpor search goes on to the end of
  the budget, so its schedules run here and the sampled half in a worker.
- ``locked-4x6-random``: the same under the uniform random walk, whose
  schedules are independent from the second one on.


Serial (jobs=1) and parallel runs alternate in the same process; each figure
is the median of ``--repeats``.  Verdicts, schedules run and the sequence of
schedules (index, member, steps, choices) are compared for identity on every
repeat; a difference is an error, not a figure.  Works from a checkout:
``src/`` is put first on sys.path.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import racecheck  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()


def locked_bumps(s: Counter) -> None:
    for _ in range(6):
        with s.lock:
            s.n += 1


def locked_4x6() -> dict[str, Any]:
    return dict(threads=[locked_bumps] * 4, setup=Counter,
                invariant=lambda s: s.n == 24)


BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "locked-4x6": locked_4x6,
    "locked-3x6": lambda: dict(threads=[locked_bumps] * 3, setup=Counter,
                               invariant=lambda s: s.n == 18),
    "locked-4x6-random": lambda: dict(locked_4x6(), strategy="random"),
}


def fingerprint(result: racecheck.Result) -> tuple[Any, ...]:
    return (result.ok, result.schedules_run, str(result.evidence),
            tuple((r.index, r.strategy, r.steps, r.choices, r.verdict) for r in result.runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke test: 120 schedules, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.schedules, args.repeats = 120, 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPython {sys.version.split()[0]}, {cpus} CPUs, budget {args.schedules} schedules, "
          f"jobs={args.jobs}, median of {args.repeats}; 1-min load average before: "
          f"{os.getloadavg()[0]:.2f}")
    print()
    print(f"| body | schedules | parallel from | serial | jobs={args.jobs} | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    status = 0
    for name, make in BODIES.items():
        times: dict[int, list[float]] = {1: [], args.jobs: []}
        seen: dict[int, tuple[Any, ...]] = {}
        parallel_from: int | None = None
        for _ in range(args.repeats):
            for jobs in (1, args.jobs):
                t0 = time.perf_counter()
                result = racecheck.explore(schedules=args.schedules, seed=1, jobs=jobs,
                                           mode="controlled", **make())
                times[jobs].append(time.perf_counter() - t0)
                if jobs > 1:
                    parallel_from = result.parallel_from
                print_ = fingerprint(result)
                if seen.setdefault(jobs, print_) != print_:
                    print(f"ERROR {name}: jobs={jobs} ran differently on a repeat")
                    status = 1
        if seen[1] != seen[args.jobs]:
            print(f"ERROR {name}: jobs={args.jobs} ran other schedules than jobs=1")
            status = 1
        serial = statistics.median(times[1])
        parallel = statistics.median(times[args.jobs])
        print(f"| {name} | {seen[1][1]} | {parallel_from} | {serial:.2f} s | {parallel:.2f} s "
              f"| {parallel / serial:.2f} |")
    return status


if __name__ == "__main__":
    sys.exit(main())
