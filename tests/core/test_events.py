"""The event stream: an observer sees steps, choices, locks and threads without kernel changes."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import racecheck
from racecheck._core import runner
from racecheck._core.access import Access
from racecheck._core.events import Observer
from racecheck._core.threads import ManagedThread, Resource
from racecheck.strategies import RandomStrategy


class Box:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()


def locked_add(s: Box) -> None:
    with s.lock:
        s.n += 1


def racy_add(s: Box) -> None:
    s.n += 1


def config(bodies: list[Any], observers: list[Observer], schedules: int = 5) -> runner.Config:
    return runner.Config(threads=bodies, setup=Box, invariant=None, teardown=None,
                         schedules=schedules, seed=3, time_budget=None, max_steps=100_000,
                         max_threads=8, watchdog=5.0,
                         names=[f"T{i + 1}" for i in range(len(bodies))], isolate=False,
                         observers=observers)


class Tally(Observer):
    """Counts every event; checks the lock events pair up per thread."""

    def __init__(self) -> None:
        self.events: Counter[str] = Counter()
        self.held: Counter[str] = Counter()
        self.steps_by_thread: Counter[str] = Counter()

    def step(self, mt: ManagedThread, frame: Any, offset: int, access: Access | None) -> None:
        self.events["step"] += 1
        self.steps_by_thread[mt.name] += 1

    def choice(self, current: int, chosen: int) -> None:
        self.events["choice"] += 1

    def acquired(self, mt: ManagedThread, resource: Resource) -> None:
        self.events["acquired"] += 1
        self.held[mt.name] += 1

    def released(self, mt: ManagedThread, resource: Resource) -> None:
        self.events["released"] += 1
        self.held[mt.name] -= 1

    def thread_started(self, mt: ManagedThread) -> None:
        self.events["started"] += 1

    def thread_done(self, mt: ManagedThread) -> None:
        self.events["done"] += 1


def test_an_observer_sees_every_thread_lock_and_step() -> None:
    tally = Tally()
    result = runner.explore(config([locked_add, locked_add], [tally]), RandomStrategy(3))
    assert result.ok and result.schedules_run == 5
    assert tally.events["started"] == tally.events["done"] == 2 * 5
    assert tally.events["acquired"] == tally.events["released"] == 2 * 5
    assert set(tally.held.values()) == {0}  # every acquire has its release, per thread
    assert tally.steps_by_thread["T1"] > 0 and tally.steps_by_thread["T2"] > 0
    assert tally.events["choice"] > 0


class Writes(Observer):
    """Wants decoded accesses without a strategy that asks for them."""

    wants_accesses = True

    def __init__(self) -> None:
        self.writes: list[tuple[str, Access]] = []

    def step(self, mt: ManagedThread, frame: Any, offset: int, access: Access | None) -> None:
        if access is not None and access.kind == "write" and access.name == "n":
            self.writes.append((mt.name, access))


def test_an_observer_that_wants_accesses_gets_them_decoded() -> None:
    writes = Writes()
    runner.explore(config([racy_add, racy_add], [writes], schedules=1), RandomStrategy(1))
    assert sorted(name for name, _ in writes.writes) == ["T1", "T2"]
    (_, first), (_, second) = writes.writes
    assert first.target == second.target is not None  # the same Box, by identity
    assert first.conflicts(second)


class ChoicesOnly(Observer):
    def __init__(self) -> None:
        self.chosen: list[int] = []

    def choice(self, current: int, chosen: int) -> None:
        self.chosen.append(chosen)


def test_an_observer_of_choices_only_keeps_points_on_the_fast_path() -> None:
    from racecheck._core.execution import Execution

    only = ChoicesOnly()
    ex = Execution(RandomStrategy(1), max_steps=10, max_threads=2, observers=[only])
    assert not ex.watched and ex.hooks["step"] == [] and ex.hooks["choice"] == [only.choice]
    assert not Execution(RandomStrategy(1), max_steps=10, max_threads=2).watched
    assert Execution(RandomStrategy(1), max_steps=10, max_threads=2, observers=[Tally()]).watched
    result = runner.explore(config([racy_add, racy_add], [only], schedules=3), RandomStrategy(2))
    assert only.chosen and set(only.chosen) <= {0, 1, 2}
    assert result.schedules_run == 3


def deadlocking(s: Box) -> None:
    with s.lock, s.lock:
        pass


def test_the_recorded_trace_carries_lock_events_as_data() -> None:
    def body(s: Box) -> None:
        with s.lock:
            s.n += 1
        assert s.n == 1, "second thread came first"

    for isolate in (False, True):
        result = racecheck.explore([body, body], setup=Box, schedules=50, seed=4, isolate=isolate)
        failure = result.failure
        assert failure is not None and failure.trace is not None, isolate
        events = failure.trace.sync_events
        ops = [(failure.trace.steps[e.step].thread, e.op) for e in events]
        assert ("T1", "acquire") in ops and ("T1", "release") in ops, ops
        assert all(e.resource.startswith("Lock made at") for e in events), events
        for e in events:  # each event belongs to a step of its own thread
            assert failure.trace.steps[e.step].tid == e.tid


def test_code_generated_for_racecheck_classes_has_no_points_but_user_dataclasses_do() -> None:
    """A dataclass's ``__init__`` is compiled from a string: its file is ``<string>``.
    Built for racecheck's own data (an Access in a lock shim, a SyncEvent in an observer),
    a point inside it changed the schedule a report replays; built for the user's class,
    it writes shared attributes and must keep its points."""
    import dataclasses

    from racecheck._core import instrument
    from racecheck.trace import SyncEvent

    for ours in (Access, SyncEvent):
        init = ours.__init__
        assert init.__code__.co_filename.startswith("<")
        assert instrument.analyse(init.__code__, init.__globals__) == frozenset()

    @dataclasses.dataclass
    class Users:
        n: int

    init = Users.__init__
    assert instrument.analyse(init.__code__, init.__globals__)
