"""Shrinking: the reported schedule is the simplest found that fails the same way, and replays."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

import racecheck
from racecheck._core import shrink
from racecheck._core.shrink import Guided, Run
from racecheck.strategies import Strategy

# --- the algorithm, on a simulated program (no threads)


def simulate(strategy: Strategy, steps: Sequence[int] = (3, 3)) -> Run:
    """Two threads of ``steps`` points each (read, ..., write); a lost update fails.

    Choices are asked as the kernel asks them: at points where both threads can
    run, with ``current`` the thread that reached the point (-1 when it finished).
    """
    pc = [0, 0]
    trace: list[tuple[int, int]] = []
    choices: list[int] = []
    currents: list[int] = []
    options_at: list[tuple[int, ...]] = []
    current = -1
    while pc[0] < steps[0] or pc[1] < steps[1]:
        options = [t for t in (0, 1) if pc[t] < steps[t]]
        if len(options) == 2:
            chosen = strategy.choose(options, current)
            choices.append(chosen)
            currents.append(current)
            options_at.append(tuple(options))
        else:
            chosen = options[0]
        trace.append((chosen, pc[chosen]))
        pc[chosen] += 1
        current = chosen if pc[chosen] < steps[chosen] else -1
    order = {event: i for i, event in enumerate(trace)}

    def lost(a: int, b: int) -> bool:  # b wrote between a's read and a's write
        return order[(a, 0)] < order[(b, steps[b] - 1)] < order[(a, steps[a] - 1)]

    verdict = ("violation",) if lost(0, 1) or lost(1, 0) else ("pass",)
    return Run(tuple(choices), tuple(currents), len(trace), verdict, tuple(options_at))


def run_guided(guided: Strategy) -> Run | None:
    found = simulate(guided)
    return found if found.signature == ("violation",) else None


def wild() -> Run:
    """A run that switches threads at every choice point."""
    class Alternate(Guided):
        def choose(self, options: Sequence[int], current: int) -> int:
            return options[1] if current == options[0] else options[0]

    return simulate(Alternate({}))


def test_a_many_preemption_lost_update_shrinks_to_one_preemption() -> None:
    start = wild()
    assert start.signature == ("violation",) and start.preemptions >= 3
    best, tried = shrink.shrink(start, run_guided)
    assert best.preemptions == 1 and best.signature == start.signature
    assert 0 < tried <= 10
    assert simulate(Guided(*best.named())) == best  # its named preemptions replay it


def test_a_preemption_keeps_its_place_when_earlier_ones_are_dropped() -> None:
    """Named by the preempted thread's own count, the third preemption of a run means
    the same place in thread 0's life with or without the first two."""
    start = simulate(Guided({(0, 0): 1, (1, 0): 0, (0, 2): 1}), steps=(5, 5))
    preempted, _free = start.named()
    assert preempted == {(0, 0): 1, (1, 0): 0, (0, 2): 1}
    alone = simulate(Guided({(0, 2): 1}), steps=(5, 5))
    assert alone.named()[0] == {(0, 2): 1}
    assert alone.choices[:4] == (0, 0, 0, 1)  # the start, thread 0's choices 0-2: gave way


def test_a_simpler_schedule_that_fails_differently_is_not_taken() -> None:
    start = wild()

    def fails_elsewhere(guided: Strategy) -> Run | None:
        found = simulate(guided)
        return Run(found.choices, found.currents, found.steps, ("violation", "other line"),
                   found.options)

    best, _tried = shrink.shrink(start, fails_elsewhere)
    assert best is start


def test_shrinking_stops_at_its_run_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shrink, "MAX_RUNS", 2)
    start = wild()
    calls: list[Strategy] = []

    def never(guided: Strategy) -> Run | None:
        calls.append(guided)
        return None

    best, tried = shrink.shrink(start, never)
    assert best is start and tried == 2 == len(calls)


def test_a_violation_is_the_same_only_with_the_same_exception_at_the_same_line() -> None:
    tb = 'Traceback:\n  File "a.py", line 3, in f\n  File "b.py", line 9, in g\n'
    here = shrink.signature("violation", AssertionError(), tb)
    assert here == ("violation", "AssertionError", "b.py:9")
    assert shrink.signature("violation", KeyError(), tb) != here
    assert shrink.signature("violation", AssertionError(), tb.replace("9", "10")) != here
    assert shrink.signature("deadlock", None, "") == ("deadlock",)


# --- on real threads


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.a = threading.Lock()
        self.b = threading.Lock()


def add_ten(c: Counter) -> None:
    for _ in range(10):
        c.n += 1


def test_a_lost_update_is_reported_with_one_preemption_and_replays() -> None:
    result = racecheck.explore([add_ten, add_ten], setup=Counter,
                               invariant=lambda c: c.n == 20, strategy="random",
                               schedules=50, seed=11, isolate=False)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    assert failure.found_preemptions > 1  # the random walk switches all the time
    assert failure.preemptions == 1 and failure.shrink_runs > 0
    assert f"with {failure.found_preemptions} preemptions, shrunk to 1" in failure.report
    again = racecheck.replay(failure.token, [add_ten, add_ten], setup=Counter,
                             invariant=lambda c: c.n == 20, isolate=False)
    assert again.failure is not None and again.failure.kind == "violation"
    assert again.failure.trace is not None and again.failure.trace.lost_update_steps

    unshrunk = racecheck.explore([add_ten, add_ten], setup=Counter,
                                 invariant=lambda c: c.n == 20, strategy="random",
                                 schedules=50, seed=11, isolate=False, shrink=False)
    assert unshrunk.failure is not None
    assert unshrunk.failure.shrink_runs == 0
    assert unshrunk.failure.preemptions == unshrunk.failure.found_preemptions > 1
    assert len(unshrunk.failure.token) >= len(failure.token)
    assert "shrunk" not in unshrunk.failure.report


def a_then_b(c: Counter) -> None:
    with c.a, c.b:
        c.n += 1


def b_then_a(c: Counter) -> None:
    with c.b, c.a:
        c.n += 1


def test_a_deadlock_shrinks_to_one_preemption_in_a_child_process() -> None:
    result = racecheck.explore([a_then_b, b_then_a], setup=Counter, strategy="random",
                               schedules=100, seed=3)
    failure = result.failure
    assert failure is not None and failure.kind == "deadlock"
    assert failure.preemptions <= 1 <= failure.found_preemptions
    assert len(failure.cycle) == 2
    again = racecheck.replay(failure.token, [a_then_b, b_then_a], setup=Counter)
    assert again.failure is not None and again.failure.kind == "deadlock"


def test_shrink_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACECHECK_SHRINK", "false")
    assert racecheck.Settings.from_env().shrink is False
    monkeypatch.setenv("RACECHECK_SHRINK", "maybe")
    with pytest.raises(racecheck.InvalidArgument, match="RACECHECK_SHRINK"):
        racecheck.Settings.from_env()
    assert racecheck.Settings().shrink is True


def test_the_bounded_stage_finds_the_fewest_preemptions_from_any_start() -> None:
    """Iterative context bounding below the best run's preemptions: the first schedule
    that fails alike has the fewest any such schedule has (here 1: none loses nothing)."""
    start = wild()
    budget = shrink._Budget(run_guided_or_pass, start)
    shrink._bounded_below(budget)
    assert budget.best.preemptions == 1 and budget.best.signature == start.signature
    assert 1 < budget.tried < 20


def run_guided_or_pass(strategy: Strategy) -> Run | None:
    return simulate(strategy)  # passes included: the bounded search goes on from them
