#!/usr/bin/env python3
"""dpor on the corpus: does it find every racy side, and prove every fixed side?

    python bench/dpor_corpus.py [--budget B] [--only NAME ...]

For every scenario in ``bench/corpus``: the racy side under ``strategy="dpor"``
(found or not, after how many schedules, with how many preemptions) and the
fixed side under ``dpor`` and under ``bounded`` (schedules run, seconds, and
whether the search completed: a proof within 2 preemptions).  Works from a
checkout: ``src/`` is put first on sys.path.
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


def scenarios(only: list[str]) -> list[Any]:
    return [sc for sc in load_all() if (not only or sc.name in only) and not sc.missing()]


def run(side: Any, strategy: str, budget: int) -> tuple[racecheck.Result, float]:
    t0 = time.perf_counter()
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=side.invariant,
                               strategy=strategy, schedules=budget, seed=0, watchdog=2,
                               shrink=False)
    return result, time.perf_counter() - t0


def proof(result: racecheck.Result) -> str:
    if result.failure is not None:
        return f"FAILED ({result.failure.kind})"
    bound = result.evidence.exhaustive_up_to_preemptions
    if bound == 2:
        return "proof"
    # dpor deepens its bound: a search cut short still proves the bounds it finished
    return "no proof" if bound is None else f"no proof (<= {bound} proved)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; budget {args.budget} schedules per search")
    print("| scenario | racy: dpor finds at | fixed: dpor | fixed: bounded |")
    print("|---|---|---|---|")
    for sc in scenarios(args.only):
        racy = "-"
        if sc.racy is not None:
            result, secs = run(sc.racy, "dpor", args.budget)
            racy = (f"{result.failure.schedule_index + 1} ({result.failure.found_preemptions} pre., "
                    f"{secs:.2f}s)" if result.failure is not None else "NOT FOUND")
        cells = []
        for strategy in ("dpor", "bounded"):
            result, secs = run(sc.fixed, strategy, args.budget)
            cells.append(f"{result.schedules_run}, {secs:.2f}s, {proof(result)}")
        print(f"| {sc.name} | {racy} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
