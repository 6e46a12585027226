"""jobs=N: one exploration's schedules spread over worker processes, booked in order.

What must hold: the same verdict, the same failing schedule, the same token
and the same schedules run as jobs=1, whatever finishes first; nothing left
running afterwards.  Speed is measured in bench/parallel.py, not here.
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any

import pytest

import racecheck
from racecheck._core import isolate, raw

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()
        self.seen: list[int] = []


def bump(s: Counter) -> None:
    # steps around the race, so PCT finds it only after it stopped learning
    # (pct.LEARN schedules): at schedule 159-261 with the seeds used here
    for i in range(30):
        s.seen.append(i)
    v = s.n
    s.n = v + 1
    for i in range(30):
        s.seen.append(i)


def bump_locked(s: Counter) -> None:
    for _ in range(6):
        with s.lock:
            s.n += 1


def both_counted(s: Counter) -> bool:
    return s.n == 2


def explore(jobs: int, **kw: Any) -> racecheck.Result:
    return racecheck.explore(jobs=jobs, isolate=True, **kw)


def same(a: racecheck.Result, b: racecheck.Result) -> None:
    """``a`` ran serially, ``b`` partly in workers, and they did the same."""
    assert a.parallel_from is None
    assert b.parallel_from is not None and b.parallel_from < b.schedules_run
    assert (a.ok, a.schedules_run) == (b.ok, b.schedules_run)
    assert [(r.index, r.strategy, r.steps, r.choices, r.verdict) for r in a.runs] == \
           [(r.index, r.strategy, r.steps, r.choices, r.verdict) for r in b.runs]
    assert str(a.evidence) == str(b.evidence)
    if a.failure is not None:
        assert b.failure is not None
        assert (a.failure.token, a.failure.schedule_index, a.failure.kind) == \
               (b.failure.token, b.failure.schedule_index, b.failure.kind)


@pytest.mark.parametrize("seed", [3, 12])
def test_a_race_found_in_parallel_is_the_serial_runs_race(seed: int) -> None:
    kw: dict[str, Any] = dict(threads=[bump, bump], setup=Counter, invariant=both_counted,
                              strategy="pct", schedules=600, seed=seed)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert not serial.ok
    same(serial, parallel)
    # and the token replays to the same verdict
    again = racecheck.replay(parallel.failure.token, [bump, bump], setup=Counter,
                             invariant=both_counted)
    assert not again.ok and again.failure.kind == serial.failure.kind


def test_a_pass_runs_the_same_schedules_in_the_same_order() -> None:
    kw: dict[str, Any] = dict(threads=[bump_locked, bump_locked], setup=Counter,
                              strategy="portfolio", schedules=120, seed=4)
    serial, parallel = explore(1, **kw), explore(3, **kw)
    assert serial.ok
    same(serial, parallel)
    assert [r.index for r in parallel.runs] == list(range(120))


def test_the_default_goes_parallel_once_it_gave_up_a_proof() -> None:
    def many(s: Counter) -> None:
        for _ in range(6):
            with s.lock:
                s.n += 1

    kw: dict[str, Any] = dict(threads=[many] * 4, setup=Counter, schedules=160, seed=3)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert serial.ok and "not complete after" in str(serial.evidence)
    same(serial, parallel)


def test_a_step_budget_ends_both_at_the_same_schedule() -> None:
    kw: dict[str, Any] = dict(threads=[bump_locked, bump_locked], setup=Counter,
                              strategy="random", schedules=500, seed=6, step_budget=3_000)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert serial.schedules_run < 500
    same(serial, parallel)
    assert parallel.notes == serial.notes


def _setup_that_fails_sometimes() -> Counter:
    # `random` is seeded per schedule, so this fails in the same schedules every run
    if random.random() < 0.02:
        raise LookupError(f"no such fixture row {random.random()}")
    return Counter()


def test_an_error_in_a_workers_schedule_is_raised_as_in_a_serial_run() -> None:
    kw: dict[str, Any] = dict(threads=[bump_locked], setup=_setup_that_fails_sometimes,
                              strategy="random", schedules=300, seed=7)
    done: list[int] = []

    def progress(n: int, budget: int) -> None:
        done.append(n)

    with pytest.raises(LookupError, match="no such fixture row") as serial:
        explore(1, progress=progress, **kw)
    serial_done, done[:] = list(done), []
    with pytest.raises(LookupError, match="no such fixture row") as parallel:
        explore(2, progress=progress, **kw)
    assert str(serial.value) == str(parallel.value)
    # in the same schedule, and one well into the parallel part
    assert done == serial_done and len(done) > 10


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_no_worker_is_left_running() -> None:
    kw: dict[str, Any] = dict(threads=[bump, bump], setup=Counter, invariant=both_counted,
                              strategy="pct", schedules=600, seed=2)
    assert not explore(2, **kw).ok
    assert explore(2, threads=[bump_locked], setup=Counter, strategy="random",
                   schedules=40, seed=1).ok
    assert _no_children_left()


def test_a_worker_that_dies_leaves_its_schedules_to_the_explorer() -> None:
    def work(claim: Any, send: isolate.Send) -> None:
        while (index := claim()) < 10:
            if index == 5:
                os._exit(0)  # dies holding 5, after sending what it ran before
            send({"index": index, "value": index * 10})

    pool = isolate.Pool(2, work)
    try:
        got = [pool.result(i, 10.0) for i in range(5)]
        assert [m["value"] for m in got if m is not None] == [0, 10, 20, 30, 40]
        assert pool.result(5, 10.0) is None  # its worker ended without it
        assert pool.result(6, 10.0) == {"index": 6, "value": 60}  # the other one goes on
    finally:
        pool.stop()
    assert _no_children_left()


def test_workers_claim_keys_so_a_slow_one_takes_fewer() -> None:
    def work(claim: Any, send: isolate.Send) -> None:
        index = claim()
        slow = index == 3  # the worker that claimed first is the slow one
        while index < 40:
            raw.real_sleep(0.03 if slow else 0.001)
            send({"index": index, "slow": slow})
            index = claim()

    pool = isolate.Pool(2, work, first=3)
    try:
        got = [pool.result(i, 10.0) for i in range(3, 40)]
    finally:
        pool.stop()
    assert [m["index"] for m in got if m is not None] == list(range(3, 40))
    by_slow = sum(bool(m["slow"]) for m in got if m is not None)
    assert 1 <= by_slow < 10  # dealt out in turn it would have run 19 of the 37
    assert _no_children_left()


def test_a_silent_worker_is_given_up_after_the_silence_limit() -> None:
    def work(claim: Any, send: isolate.Send) -> None:
        raw.real_sleep(60)

    pool = isolate.Pool(1, work)
    try:
        assert pool.result(0, 0.3) is None
    finally:
        pool.stop()  # SIGTERM ends the sleep at once
    assert _no_children_left()


def test_jobs_is_a_checked_setting() -> None:
    from racecheck import _settings

    with pytest.raises(racecheck.InvalidArgument, match="jobs must be a positive integer"):
        racecheck.explore([bump], setup=Counter, jobs=0)
    assert _settings.parse("jobs", "auto") == _settings.usable_cpus() >= 1
    assert _settings.parse("jobs", "3") == 3
    with pytest.raises(racecheck.InvalidArgument, match="RACECHECK_JOBS"):
        racecheck.Settings.from_env({"RACECHECK_JOBS": "many"})


def test_the_default_runs_its_sampling_in_workers_while_its_search_goes_on() -> None:
    # a search that neither completes nor gives up within 120 schedules: the
    # sampled half runs in a worker, the search here, booked in order
    kw: dict[str, Any] = dict(threads=[bump_locked] * 3, setup=Counter, schedules=300, seed=2)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert serial.ok and "dpor" in str(serial.evidence)
    assert "exhaustive" in str(serial.evidence) and "not complete" in str(serial.evidence)
    same(serial, parallel)
    members = {r.strategy for r in parallel.runs[parallel.parallel_from:]}
    assert "dpor" in members and members & {"random", "pct"}


def _rarely_fails(s: Counter) -> None:
    # `random` is seeded per schedule (the search's schedules all with one
    # seed), so this fails in a sampled schedule some way into the run
    with s.lock:
        s.n += 1
        if random.random() < 0.01:
            raise ValueError("the rare case")


@pytest.mark.parametrize("seed", [4, 6])
def test_a_failure_found_while_the_search_goes_on_is_the_serial_runs(seed: int) -> None:
    # found at schedules 213 and 137: the lanes begin once PCT stopped learning,
    # at about schedule 128 (64 sampled schedules)
    kw: dict[str, Any] = dict(threads=[_rarely_fails] * 3, setup=Counter, schedules=400,
                              seed=seed)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert not serial.ok and serial.failure.schedule_index > 128
    same(serial, parallel)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_ctrl_c_stops_the_workers_and_the_schedules_they_run(tmp_path: Any) -> None:
    import signal

    from racecheck._core.patching import snapshot

    pids = tmp_path / "pids"

    class Slow:
        def __init__(self) -> None:
            with open(pids, "a") as f:  # every schedule's process writes its pid
                f.write(f"{os.getpid()}\n")
            self.n = 0

    explorer = os.getpid()

    def busy(s: Slow) -> None:
        for _ in range(3000):
            s.n += 1
        while os.getppid() != explorer:  # a worker's schedule: runs until stopped
            s.n += 1

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = snapshot()
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            explore(2, threads=[busy, busy], setup=Slow, strategy="random", schedules=10**5,
                    seed=1, max_steps=10**9)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert snapshot() == before
    assert _no_children_left()  # the workers
    seen = [int(p) for p in pids.read_text().split()]
    assert len(seen) >= 3  # schedule 0 here, then one per worker (random: from the second)
    deadline = raw.real_monotonic() + 0.5  # an orphan would end within about 1 s (its pipe)
    while any(_alive(p) for p in seen) and raw.real_monotonic() < deadline:
        raw.real_sleep(0.05)
    assert not [p for p in seen if _alive(p)]  # and none of their schedules is left


def _abba(s: Any) -> None:
    for i in range(40):  # work either side: the two nestings rarely overlap
        s.seen.append(i)
    with s.a, s.b:
        s.n += 1
    for i in range(40):
        s.seen.append(i)


def _baab(s: Any) -> None:
    for i in range(40):
        s.seen.append(i)
    with s.b, s.a:
        s.n += 1
    for i in range(40):
        s.seen.append(i)


#: A seed whose random walk deadlocks some schedules in, not at once.
SEED_DEADLOCK = 6  # found at schedule 38


class TwoLocks(Counter):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = threading.Lock(), threading.Lock()


def test_a_deadlock_found_in_parallel_is_the_serial_runs_with_its_cycle() -> None:
    kw: dict[str, Any] = dict(threads=[_abba, _baab], setup=TwoLocks, strategy="random",
                              schedules=200, seed=SEED_DEADLOCK)
    serial, parallel = explore(1, **kw), explore(2, **kw)
    assert not serial.ok and str(serial.failure.kind) == "deadlock"
    assert serial.failure.schedule_index > 2  # in the parallel part (from schedule 1)
    same(serial, parallel)
    assert parallel.failure.cycle == serial.failure.cycle
