"""The bounded exhaustive search: every schedule within the bound, each once, and a proof."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Sequence

import pytest

import racecheck
from racecheck.strategies import BoundedStrategy, ScheduleSummary, Strategy

# --- the contract, against a brute-force enumerator (a simulated program, no threads)


def simulate(strategy: Strategy, steps: Sequence[int], index: int,
             flip: bool = False) -> tuple[tuple[int, ...], ScheduleSummary]:
    """Threads with ``steps`` steps each; returns the order the steps ran in.

    Choice points as the kernel has them: where two or more threads can run,
    ``current`` the thread that ran last if it can go on, else -1.  ``flip``
    makes the program nondeterministic (thread 0 has only one step this time).
    """
    left = list(steps)
    if flip:
        left[0] = 1
    order: list[int] = []
    choices: list[int] = []
    currents: list[int] = []
    options: list[tuple[int, ...]] = []
    last = -1
    while any(left):
        runnable = tuple(t for t, n in enumerate(left) if n)
        if len(runnable) > 1:
            current = last if last in runnable else -1
            chosen = strategy.choose(runnable, current)
            assert chosen in runnable
            choices.append(chosen)
            currents.append(current)
            options.append(runnable)
        else:
            chosen = runnable[0]
        order.append(chosen)
        left[chosen] -= 1
        last = chosen
    summary = ScheduleSummary(index, None, len(order), tuple(choices), tuple(currents),
                              tuple(options))
    return tuple(order), summary


def explore_all(strategy: Strategy, steps: Sequence[int], budget: int = 100_000
                ) -> list[tuple[int, ...]]:
    runs = []
    for index in range(budget):
        if not strategy.begin(index):
            break
        order, summary = simulate(strategy, steps, index)
        strategy.end(summary)
        runs.append(order)
    return runs


def preemptions(order: Sequence[int], steps: Sequence[int]) -> int:
    left = list(steps)
    count, last = 0, -1
    for t in order:
        runnable = [u for u, n in enumerate(left) if n]
        if len(runnable) > 1 and last in runnable and t != last:
            count += 1
        left[t] -= 1
        last = t
    return count


def brute_force(steps: Sequence[int], bound: int) -> set[tuple[int, ...]]:
    """Every interleaving of the threads' steps with at most ``bound`` preemptions."""
    pool = [t for t, n in enumerate(steps) for _ in range(n)]
    return {order for order in set(itertools.permutations(pool))
            if preemptions(order, steps) <= bound}


@pytest.mark.parametrize("steps", [(2, 2), (3, 3), (2, 2, 2), (3, 1, 2), (4, 3)])
@pytest.mark.parametrize("bound", [0, 1, 2, 3])
def test_it_runs_exactly_the_schedules_within_the_bound_each_once(
        steps: tuple[int, ...], bound: int) -> None:
    strategy = BoundedStrategy(seed=0, preemptions=bound)
    runs = explore_all(strategy, steps)
    assert len(runs) == len(set(runs)), "a schedule ran twice"
    assert set(runs) == brute_force(steps, bound)
    evidence = strategy.evidence(len(runs))
    assert evidence.exhaustive_up_to_preemptions == bound
    assert f"every schedule with <= {bound} preemptions" in str(evidence)


def test_a_search_cut_short_is_not_a_proof() -> None:
    strategy = BoundedStrategy(seed=0, preemptions=2)
    runs = explore_all(strategy, (3, 3), budget=5)
    assert len(runs) == 5
    evidence = strategy.evidence(5)
    assert evidence.exhaustive_up_to_preemptions is None
    assert "not complete" in str(evidence)


def test_a_run_that_leaves_its_prefix_makes_it_no_proof() -> None:
    strategy = BoundedStrategy(seed=0, preemptions=1)
    for index in range(100):
        if not strategy.begin(index):
            break
        _order, summary = simulate(strategy, (3, 3), index, flip=index == 2)
        strategy.end(summary)
    assert strategy.diverged
    assert strategy.evidence(index).exhaustive_up_to_preemptions is None


def test_the_bound_is_checked() -> None:
    with pytest.raises(racecheck.InvalidArgument, match="preemptions"):
        BoundedStrategy(seed=0, preemptions=-1)


# --- on real threads


