#!/usr/bin/env python3
"""What shrinking costs per corpus bug, and its share of the time to a reported failure.

    python bench/shrink_cost.py [--seeds N] [--only NAME ...] [--json FILE]

For the racy side of every scenario in ``bench/corpus``, the default strategy
with seeds 0..N-1 (schedules forked, as users run them), in this process:
the exploration's wall time to the reported failure, the part of it spent in
the shrink stage (``runner._shrink``, timed from outside), the shrink's
candidate runs and the preemptions found and reported.  Medians per
scenario; over all measurements the median and the mean.  Run it at two
commits (a worktree, ``PYTHONPATH=<worktree>/src``) to compare them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, os.path.join(ROOT, "src"))

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402
from racecheck._core import raw, runner  # noqa: E402


def measure(seeds: int, only: list[str]) -> list[dict[str, Any]]:
    spent: list[float] = []
    shrink = runner._shrink

    def timed(*args: Any, **kwargs: Any) -> None:
        began = raw.real_monotonic()
        try:
            shrink(*args, **kwargs)
        finally:
            spent.append(raw.real_monotonic() - began)

    runner._shrink = timed  # type: ignore[assignment]
    rows = []
    try:
        for sc in load_all():
            if sc.racy is None or sc.missing() or (only and sc.name not in only):
                continue
            side = sc.racy
            for seed in range(seeds):
                spent.clear()
                began = raw.real_monotonic()
                result = racecheck.explore(list(side.threads), setup=side.setup,
                                           invariant=side.invariant, seed=seed, watchdog=2,
                                           schedules=1000, time_budget=2)
                total = raw.real_monotonic() - began
                failure = result.failure
                rows.append({
                    "scenario": sc.name, "seed": seed, "found": failure is not None,
                    "seconds": total, "shrink_seconds": sum(spent),
                    "shrink_runs": failure.shrink_runs if failure else 0,
                    "found_preemptions": failure.found_preemptions if failure else None,
                    "preemptions": failure.preemptions if failure else None,
                })
                print(f"  {sc.name} seed {seed}: {total * 1000:.0f} ms", file=sys.stderr,
                      flush=True)
    finally:
        runner._shrink = shrink  # type: ignore[assignment]
    return rows


def table(rows: list[dict[str, Any]]) -> None:
    print(f"Python {sys.version.split()[0]}; default strategy; schedules forked")
    print("| scenario | found / seeds | total ms (median) | shrink ms | shrink runs "
          "| preemptions reported |")
    print("|---|---|---:|---:|---|---|")
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    for name in names:
        mine = [r for r in rows if r["scenario"] == name]
        print(f"| {name} | {sum(r['found'] for r in mine)}/{len(mine)} | "
              f"{statistics.median(r['seconds'] for r in mine) * 1000:.0f} | "
              f"{statistics.median(r['shrink_seconds'] for r in mine) * 1000:.0f} | "
              f"{[r['shrink_runs'] for r in mine]} | "
              f"{sorted({r['preemptions'] for r in mine if r['found']})} |")
    total = [r["seconds"] * 1000 for r in rows]
    shrunk = [r["shrink_seconds"] * 1000 for r in rows]
    runs = [r["shrink_runs"] for r in rows]
    print(f"\nAll {len(rows)}: total median {statistics.median(total):.1f} ms, mean "
          f"{statistics.mean(total):.1f}; shrink median {statistics.median(shrunk):.1f} ms, "
          f"mean {statistics.mean(shrunk):.1f}; shrink runs median {statistics.median(runs)}, "
          f"mean {statistics.mean(runs):.1f}, max {max(runs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args()
    rows = measure(args.seeds, args.only)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)
    table(rows)


if __name__ == "__main__":
    main()
