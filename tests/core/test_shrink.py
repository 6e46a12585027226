"""Shrinking: the reported schedule is the simplest found that fails the same way, and replays."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence

import pytest

import racecheck
from racecheck._core import shrink
from racecheck._core.shrink import Guided, Run
from racecheck.strategies import Strategy
from racecheck.strategies.dpor import DporStrategy

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


# A save/patch/restore in each of two threads (``warnings.catch_warnings``): one
# leaks its patch only when both threads are preempted inside their blocks, so
# the fewest preemptions a failure has is 2.  Each step's effect is given as the
# kernel logs it, so ``dpor`` can run on it.
_SHARED = ["w", 1, "filters"]
SAVES = [[["r", 1, "filters"]], [_SHARED], [["w", 10, "mine"]], [["w", 10, "mine"]], [_SHARED]]


def run_saves(strategy: Strategy) -> Run:
    """The two threads' five steps each under ``strategy``; a leaked patch fails."""
    pc, saved, filters = [0, 0], [(), ()], ()
    choices: list[int] = []
    currents: list[int] = []
    options_at: list[tuple[int, ...]] = []
    transitions: list[list[object]] = []
    current = -1
    while pc[0] < len(SAVES) or pc[1] < len(SAVES):
        options = tuple(t for t in (0, 1) if pc[t] < len(SAVES))
        point = -1
        if len(options) == 2:
            point = len(choices)
            chosen = strategy.choose(options, current)
            choices.append(chosen)
            currents.append(current)
            options_at.append(options)
        else:
            chosen = options[0]
        step = pc[chosen]
        if step == 0:
            saved[chosen] = filters
        elif step == 1:
            filters = (*filters, chosen)
        elif step == 4:
            filters = saved[chosen]
        transitions.append([chosen, point, [[a[0], a[1] + (chosen if a[2] == "mine" else 0),
                                             a[2]] for a in SAVES[step]]])
        pc[chosen] += 1
        current = chosen if pc[chosen] < len(SAVES) else -1
    verdict = ("violation",) if filters else ("pass",)
    return Run(tuple(choices), tuple(currents), len(transitions), verdict, tuple(options_at),
               tuple(transitions))


def wild_saves() -> Run:
    """A failing run of ``SAVES`` with more preemptions than it needs."""
    rng = random.Random(5)

    class Coin(Guided):
        def choose(self, options: Sequence[int], current: int) -> int:
            return rng.choice(options)

    while True:
        run = run_saves(Coin({}))
        if run.signature == ("violation",) and run.preemptions >= 3:
            return run


def test_below_two_preemptions_dpor_finds_the_fewest_in_fewer_runs() -> None:
    start = wild_saves()
    used: list[Strategy] = []

    def run(strategy: Strategy) -> Run:
        used.append(strategy)
        return run_saves(strategy)

    reduced, reduced_runs = shrink.shrink(start, run, steps=True)
    assert any(isinstance(s, DporStrategy) for s in used)
    every, every_runs = shrink.shrink(start, run_saves)  # single preemptions, then bounded
    assert reduced.preemptions == every.preemptions == 2
    assert reduced.signature == start.signature
    assert reduced_runs < every_runs


def test_no_candidate_below_the_floor_is_run() -> None:
    """A search that proved every schedule with fewer than 2 preemptions passes leaves
    shrinking nothing to run below 2."""
    start = wild_saves()
    used: list[Strategy] = []

    def run(strategy: Strategy) -> Run:
        used.append(strategy)
        return run_saves(strategy)

    best, tried = shrink.shrink(start, run, floor=2, steps=True)
    assert best.preemptions == 2 and tried == len(used) > 0
    assert all(len(s.preempt) >= 2 for s in used if isinstance(s, Guided))
    assert all(s.level >= 2 for s in used if isinstance(s, DporStrategy))
    used.clear()
    assert shrink.shrink(start, run, floor=start.preemptions) == (start, 0) and not used


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


class Settings:
    """``warnings.catch_warnings`` in miniature: save, patch, restore."""

    def __init__(self) -> None:
        self.filters: tuple[str, ...] = ()


def catch(name: str) -> Callable[[Settings], None]:
    def block(s: Settings) -> None:
        saved = s.filters
        s.filters = (name, *saved)
        s.filters = saved

    return block


def test_a_failure_at_the_bound_the_search_proved_is_not_shrunk() -> None:
    """``dpor`` finds a bug with the fewest preemptions it needs, having completed the
    smaller bounds: nothing simpler can fail, so no candidate is run."""
    threads = [catch("ignore"), catch("error")]
    result = racecheck.explore(threads, setup=Settings, invariant=lambda s: s.filters == (),
                               strategy="dpor", seed=0)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    assert failure.preemptions == 2 and failure.shrink_runs == 0
    assert result.evidence.exhaustive_up_to_preemptions == 1
    again = racecheck.replay(failure.token, threads, setup=Settings,
                             invariant=lambda s: s.filters == ())
    assert again.failure is not None and again.failure.kind == "violation"


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
