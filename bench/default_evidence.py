#!/usr/bin/env python3
"""What the default's pass is worth: every fixed side under the plugin's budget.

    python bench/default_evidence.py [--schedules N] [--only NAME ...]

For every fixed (and correct) side of ``bench/corpus``: ``racecheck.explore``
with the plugin's default budget (200 schedules), seed 0, under ``auto`` (the
default) and under ``portfolio`` (the previous default): the schedules run,
the seconds, and the evidence sentence of the result.  A side ``auto`` proves
stops at the proof, so the column of seconds is also what the default costs.
Works from a checkout: ``src/`` is put first on sys.path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402


def run(side: Any, strategy: str, schedules: int) -> tuple[racecheck.Result, float]:
    t0 = time.perf_counter()
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=side.invariant,
                               strategy=strategy, schedules=schedules, seed=0, watchdog=2)
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {args.schedules} schedules, seed 0")
    print("| scenario | auto: schedules, s | auto: evidence | portfolio: schedules, s |")
    print("|---|---|---|---|")
    proved = total = 0
    for sc in load_all():
        if (args.only and sc.name not in args.only) or sc.missing():
            continue
        auto, auto_s = run(sc.fixed, "auto", args.schedules)
        portfolio, portfolio_s = run(sc.fixed, "portfolio", args.schedules)
        for result in (auto, portfolio):
            if result.failure is not None:  # a false alarm: the table must say so
                print(f"FALSE ALARM on {sc.name}: {result.failure.kind}", file=sys.stderr)
        total += 1
        proved += auto.evidence.exhaustive_up_to_preemptions == 2
        print(f"| {sc.name} | {auto.schedules_run}, {auto_s:.2f} | {auto.evidence} | "
              f"{portfolio.schedules_run}, {portfolio_s:.2f} |", flush=True)
    print(f"\nproved within 2 preemptions by the default: {proved}/{total}")


if __name__ == "__main__":
    main()
