"""Fixed cost of one schedule: in a forked child (the default) vs in the process.

Every schedule runs in a child forked from the test process (issue 10: an
ended schedule is invisible to the code under test).  This measures what that
costs per schedule for an empty two-thread body, with and without pandas and
NumPy loaded (a bigger process is slower to fork), as the median of repeats
and the ratio to in-process schedules measured in the same process.

    python bench/schedule_cost.py [--with-pandas] [--repeats N] [--schedules N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import racecheck


def noop(state: object) -> None:
    pass


def per_schedule_ms(isolate: bool | None, schedules: int) -> float:
    start = time.perf_counter()
    racecheck.explore([noop, noop], setup=object, schedules=schedules, seed=1, isolate=isolate)
    return (time.perf_counter() - start) / schedules * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-pandas", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--schedules", type=int, default=200)
    args = parser.parse_args()
    if args.with_pandas:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    rows = {}
    for label, isolate in (("in-process", False), ("forked child", None)):
        rows[label] = statistics.median(per_schedule_ms(isolate, args.schedules)
                                        for _ in range(args.repeats))
    base = rows["in-process"]
    print(f"Python {sys.version.split()[0]}, pandas loaded: {args.with_pandas}")
    for label, ms in rows.items():
        print(f"  {label:<13} {ms:7.3f} ms/schedule  ({ms / base:5.1f}x in-process)")


if __name__ == "__main__":
    main()
