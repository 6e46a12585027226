"""Random walks: the uniform one, and the sticky one the default's portfolio runs."""

from __future__ import annotations

import types
from typing import Any

import racecheck
from racecheck.strategies import PortfolioStrategy, RandomStrategy, ScheduleSummary
from racecheck.strategies.random import WARM, flips


def _counter(times: int = 0) -> Any:
    return types.SimpleNamespace(n=0, times=times)


def _bumps(s: Any) -> None:
    for _ in range(s.times):
        v = s.n
        s.n = v + 1


def _bump(s: Any) -> None:
    v = s.n
    s.n = v + 1


def _walks(strategy: RandomStrategy, schedules: int, times: int = 400) -> list[ScheduleSummary]:
    """The summaries of ``schedules`` schedules of two threads of ``times`` increments each."""
    seen: list[ScheduleSummary] = []

    class Recording(RandomStrategy):
        def end(self, summary: ScheduleSummary) -> None:
            seen.append(summary)

    recording = Recording(strategy.seed, sticky=strategy.sticky)
    racecheck.explore([_bumps, _bumps], setup=lambda: _counter(times), strategy=recording,
                      schedules=schedules, seed=strategy.seed, isolate=False)
    return seen


def test_a_sticky_walk_switches_far_less_than_the_uniform_one_in_a_long_run() -> None:
    uniform = _walks(RandomStrategy(4), 24)
    sticky = _walks(RandomStrategy(4, sticky=True), 24)
    assert all(len(s.choices) > 3 * WARM for s in uniform)
    assert sum(s.preemptions for s in uniform) > 24 * 600  # about every other choice
    assert sum(s.preemptions for s in sticky) < sum(s.preemptions for s in uniform) / 2


def test_a_run_shorter_than_the_warm_up_is_the_uniform_walk_choice_for_choice() -> None:
    uniform = _walks(RandomStrategy(5), 12, times=40)
    assert all(len(s.choices) < WARM for s in uniform)
    assert [s.choices for s in _walks(RandomStrategy(5, sticky=True), 12, times=40)] == \
        [s.choices for s in uniform]


def test_each_sticky_schedule_is_fixed_by_seed_and_index() -> None:
    first = [s.choices for s in _walks(RandomStrategy(6, sticky=True), 10)]
    assert first == [s.choices for s in _walks(RandomStrategy(6, sticky=True), 10)]
    assert first != [s.choices for s in _walks(RandomStrategy(7, sticky=True), 10)]


def test_past_the_warm_up_a_schedule_without_flips_is_still_the_uniform_walk() -> None:
    seed = 4
    no_flips = [i for i in range(24) if flips(seed, i) == 0]
    some_flips = [i for i in range(24) if flips(seed, i) >= 3]
    assert no_flips and some_flips
    uniform = _walks(RandomStrategy(seed), 24)
    sticky = _walks(RandomStrategy(seed, sticky=True), 24)
    for i in no_flips:
        assert sticky[i].choices == uniform[i].choices
    for i in some_flips:
        assert sticky[i].choices[:WARM] == uniform[i].choices[:WARM]
        assert sticky[i].preemptions < uniform[i].preemptions


def test_a_sticky_walk_finds_a_lost_update_and_its_token_replays() -> None:
    result = racecheck.explore([_bump, _bump], setup=_counter, invariant=lambda s: s.n == 2,
                               strategy=RandomStrategy(3, sticky=True), schedules=100, seed=3)
    assert result.failure is not None and result.failure.kind == "violation"
    again = racecheck.replay(result.failure.token, [_bump, _bump], setup=_counter,
                             invariant=lambda s: s.n == 2)
    assert again.failure is not None and again.failure.kind == "violation"


def test_the_portfolios_walks_are_sticky_with_seeds_of_their_own() -> None:
    walks = [m for m in PortfolioStrategy(1).members if isinstance(m, RandomStrategy)]
    assert [w.sticky for w in walks] == [True, True]
    assert walks[0].seed != walks[1].seed


def test_the_random_strategy_users_ask_for_stays_uniform() -> None:
    from racecheck.strategies import make_strategy

    walk = make_strategy("random", 1)
    assert isinstance(walk, RandomStrategy) and not walk.sticky
