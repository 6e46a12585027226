"""The corpus as a regression test: every racy side found with its verdict, every fixed side clean.

A quick budget (the full measured runs are bench/run.py's job): racy sides get
up to 1000 schedules and are found within a few; fixed and correct sides must
pass 100 schedules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import racecheck

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.corpus import load_all

SCENARIOS = load_all()
SEED = 1


def test_the_corpus_is_large_and_covers_every_category() -> None:
    from bench.corpus._scenario import CATEGORIES

    assert len(SCENARIOS) >= 25
    assert {s.category for s in SCENARIOS} == set(CATEGORIES)
    assert sum(s.category == "deadlock" for s in SCENARIOS) >= 3
    assert all(s.citation for s in SCENARIOS)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.racy is not None],
                         ids=lambda s: s.name)
def test_racy_side_is_found_with_its_verdict(scenario) -> None:  # type: ignore[no-untyped-def]
    assert not scenario.missing(), f"install the bench extra: {scenario.missing()}"
    side = scenario.racy
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=side.invariant,
                               schedules=1000, seed=SEED, watchdog=2)
    assert result.failure is not None, f"{scenario.name}: no failure in 1000 schedules"
    assert result.failure.kind == scenario.expect, result.failure.report


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_fixed_side_passes(scenario) -> None:  # type: ignore[no-untyped-def]
    assert not scenario.missing(), f"install the bench extra: {scenario.missing()}"
    side = scenario.fixed
    result = racecheck.explore(list(side.threads), setup=side.setup, invariant=side.invariant,
                               schedules=100, seed=SEED, watchdog=2)
    assert result.ok, result.failure.report if result.failure else ""
