#!/usr/bin/env python3
"""mode="perturb" on the corpus and the examples: what real threads with pauses find, and how often.

    python bench/perturb_corpus.py [--runs N] [--fixed-budget B] [--only NAME ...] [--no-examples]

For every racy side: N perturbed runs (default 40, each its own injection
seed and level, no stopping at a failure) and the share that failed, next to
the schedule at which the controlled default (``auto``, seed 0) finds it.
For every fixed or correct side: the full perturbed budget (default 200
runs), which must all pass.  Then the same for the examples' racy tests and
their fixes.  Each run is forked, as explorations are.  Works from a
checkout: ``src/`` is put first on sys.path.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402
from racecheck import _api  # noqa: E402
from racecheck._core import perturb  # noqa: E402


def config(threads: list[Callable[..., object]], setup: Any, invariant: Any) -> Any:
    settings = _api._settings(schedules=1, seed=0, watchdog=2)
    return _api._config(threads, setup, invariant, None, settings)


def rate(cfg: Any, runs: int) -> tuple[int, dict[str, int], float]:
    """Failing runs out of ``runs`` (levels cycled as an exploration does), by verdict."""
    failed: dict[str, int] = {}
    t0 = time.perf_counter()
    for index in range(runs):
        out = perturb._run(cfg, perturb.run_seed(0, index), perturb.level_of(index), fork=True)
        if out.verdict is not None:
            failed[str(out.verdict)] = failed.get(str(out.verdict), 0) + 1
    return sum(failed.values()), failed, time.perf_counter() - t0


def controlled(threads: list[Any], setup: Any, invariant: Any, budget: int) -> str:
    result = racecheck.explore(threads, setup=setup, invariant=invariant, schedules=budget,
                               seed=0, watchdog=2, shrink=False, mode="controlled")
    if result.failure is None:
        return f"not found in {budget}"
    return f"{result.failure.kind} at {result.failure.schedule_index + 1}"


def examples() -> list[tuple[str, Callable[[], None], bool]]:
    """(name, test function, racy?) for the examples' tests."""
    found = []
    folder = os.path.join(ROOT, "examples")
    sys.path.insert(0, folder)
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(folder, name))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for attr in sorted(vars(module)):
            fn = getattr(module, attr)
            if attr.startswith("test_") and callable(fn):
                marks = [m.name for m in getattr(fn, "pytestmark", [])]
                found.append((f"{name[:-3]}::{attr}", fn, "xfail" in marks))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fixed-budget", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--no-examples", action="store_true")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {args.runs} perturbed runs per racy side, "
          f"{args.fixed_budget} per fixed side")
    print("| scenario | racy: perturbed runs failing | racy: controlled (auto) | "
          "fixed: perturbed runs failing |")
    print("|---|---|---|---|")
    rows: list[tuple[str, str, str, str]] = []
    for sc in load_all():
        if (args.only and sc.name not in args.only) or sc.missing():
            continue
        racy = ctl = "-"
        if sc.racy is not None:
            n, kinds, secs = rate(config(list(sc.racy.threads), sc.racy.setup,
                                         sc.racy.invariant), args.runs)
            racy = (f"{n}/{args.runs} ({', '.join(f'{k} {v}' for k, v in kinds.items())}; "
                    f"{secs:.1f}s)" if n else f"0/{args.runs} ({secs:.1f}s)")
            ctl = controlled(list(sc.racy.threads), sc.racy.setup, sc.racy.invariant, 2000)
        n, kinds, secs = rate(config(list(sc.fixed.threads), sc.fixed.setup,
                                     sc.fixed.invariant), args.fixed_budget)
        fixed = f"{n}/{args.fixed_budget}{' FALSE ALARM ' + str(kinds) if n else ''} ({secs:.1f}s)"
        rows.append((sc.name, racy, ctl, fixed))
        print(f"| {sc.name} | {racy} | {ctl} | {fixed} |", flush=True)
    if args.no_examples:
        return
    print()
    print("| example test | racy? | perturbed runs failing | controlled (auto) |")
    print("|---|---|---|---|")
    for name, fn, racy in examples():
        runs = args.runs if racy else args.fixed_budget
        n, kinds, secs = rate(config([fn], None, None), runs)
        ctl = controlled([fn], None, None, 200)
        cell = f"{n}/{runs} ({', '.join(f'{k} {v}' for k, v in kinds.items()) or 'none'}; " \
               f"{secs:.1f}s)"
        print(f"| {name} | {'racy' if racy else 'fixed'} | {cell} | {ctl} |", flush=True)


if __name__ == "__main__":
    main()
