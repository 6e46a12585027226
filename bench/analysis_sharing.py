"""What sharing code analyses between schedules' children saves, per schedule.

Every schedule runs in a child forked from the test process, and the child
analyses the bytecode it runs (``instrument.analyse``: which offsets are
scheduling points).  Children send their analyses back and the parent hands
them to the next children (``instrument.learn``).  This measures a schedule
whose body runs a fair amount of pure-Python library code (``fractions``,
``decimal``'s Python parts are C here, so ``fractions`` and ``statistics``),
with the sharing on and off, as the median of repeats and their ratio,
measured in the same process.

    python bench/analysis_sharing.py [--repeats N] [--schedules N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from fractions import Fraction

import racecheck
from racecheck._core import instrument


def work(state: object) -> None:
    total = Fraction(0)
    for i in range(1, 30):
        total += Fraction(1, i)
    statistics.median([float(total), 1.0, 2.0])


def per_schedule_ms(schedules: int) -> float:
    instrument._learned.clear()
    start = time.perf_counter()
    racecheck.explore([work, work], setup=object, schedules=schedules, seed=1, isolate=True)
    return (time.perf_counter() - start) / schedules * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--schedules", type=int, default=100)
    args = parser.parse_args()
    learn = instrument.learn
    shared, alone = [], []
    for _ in range(args.repeats):
        instrument.learn = learn
        shared.append(per_schedule_ms(args.schedules))
        instrument.learn = lambda data: None  # every child analyses afresh
        alone.append(per_schedule_ms(args.schedules))
    instrument.learn = learn
    a, b = statistics.median(alone), statistics.median(shared)
    print(f"per schedule, median of {args.repeats} x {args.schedules} schedules:")
    print(f"  analyses not shared: {a:.2f} ms")
    print(f"  analyses shared:     {b:.2f} ms   ({a / b:.2f}x faster)")


if __name__ == "__main__":
    main()
