"""dpor on the corpus: every racy side found, and the same final states as brute force.

The full comparison over every scenario is ``bench/dpor_differential.py``; here
the scenarios whose conflicts taught the step effects something (an instance
``__dict__`` written as a dict, a timed-out acquire) and a few quick others, so
a regression in ``_core/effects.py`` fails the suite.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

import racecheck
from racecheck.strategies import BoundedStrategy, DporStrategy, Strategy

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.corpus import load_all

SCENARIOS = {s.name: s for s in load_all()}


@pytest.mark.parametrize("name", sorted(n for n, s in SCENARIOS.items() if s.racy is not None))
def test_dpor_finds_every_racy_side(name: str) -> None:
    side = SCENARIOS[name].racy
    assert side is not None
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=side.invariant,
                               strategy="dpor", schedules=1500, seed=0, watchdog=2)
    assert result.failure is not None, f"{name}: dpor did not find it in 1500 schedules"
    assert result.failure.kind == SCENARIOS[name].expect


def _final_states(strategy: Strategy, side: Any) -> tuple[set[str], racecheck.Result]:
    seen: set[str] = set()

    def record(state: Any) -> None:
        try:
            side.invariant(state)
            seen.add("ok")
        except AssertionError as exc:
            seen.add(re.sub(r"0x[0-9a-f]+", "0x", str(exc)))

    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=record,
                               strategy=strategy, schedules=3000, isolate=False, watchdog=2,
                               shrink=False)
    return seen, result


@pytest.mark.parametrize("name,which", [
    ("s_cached_property_twice", "racy"), ("s_deadlock_timed_abba", "racy"),
    ("s_db_value_sleep", "racy"), ("s_cachetools_currsize", "racy"),
    ("s_future_cancel_set_result", "fixed"), ("s_torn_metric_snapshot", "racy"),
])
def test_dpor_reaches_every_final_state_brute_force_reaches(name: str, which: str) -> None:
    side = getattr(SCENARIOS[name], which)
    brute, brute_result = _final_states(BoundedStrategy(0, preemptions=2), side)
    dpor, dpor_result = _final_states(DporStrategy(0, preemptions=2), side)
    assert brute_result.evidence.exhaustive_up_to_preemptions == 2
    assert dpor_result.evidence.exhaustive_up_to_preemptions == 2
    assert dpor == brute
    assert dpor_result.schedules_run < brute_result.schedules_run
