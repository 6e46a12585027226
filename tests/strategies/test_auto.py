"""auto, the default: dpor and random/PCT sampling in turn; a proof stops it early."""

from __future__ import annotations

import threading
import types
from typing import Any

import racecheck
from racecheck.strategies import AutoStrategy, ScheduleSummary


def _counter() -> Any:
    return types.SimpleNamespace(n=0, lock=threading.Lock())


def _bump(s: Any) -> None:
    v = s.n
    s.n = v + 1


def _bump_locked(s: Any) -> None:
    with s.lock:
        v = s.n
        s.n = v + 1


def _two(s: Any) -> bool:
    return bool(s.n == 2)


def test_a_proof_ends_the_exploration_before_its_budget() -> None:
    result = racecheck.explore([_bump_locked, _bump_locked], setup=_counter, invariant=_two,
                               strategy="auto", schedules=200, seed=3)
    assert result.ok
    evidence = result.evidence
    assert evidence.exhaustive_up_to_preemptions == 2
    assert evidence.schedules < 40
    names = [name for name, _n, _detail in evidence.strategies]
    assert names[0] == "dpor" and "random" in names
    # dpor ran the even schedules, the sampler the odd ones
    dpor_runs = evidence.strategies[0][1]
    assert dpor_runs == (evidence.schedules + 1) // 2
    assert str(evidence).startswith(f"{evidence.schedules} schedules ({dpor_runs} dpor "
                                    "(exhaustive: every schedule with <= 2 preemptions")


def test_the_budget_ends_first_on_a_test_too_large_for_a_proof() -> None:
    def many(s: Any) -> None:
        for _ in range(6):
            _bump_locked(s)

    result = racecheck.explore([many, many, many], setup=_counter, strategy="auto",
                               schedules=40, seed=3)
    assert result.ok and result.evidence.schedules == 40
    runs = dict((name, n) for name, n, _detail in result.evidence.strategies)
    assert runs["dpor"] == 20 and runs["random"] + runs["pct"] == 20
    assert result.evidence.exhaustive_up_to_preemptions != 2


def test_it_finds_the_lost_update_and_the_token_replays() -> None:
    result = racecheck.explore([_bump, _bump], setup=_counter, invariant=_two,
                               strategy="auto", schedules=200, seed=5)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    again = racecheck.replay(failure.token, [_bump, _bump], setup=_counter, invariant=_two)
    assert again.failure is not None and again.failure.kind == "violation"


def test_the_same_seed_runs_the_same_schedules() -> None:
    def choices(seed: int) -> list[tuple[int, ...]]:
        seen: list[tuple[int, ...]] = []

        class Recording(AutoStrategy):
            def end(self, summary: ScheduleSummary) -> None:
                seen.append(summary.choices)
                super().end(summary)

        racecheck.explore([_bump_locked, _bump_locked, _bump_locked], setup=_counter,
                          strategy=Recording(seed), schedules=30, seed=seed, isolate=False)
        return seen

    assert choices(8) == choices(8)
    assert choices(8) != choices(9)


def test_only_the_search_schedules_log_their_steps() -> None:
    logged: list[bool] = []

    class Recording(AutoStrategy):
        def end(self, summary: ScheduleSummary) -> None:
            logged.append(bool(summary.transitions))
            super().end(summary)

    racecheck.explore([_bump_locked, _bump_locked, _bump_locked], setup=_counter,
                      strategy=Recording(1), schedules=6, seed=1, isolate=False)
    assert logged == [True, False] * 3


def test_a_test_too_large_to_prove_goes_on_with_sampling_only() -> None:
    def long_run(s: Any) -> None:
        for _ in range(400):  # 7 steps each: over STEP_LIMIT in one schedule
            _bump_locked(s)

    result = racecheck.explore([long_run, long_run], setup=_counter, strategy="auto",
                               schedules=6, seed=2, isolate=False)
    assert result.ok
    runs = dict((name, n) for name, n, _detail in result.evidence.strategies)
    assert runs["dpor"] == 1 and runs["random"] + runs["pct"] == 5
    assert "too large to prove: a schedule of" in str(result.evidence)


def test_a_search_that_makes_no_progress_is_given_up_after_its_patience() -> None:
    from racecheck.strategies.auto import PATIENCE

    def many(s: Any) -> None:
        for _ in range(6):
            _bump_locked(s)

    result = racecheck.explore([many, many, many, many], setup=_counter, strategy="auto",
                               schedules=4 * PATIENCE, seed=3, isolate=False)
    runs = dict((name, n) for name, n, _detail in result.evidence.strategies)
    assert runs["dpor"] == PATIENCE
    assert "not complete after 16 schedules" in str(result.evidence)


def test_a_search_whose_proof_is_void_hands_over_to_sampling() -> None:
    # a spin-wait: fairness keeps the spinner out of some choices, so dpor can prove
    # nothing here, and its schedules would only cost more than sampled ones
    def setup() -> Any:
        return types.SimpleNamespace(flag=False)

    def spinner(s: Any) -> None:
        while not s.flag:
            pass

    def setter(s: Any) -> None:
        s.flag = True

    result = racecheck.explore([spinner, setter], setup=setup, strategy="auto",
                               schedules=20, seed=1, isolate=False)
    assert result.ok
    runs = dict((name, n) for name, n, _detail in result.evidence.strategies)
    assert runs["dpor"] < 5, result.evidence
    assert "fairness left a runnable thread out of a choice" in str(result.evidence)