class Account:
    def __init__(self) -> None:
        self.db_value = 0
        self.lock = threading.Lock()


def increase(a: Account) -> None:
    value = a.db_value
    time.sleep(0.1)
    a.db_value = value + 1


def increase_with(a: Account) -> None:
    with a.lock:
        value = a.db_value
        time.sleep(0.1)
        a.db_value = value + 1


def increase_acquire_release(a: Account) -> None:
    a.lock.acquire()
    value = a.db_value
    time.sleep(0.1)
    a.db_value = value + 1
    a.lock.release()


def counted(a: Account) -> bool:
    return a.db_value == 2


@pytest.mark.parametrize("body", [increase_with, increase_acquire_release])
def test_it_proves_the_locked_db_value_within_the_bound(body: object) -> None:
    result = racecheck.explore([body, body], setup=Account, invariant=counted,
                               strategy="bounded", schedules=10_000, seed=1)
    assert result.ok, str(result.failure)
    assert result.evidence.exhaustive_up_to_preemptions == 2
    assert result.schedules_run < 10_000
    assert "every schedule with <= 2 preemptions" in str(result.evidence)


def test_it_finds_the_unlocked_db_value_and_the_token_replays() -> None:
    result = racecheck.explore([increase, increase], setup=Account, invariant=counted,
                               strategy="bounded", schedules=10_000, seed=1)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    again = racecheck.replay(failure.token, [increase, increase], setup=Account,
                             invariant=counted)
    assert again.failure is not None and again.failure.kind == "violation"


def pool_total(workers: int, items: int) -> int:
    """Daemon workers take numbers from a queue and add them up under a lock."""
    q: queue.Queue[int] = queue.Queue()
    lock = threading.Lock()
    total = [0]

    def work() -> None:
        while True:
            n = q.get()
            with lock:
                total[0] += n
            q.task_done()

    for _ in range(workers):
        threading.Thread(target=work, daemon=True).start()
    for n in range(items):
        q.put(n)
    q.join()
    return total[0]


def test_it_proves_a_queue_worker_with_a_daemon_thread_and_join() -> None:
    """The smallest pool: one daemon worker, one item, q.join().  (Two workers are past
    what a search without partial-order reduction covers in a test's time: issue 13.)"""
    def body() -> None:
        assert pool_total(1, 1) == 0

    result = racecheck.check(body, strategy="bounded", schedules=5_000, seed=1, isolate=False)
    assert result.evidence.exhaustive_up_to_preemptions == 2, str(result.evidence)


def test_it_finds_a_lost_update_between_queue_workers() -> None:
    def racy_total(workers: int, items: int) -> int:
        q: queue.Queue[int] = queue.Queue()
        total = [0]

        def work() -> None:
            while True:
                n = q.get()
                value = total[0]
                total[0] = value + n
                q.task_done()

        for _ in range(workers):
            threading.Thread(target=work, daemon=True).start()
        for n in range(items):
            q.put(n + 1)
        q.join()
        return total[0]

    def body() -> None:
        assert racy_total(2, 2) == 3

    with pytest.raises(racecheck.RaceFound) as info:
        racecheck.check(body, strategy="bounded", schedules=5_000, seed=1, isolate=False)
    assert info.value.failure.preemptions <= 2


def test_the_same_seed_runs_the_same_schedules() -> None:
    first = explore_all(BoundedStrategy(seed=3, preemptions=2), (3, 2, 2))
    again = explore_all(BoundedStrategy(seed=3, preemptions=2), (3, 2, 2))
    assert first == again and len(first) > 1


class Counter:
    def __init__(self) -> None:
        self.n = 0


def add_five(c: Counter) -> None:
    for _ in range(5):
        c.n += 1


def test_the_first_failure_has_the_fewest_preemptions_any_failure_has() -> None:
    """All schedules with no preemption run before any with one: ``n += 1`` needs one."""
    result = racecheck.explore([add_five, add_five], setup=Counter,
                               invariant=lambda c: c.n == 10, strategy="bounded",
                               schedules=10_000, seed=2, shrink=False, isolate=False)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    assert failure.found_preemptions == 1 or failure.preemptions == 1
    assert result.schedules_run > 1  # the schedules with no preemption passed first
