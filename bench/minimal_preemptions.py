#!/usr/bin/env python3
"""Per corpus bug: the fewest preemptions it needs, and what shrinking reports.

    python bench/minimal_preemptions.py [--seeds N] [--budget B] [--only NAME ...]

For the racy side of every scenario in ``bench/corpus``:

* ``strategy="bounded"`` (every schedule with at most 2 preemptions, fewest
  first) within ``--budget`` schedules: its first failure has the fewest
  preemptions any failure of the side has, when it is found (a dash: not
  found within the budget, so the fewest is not known, or is above 2);
* the default portfolio with ``--seeds`` seeds: the preemptions of its first
  failure as found, and after shrinking (medians, and the largest shrunk).

"ok" says the shrunk schedule has no more preemptions than the fewest. It
works from a checkout without installing: ``src/`` is put first on sys.path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402


def scenarios(only: list[str]) -> list[Any]:
    return [sc for sc in load_all() if (not only or sc.name in only)
            and sc.racy is not None and not sc.missing()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; bounded budget {args.budget} schedules; "
          f"{args.seeds} portfolio seeds")
    print("| scenario | fewest (bounded) | bounded schedules | found (median) | shrunk (median, max) | ok |")
    print("|---|---|---|---|---|---|")
    for sc in scenarios(args.only):
        side = sc.racy
        t0 = time.perf_counter()
        least = racecheck.explore(list(side.threads), setup=side.setup,
                                  invariant=side.invariant, strategy="bounded",
                                  schedules=args.budget, seed=0, watchdog=2, shrink=False)
        fewest = least.failure.found_preemptions if least.failure is not None else None
        found, shrunk = [], []
        for seed in range(args.seeds):
            result = racecheck.explore(list(side.threads), setup=side.setup,
                                       invariant=side.invariant, seed=seed, watchdog=2)
            if result.failure is not None:
                found.append(result.failure.found_preemptions)
                shrunk.append(result.failure.preemptions)
        ok = "-" if fewest is None or not shrunk else ("yes" if max(shrunk) <= fewest else "NO")
        print(f"| {sc.name} | {'-' if fewest is None else fewest} | {least.schedules_run} | "
              f"{statistics.median(found) if found else '-'} | "
              f"{(str(statistics.median(shrunk)) + ', ' + str(max(shrunk))) if shrunk else '-'} "
              f"| {ok} |", flush=True)
        print(f"  ({time.perf_counter() - t0:.1f}s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
