"""A strategy from tests/ plugs in with no change to the kernel, and sees pending accesses."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence

import racecheck
import racecheck.strategies
from racecheck.strategies import Access

from .conflict_first import ConflictFirst


class Box:
    def __init__(self) -> None:
        self.x = 0
        self.lock = threading.Lock()


def increment(box: Box) -> None:
    seen = box.x
    box.x = seen + 1


def increment_locked(box: Box) -> None:
    with box.lock:
        increment(box)


def two_increments(box: Box) -> bool:
    return box.x == 2


def test_pending_accesses_name_the_object_and_attribute() -> None:
    strategy = ConflictFirst(seed=1)
    racecheck.explore([increment, increment], setup=Box, invariant=two_increments,
                      schedules=5, seed=1, strategy=strategy, isolate=False)
    attrs = {(a.kind, a.name) for a in strategy.seen if a.target is not None}
    assert ("read", "x") in attrs and ("write", "x") in attrs
    reads = [a for a in strategy.seen if a.kind == "read" and a.name == "x"]
    writes = [a for a in strategy.seen if a.kind == "write" and a.name == "x"]
    assert writes[0].conflicts(reads[0]) and reads[0].conflicts(writes[0])
    assert not reads[0].conflicts(reads[-1])  # two reads commute


def test_locks_report_their_operations_as_synchronisation() -> None:
    strategy = ConflictFirst(seed=2)
    racecheck.explore([increment_locked, increment_locked], setup=Box,
                      invariant=two_increments, schedules=5, seed=2, strategy=strategy,
                      isolate=False)
    ops = {a.name for a in strategy.seen if a.kind == "sync"}
    assert {"acquire", "release"} <= ops
    acquire = next(a for a in strategy.seen if a.name == "acquire")
    assert acquire.conflicts(Access("sync", acquire.target, "release"))


def test_it_finds_the_lost_update_at_once_and_passes_the_fix() -> None:
    for seed in range(5):
        result = racecheck.explore([increment, increment], setup=Box, invariant=two_increments,
                                   schedules=50, seed=seed, strategy=ConflictFirst(seed))
        assert result.failure is not None and result.failure.kind == "violation"
        assert result.failure.schedule_index <= 2, result.failure.schedule_index
        replayed = racecheck.replay(result.failure.token, [increment, increment], setup=Box,
                                    invariant=two_increments)
        assert not replayed.ok
    fixed = racecheck.explore([increment_locked, increment_locked], setup=Box,
                              invariant=two_increments, schedules=50, seed=0,
                              strategy=ConflictFirst(0))
    assert fixed.ok and fixed.schedules_run == 50


class Summaries(ConflictFirst):
    """Keeps every ScheduleSummary end() receives (end runs in this process)."""

    wants_accesses = False

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.summaries: list[racecheck.strategies.ScheduleSummary] = []

    def end(self, summary: racecheck.strategies.ScheduleSummary) -> None:
        self.summaries.append(summary)


def test_end_gets_every_choice_with_its_current_thread() -> None:
    """Preemptions are countable: a choice of another thread than the one that could go on."""
    strategy = Summaries(seed=4)
    racecheck.explore([increment_locked, increment_locked], setup=Box, invariant=two_increments,
                      schedules=20, seed=4, strategy=strategy)
    assert len(strategy.summaries) == 20
    for summary in strategy.summaries:
        assert len(summary.currents) == len(summary.choices) > 0
        expected = sum(1 for c, cur in zip(summary.choices, summary.currents, strict=True)
                       if cur != -1 and c != cur)
        assert summary.preemptions == expected
    assert any(s.preemptions > 0 for s in strategy.summaries)
    assert any(-1 in s.currents for s in strategy.summaries)  # a blocked thread handed on


def test_container_methods_and_items_are_accesses_to_the_container() -> None:
    """``items.append`` and ``d[k] = v`` touch the container: a check-then-act on a dict."""
    cache: dict[str, int] = {}
    log: list[str] = []

    def fill(_: object) -> None:
        if "k" not in cache:
            cache["k"] = len(log)
            log.append("filled")

    strategy = ConflictFirst(seed=5)
    racecheck.explore([fill, fill], setup=lambda: cache.clear() or log.clear(),
                      schedules=3, seed=5, strategy=strategy, isolate=False)
    on_cache = {a.kind for a in strategy.seen if a.target == id(cache)}
    on_log = {a.kind for a in strategy.seen if a.target == id(log)}
    assert on_cache == {"read", "write"} and "write" in on_log
    write = next(a for a in strategy.seen if a.target == id(cache) and a.kind == "write")
    read = next(a for a in strategy.seen if a.target == id(cache) and a.kind == "read")
    assert write.name is None and write.conflicts(read)


def test_a_renderer_from_the_traces_public_data() -> None:
    """Issue 12: the trace is data; a renderer outside racecheck draws it."""
    from .columns import render

    result = racecheck.explore([increment, increment], setup=Box, invariant=two_increments,
                               schedules=50, seed=0)
    failure = result.failure
    assert failure is not None and failure.trace is not None
    trace = failure.trace
    kinds = {s.kind for s in trace.steps}
    assert {"read", "write"} <= kinds
    assert trace.lost_update_steps, "the lost update names its two writes by step index"
    losing, lost = trace.lost_update_steps[0]
    assert trace.steps[losing].kind == trace.steps[lost].kind == "write"
    assert trace.steps[losing].tid != trace.steps[lost].tid
    assert any(s.preempted for s in trace.steps)
    text = render(trace)
    assert "T1" in text and "T2" in text
    assert "box.x = 1" in text
    losing_line = next(ln for ln in text.splitlines() if "!" in ln)
    lost_line_no = int(re.search(r"\(loses (\d+)\)", losing_line).group(1))  # type: ignore[union-attr]
    lost_line = text.splitlines()[lost_line_no]
    assert "box.x = 1" in lost_line and lost_line != losing_line


class TimedSeen(ConflictFirst):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.timed: set[int] = set()

    def choose_point(self, point: racecheck.strategies.ChoicePoint) -> int:
        assert set(point.timed) <= set(point.options)
        self.timed.update(point.timed)
        return super().choose_point(point)


def test_a_choice_point_says_which_options_are_timeouts() -> None:
    """Under eager_timeouts a sleeper is an option; choosing it ends the sleep now."""
    import time

    def sleeper(box: Box) -> None:
        time.sleep(5)
        box.x += 1

    def worker(box: Box) -> None:
        for _ in range(3):
            box.x += 1

    strategy = TimedSeen(seed=6)
    racecheck.explore([sleeper, worker], setup=Box, schedules=10, seed=6, strategy=strategy,
                      eager_timeouts=True, isolate=False)
    assert strategy.timed == {0}  # T1, the sleeper
    plain = TimedSeen(seed=6)
    racecheck.explore([sleeper, worker], setup=Box, schedules=10, seed=6, strategy=plain,
                      isolate=False)
    assert plain.timed == set()


class ChooserOnly(racecheck.strategies.Strategy):
    """``choose`` is never called: the schedule's chooser makes every choice."""

    name = "chooser-only"

    def __init__(self) -> None:
        self.asked = 0

    def begin(self, index: int) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        raise AssertionError("choose is bypassed by chooser()")

    def chooser(self) -> Callable[[Sequence[int], int], int]:
        def last(options: Sequence[int], current: int) -> int:
            self.asked += 1
            return options[-1]
        return last


def test_the_schedule_s_chooser_makes_its_choices() -> None:
    strategy = ChooserOnly()
    result = racecheck.explore([increment, increment], setup=Box, schedules=3, seed=0,
                               strategy=strategy, isolate=False)
    assert result.schedules_run == 3 and strategy.asked > 0


def test_the_portfolio_and_auto_hand_over_their_member_s_chooser() -> None:
    """One call per choice however deep the delegation: the member's own method."""
    portfolio = racecheck.strategies.PortfolioStrategy(0)
    for index in range(4):
        assert portfolio.begin(index)
        assert portfolio.chooser().__self__ is portfolio.members[index]  # type: ignore[attr-defined]
    auto = racecheck.strategies.AutoStrategy(0)
    assert auto.begin(0)
    assert auto.chooser().__self__ is auto.search  # type: ignore[attr-defined]
