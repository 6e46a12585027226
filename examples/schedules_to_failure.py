#!/usr/bin/env python3
"""How many schedules each strategy needs to find the examples' races: a table and a plot.

    pip install -e ".[plot]"      # pandas and matplotlib
    python examples/schedules_to_failure.py [SEEDS] [--png PATH]

For three racy tests of this directory and each strategy, explores the test
under SEEDS seeds (default 10) and records, from ``result.to_dataframe()``,
the schedule at which the race was found.  Prints the median per test and
strategy, and draws one box per strategy and test (log scale) into
``docs/img/schedules-to-failure.png`` when matplotlib is installed.
The same measurement at corpus scale is in ``bench/`` and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_numpy_counter import test_increment_in_place_without_lock  # noqa: E402
from test_queue_workers import (  # noqa: E402
    test_list_queue_check_then_pop,
    test_queue_workers_count_without_lock,
)

import racecheck  # noqa: E402

CASES: dict[str, Callable[[], None]] = {
    "numpy arr[0] += 1": test_increment_in_place_without_lock,
    "queue workers' processed += 1": test_queue_workers_count_without_lock,
    "list check-then-pop": test_list_queue_check_then_pop,
}
STRATEGIES = ("random", "pct", "dpor", "auto")


def measure(seeds: int, cases: Sequence[str] = tuple(CASES),
            strategies: Sequence[str] = STRATEGIES, budget: int = 500) -> Any:
    """One row per (test, strategy, seed): the schedule that found the race, and the time."""
    import pandas as pd

    rows = []
    for case in cases:
        for strategy in strategies:
            for seed in range(seeds):
                result = racecheck.explore([CASES[case]], strategy=strategy, seed=seed,
                                           schedules=budget, shrink=False)
                runs = result.to_dataframe()  # one row per schedule run
                failed = runs.index[runs["verdict"] != "pass"]
                rows.append({"test": case, "strategy": strategy, "seed": seed,
                             "found": len(failed) > 0,
                             "schedules": int(failed[0]) + 1 if len(failed) else budget,
                             "seconds": float(runs["seconds"].sum())})
    return pd.DataFrame(rows)


def plot(frame: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = list(dict.fromkeys(frame["test"]))
    fig, axes = plt.subplots(1, len(tests), figsize=(4 * len(tests), 3.6), sharey=True)
    for ax, test in zip([axes] if len(tests) == 1 else axes, tests, strict=True):
        part = frame[frame["test"] == test]
        names = list(dict.fromkeys(part["strategy"]))
        ax.boxplot([part[part["strategy"] == s]["schedules"] for s in names], showfliers=True)
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_yscale("log")
        ax.set_title(test, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    (axes if len(tests) == 1 else axes[0]).set_ylabel("schedules to the first failure")
    fig.suptitle(f"racecheck: schedules until the race is found ({frame['seed'].nunique()} seeds)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="?", type=int, default=10)
    parser.add_argument("--png", default=os.path.join(HERE, "..", "docs", "img",
                                                      "schedules-to-failure.png"))
    args = parser.parse_args()
    frame = measure(args.seeds)
    table = frame.groupby(["test", "strategy"], sort=False)["schedules"].median().unstack()
    print(f"median schedules to the first failure over {args.seeds} seeds")
    print(table.to_string())
    print(f"\nnot found within the budget: {int((~frame['found']).sum())} of {len(frame)}")
    try:
        plot(frame, args.png)
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
    else:
        print(f"plot written to {os.path.normpath(args.png)}")


if __name__ == "__main__":
    main()
