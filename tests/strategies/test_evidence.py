"""Evidence: how much a pass is worth, as data; str() is the sentence reports showed."""

from __future__ import annotations

import racecheck
from racecheck.strategies import Evidence

from .conflict_first import ConflictFirst


def _passing(strategy: str) -> racecheck.Result:
    return racecheck.explore([lambda: None, lambda: None], schedules=7, seed=3,
                             strategy=strategy, isolate=False)


def test_portfolio_evidence_counts_each_member() -> None:
    evidence = _passing("portfolio").evidence
    assert evidence == Evidence(7, (("random", 4, ""), ("pct", 3, "depth 2-3")))
    assert evidence.exhaustive_up_to_preemptions is None
    assert str(evidence) == "7 schedules (4 random, 3 PCT depth 2-3)"  # what reports showed


def test_random_and_pct_evidence_read_as_before() -> None:
    random_evidence, pct_evidence = _passing("random").evidence, _passing("pct").evidence
    assert random_evidence.strategies == (("random", 7, ""),)
    assert str(random_evidence) == "7 random schedules"
    assert pct_evidence.strategies == (("pct", 7, "depth 3"),)
    assert str(pct_evidence) == "7 PCT schedules (depth 3)"
    assert str(racecheck.explore([lambda: None], schedules=2, seed=1, isolate=False)) \
        .startswith("racecheck: no failure in 2 schedules (1 random, 1 PCT depth 2-3) (")


def test_a_strategy_from_outside_gets_evidence_without_writing_any() -> None:
    result = racecheck.explore([lambda: None, lambda: None], schedules=3,
                               strategy=ConflictFirst(0), isolate=False)
    assert result.evidence == Evidence(3, (("conflict-first", 3, ""),))
    assert str(result.evidence) == "3 conflict-first schedules"
