#!/usr/bin/env python3
"""dpor against brute force on the corpus: the same final states, fewer schedules.

    python bench/dpor_differential.py [--budget B] [--only NAME ...]

For both sides of every scenario in ``bench/corpus``, in-process: every
schedule of ``bounded`` (all schedules with <= 2 preemptions) and of ``dpor``
(the same bound, one schedule per class of equivalent ones), recording what
the scenario's invariant says of each final state (addresses masked).  Where
both searches complete, the two sets must be equal: a state only brute force
reaches is a conflict ``_core/effects.py`` missed.  Prints one row per side
and "MISMATCH" where they differ.  Works from a checkout: ``src/`` first.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402
from racecheck.strategies import BoundedStrategy, DporStrategy, Strategy  # noqa: E402


def final_states(strategy: Strategy, side: Any, budget: int) -> tuple[set[str], Any, float]:
    seen: set[str] = set()

    def record(state: Any) -> None:
        try:
            ok = side.invariant(state) if side.invariant else None
            seen.add("ok" if ok is not False else "False")
        except AssertionError as exc:
            seen.add("fail: " + re.sub(r"0x[0-9a-f]+", "0x", str(exc))[:100])

    t0 = time.perf_counter()
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=record,
                               strategy=strategy, schedules=budget, isolate=False, watchdog=2,
                               shrink=False)
    return seen, result, time.perf_counter() - t0


def _cell(result: Any, secs: float, done: bool) -> str:
    return f"{result.schedules_run}{'' if done else '+'}, {secs:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; budget {args.budget} schedules per search")
    print("| scenario | side | bounded: schedules, s | dpor: schedules, s | same final states |")
    print("|---|---|---|---|---|")
    for scenario in load_all():
        name = scenario.name
        if (args.only and name not in args.only) or scenario.missing():
            continue
        for label, side in (("racy", scenario.racy), ("fixed", scenario.fixed)):
            if side is None:
                continue
            b_states, b, b_secs = final_states(BoundedStrategy(0, 2), side, args.budget)
            d_states, d, d_secs = final_states(DporStrategy(0, 2), side, args.budget)
            b_done = b.evidence.exhaustive_up_to_preemptions is not None
            d_done = d.evidence.exhaustive_up_to_preemptions is not None
            if b_done and d_done:
                same = "yes" if b_states == d_states else (
                    f"MISMATCH: only brute force {sorted(b_states - d_states)}, "
                    f"only dpor {sorted(d_states - b_states)}")
            else:
                same = "- (a search did not complete)"
            print(f"| {name} | {label} | {_cell(b, b_secs, b_done)} | {_cell(d, d_secs, d_done)} "
                  f"| {same} |", flush=True)


if __name__ == "__main__":
    main()
