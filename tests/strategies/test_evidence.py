"""Evidence: how much a pass is worth, as data; str() is the sentence reports showed."""

from __future__ import annotations

import random
from collections.abc import Sequence

import racecheck
from racecheck.strategies import Evidence

from .conflict_first import ConflictFirst


def _passing(strategy: str) -> racecheck.Result:
    return racecheck.explore([lambda: None, lambda: None], schedules=7, seed=3,
                             strategy=strategy, isolate=False)


def test_portfolio_evidence_counts_each_member() -> None:
    evidence = _passing("portfolio").evidence
    assert evidence.schedules == 7
    assert evidence.strategies == (("random", 4, ""), ("pct", 3, "depth 2-3"))
    assert evidence.exhaustive_up_to_preemptions is None
    # PCT depth 2 ran schedules 1 and 5, depth 3 schedule 3; k is at least 16 choice
    # points, and these bodies run one thread at a time (n = 1 or 2).
    (d2, p2), (d3, p3) = evidence.pct_miss
    assert (d2, d3) == (2, 3) and 0 < p2 < p3 < 1
    assert str(evidence).startswith("7 schedules (4 random, 3 PCT depth 2-3); a bug of depth 2 "
                                    "is missed with probability <= ")


def test_pcts_bound_is_burckhardts_and_tightens_with_runs() -> None:
    from racecheck.strategies import PCTStrategy, ScheduleSummary

    pct = PCTStrategy(seed=1, depth=2)
    for index in range(10):
        pct.begin(index)
        pct.end(ScheduleSummary(index, None, 40, tuple([0, 1] * 10), tuple([1, 0] * 10)))
    assert (pct.n, pct.k, pct.runs) == (2, 20, 10)
    assert pct.miss_bound() == (1 - 1 / (2 * 20)) ** 10
    pct.begin(10)
    assert pct.miss_bound() < (1 - 1 / (2 * 20)) ** 10
    evidence = pct.evidence(11)
    assert evidence.pct_miss == ((2, pct.miss_bound()),)


def test_random_and_pct_evidence_read_as_before() -> None:
    random_evidence, pct_evidence = _passing("random").evidence, _passing("pct").evidence
    assert random_evidence.strategies == (("random", 7, ""),)
    assert str(random_evidence) == "7 random schedules"
    assert pct_evidence.strategies == (("pct", 7, "depth 3"),)
    assert str(pct_evidence).startswith("7 PCT schedules (depth 3); a bug of depth 3 is missed")
    assert str(racecheck.explore([lambda: None], schedules=2, seed=1, isolate=False,
                                 strategy="portfolio")) \
        .startswith("racecheck: no failure in 2 schedules (1 random, 1 PCT depth 2-3)")


def test_a_strategy_from_outside_gets_evidence_without_writing_any() -> None:
    result = racecheck.explore([lambda: None, lambda: None], schedules=3,
                               strategy=ConflictFirst(0), isolate=False)
    assert result.evidence == Evidence(3, (("conflict-first", 3, ""),))
    assert str(result.evidence) == "3 conflict-first schedules"


def test_pct_takes_the_first_of_the_highest_priorities_as_max_does() -> None:
    """PCT's own choice of the highest priority (two options without ``max``) decides
    exactly as ``max`` with a key did, ties included: the same seed, the same schedules."""
    from racecheck.strategies.pct import _highest

    rng = random.Random(3)
    for _ in range(2000):
        options = tuple(sorted(rng.sample(range(5), rng.choice((2, 2, 3, 4)))))
        priority = {tid: float(rng.choice((0, 1, 2, 2.5))) for tid in options}
        assert _highest(options, priority) == max(options, key=priority.__getitem__)


class _PCTAsBefore(racecheck.strategies.PCTStrategy):
    """PCT's choose as it was written first (max with a key), the reference."""

    def choose(self, options: Sequence[int], current: int) -> int:
        self._step += 1
        for tid in options:
            if tid not in self._priority:
                self._priority[tid] = self.depth + self._rng.random()
        if self._changes and self._step >= self._changes[0]:
            self._changes.pop(0)
            victim = (current if current in self._priority
                      else max(options, key=self._priority.__getitem__))
            self._priority[victim] = float(len(self._changes))
        return max(options, key=self._priority.__getitem__)


def test_pct_chooses_as_its_first_version_did() -> None:
    """The fast paths of PCT's choose change no decision: same seed, same schedules."""
    rng = random.Random(11)
    for seed in range(40):
        for depth in (1, 2, 3):
            new, old = racecheck.strategies.PCTStrategy(seed, depth), _PCTAsBefore(seed, depth)
            new.k = old.k = rng.choice((4, 16, 64))
            for index in range(3):
                new.begin(index)
                old.begin(index)
                current = -1
                for _ in range(80):
                    options = tuple(sorted(rng.sample(range(4), rng.choice((2, 2, 2, 3)))))
                    if rng.random() < 0.2:
                        current = -1
                    chosen = new.choose(options, current)
                    assert chosen == old.choose(options, current)
                    current = chosen
