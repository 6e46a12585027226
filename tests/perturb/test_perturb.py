"""mode="perturb": real threads with seeded pauses, for races the controller cannot see.

The OS orders real threads, so these tests never ask *when* a race shows up;
they give races that real threads hit within a few runs a budget that makes
missing them practically impossible, and assert on verdicts, tokens and
what the mode leaves behind.  Fixed code must pass every run.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

import racecheck
from racecheck._core import perturb

np = pytest.importorskip("numpy")

SIZE = 1_500_000  # four adds take several ms of CPU: well over runner.MIN_C_SECONDS anywhere
PART = np.ones(SIZE)


class Sums:
    def __init__(self) -> None:
        self.total = np.zeros(SIZE)
        self.lock = threading.Lock()


def add_in_place(s: Sums) -> None:
    s.total += PART  # numpy's add runs in C with the GIL released: the race is inside it


def add_in_place_locked(s: Sums) -> None:
    with s.lock:
        s.total += PART


def add_and_rebind(s: Sums) -> None:
    s.total = s.total + PART  # the form: read, add in C, write back


def add_and_rebind_locked(s: Sums) -> None:
    with s.lock:
        s.total = s.total + PART


def four_added(s: Sums) -> bool:
    return bool((s.total == 4).all())


def explore(body: object, **kw: object) -> racecheck.Result:
    return racecheck.explore([body] * 4, setup=Sums, invariant=four_added,  # type: ignore[list-item]
                             seed=5, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("racy", [add_in_place, add_and_rebind])
def test_perturb_finds_a_numpy_lost_update_inside_c(racy: object) -> None:
    result = explore(racy, mode="perturb", schedules=60)
    assert result.failure is not None
    assert result.failure.kind == racecheck.Verdict.VIOLATION
    assert result.failure.message == "invariant returned False"
    token = result.failure.token
    assert perturb.PerturbToken.parse(token).text() == token
    assert result.strategy == "perturbed" and result.evidence.exhaustive_up_to_preemptions is None
    assert any("the token reproduced it" in n and "/10 times" in n for n in result.failure.notes)
    assert f'racecheck.replay("{token}"' in result.failure.report


@pytest.mark.parametrize("fixed", [add_in_place_locked, add_and_rebind_locked])
def test_the_lock_fix_passes_every_perturbed_run(fixed: object) -> None:
    result = explore(fixed, mode="perturb", schedules=40)
    assert result.ok, result.failure
    assert result.schedules_run == 40
    assert [r.strategy for r in result.runs] == ["perturbed"] * 40
    assert str(result.evidence) == "40 perturbed schedules"


NO_TIMING = pytest.mark.skipif(sys.version_info[:2] == (3, 12),
                               reason="CPython 3.12 is not timed (runner.TIMING_WORKS): auto "
                                      "stays controlled there")


@NO_TIMING
def test_controlled_mode_alone_cannot_see_inside_c() -> None:
    result = explore(add_in_place, mode="controlled", schedules=40)
    assert result.ok  # one step per in-place add: no interleaving inside it
    assert result.c_share is not None and result.c_share >= 0.5


@NO_TIMING
def test_auto_adds_perturbed_runs_and_says_why_the_controller_missed_it() -> None:
    result = explore(add_in_place, schedules=40)
    assert result.failure is not None
    assert result.strategy == "auto+perturb"
    why = result.failure.notes[0]
    assert why.startswith("the controlled mode ran 40 schedules without a failure: ")
    assert "went to steps in C" in why and "cannot interleave inside" in why
    assert result.failure.schedule_index >= 40
    # the runs say which mode ran each schedule
    assert {r.strategy for r in result.runs[:40]} <= {"dpor", "random", "pct"}
    assert {r.strategy for r in result.runs[40:]} == {"perturbed"}


def test_auto_leaves_python_only_code_to_the_controller() -> None:
    class Box:
        def __init__(self) -> None:
            self.n = 0
            self.lock = threading.Lock()

    def bump(b: Box) -> None:
        for _ in range(20):
            with b.lock:
                b.n += 1

    result = racecheck.explore([bump, bump], setup=Box, invariant=lambda b: b.n == 40,
                               schedules=30, seed=1)
    assert result.ok and "perturb" not in result.strategy
    if sys.version_info[:2] == (3, 12):
        assert result.c_share is None  # not timed there (runner.TIMING_WORKS)
    else:
        assert result.c_share is not None and result.c_share < 0.5


class TwoLocks:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def a_then_b(locks: TwoLocks) -> None:
    with locks.a:
        time.sleep(0.01)
        with locks.b:
            pass


def b_then_a(locks: TwoLocks) -> None:
    with locks.b:
        time.sleep(0.01)
        with locks.a:
            pass


@pytest.mark.parametrize("isolate", [True, False])
def test_a_deadlock_is_named_with_its_cycle_long_before_a_timeout(isolate: bool) -> None:
    if isolate and not hasattr(__import__("os"), "fork"):
        pytest.skip("needs os.fork")
    result = racecheck.explore([a_then_b, b_then_a], setup=TwoLocks, mode="perturb",
                               schedules=20, seed=3, isolate=isolate)
    failure = result.failure
    assert failure is not None and failure.kind == racecheck.Verdict.DEADLOCK
    assert {edge.waiter for edge in failure.cycle} == {"T1", "T2"}
    assert {edge.holder for edge in failure.cycle} == {"T1", "T2"}
    assert all(edge.resource.startswith("Lock made at test_perturb.py:") for edge in failure.cycle)
    # found from the lock bookkeeping: the failing run took a fraction of the 5 s watchdog
    assert result.runs[-1].verdict == "deadlock" and result.runs[-1].seconds < 2.5


def test_an_exception_in_a_thread_the_body_started_is_a_violation() -> None:
    def body() -> None:
        items = [1]

        def take() -> None:
            time.sleep(0.001)
            items.pop()  # two threads, one item: one pop raises IndexError

        threads = [threading.Thread(target=take) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    with pytest.raises(racecheck.RaceFound) as found:
        racecheck.check(body, mode="perturb", schedules=5, seed=1)
    assert "IndexError" in found.value.failure.message


def test_nothing_is_left_patched_or_running() -> None:
    before = (threading.Lock, threading.RLock, threading.Thread.join, time.sleep,
              threading.excepthook, sys.getswitchinterval())
    threads_before = set(threading.enumerate())
    for isolate in (False, True):
        explore(add_in_place, mode="perturb", schedules=3, isolate=isolate)
        racecheck.explore([a_then_b, b_then_a], setup=TwoLocks, mode="perturb", schedules=5,
                          seed=3, isolate=isolate)
    after = (threading.Lock, threading.RLock, threading.Thread.join, time.sleep,
             threading.excepthook, sys.getswitchinterval())
    assert after == before
    assert set(threading.enumerate()) == threads_before  # the deadlocked threads unwound
    if hasattr(sys, "monitoring"):
        assert all(sys.monitoring.get_tool(t) is None for t in range(6))


def test_replaying_a_perturb_token_reruns_it_and_counts() -> None:
    result = explore(add_in_place, mode="perturb", schedules=60)
    assert result.failure is not None
    again = racecheck.replay(result.failure.token, [add_in_place] * 4, setup=Sums,
                             invariant=four_added)
    # real threads: a replay reproduces a failure only some of the time; it says which
    assert 1 <= again.schedules_run <= perturb.REPRODUCE
    if again.failure is not None:
        assert again.failure.token == result.failure.token
        assert again.failure.kind == racecheck.Verdict.VIOLATION
    else:
        assert "did not fail in 10 runs" in again.notes[0]


@pytest.mark.parametrize("bad", ["rcp1.12", "rcp1.x.1", "rcp1.5.9", "rcp1.1.1.1", "rcp1.1.-1"])
def test_bad_perturb_tokens_are_refused_with_what_to_do(bad: str) -> None:
    with pytest.raises(racecheck.InvalidToken, match=r"not a perturb token.*copied whole"):
        racecheck.replay(bad, [add_in_place], setup=Sums)
    with pytest.raises(racecheck.InvalidToken, match="'rcp2' is not supported"):
        racecheck.replay("rcp2.1.1", [add_in_place], setup=Sums)


def test_bad_mode_is_refused() -> None:
    with pytest.raises(racecheck.InvalidArgument, match="mode must be one of 'auto', "
                                                         "'controlled', 'perturb'"):
        explore(add_in_place, mode="chaos")


def test_levels_escalate_and_wrap() -> None:
    levels = [perturb.level_of(i) for i in range(perturb.PER_LEVEL * len(perturb.LEVELS) + 1)]
    assert levels[:perturb.PER_LEVEL] == [0] * perturb.PER_LEVEL
    assert sorted(set(levels)) == list(range(len(perturb.LEVELS)))
    assert levels == [*sorted(levels[:-1]), 0]
    probabilities = [p for p, _ in perturb.LEVELS]
    assert probabilities == sorted(probabilities)


def test_free_threaded_interpreters_always_get_perturbed_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from racecheck import _api

    passing = racecheck.Result(ok=True, schedules_run=1, elapsed=0.0, seed=0, strategy="auto",
                               c_share=0.0)
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert "free-threaded" in _api._needs_perturb(passing)
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    assert _api._needs_perturb(passing) == ""


@pytest.mark.skipif(getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="needs a free-threaded CPython (3.13t or later); this interpreter "
                           "has the GIL (no free-threaded build is installed on this machine)")
def test_on_a_free_threaded_build_auto_runs_real_threads() -> None:  # pragma: no cover
    result = explore(add_in_place_locked, schedules=20)
    assert result.ok and result.strategy == "auto+perturb"


PLUGIN_SUBJECT = """
import threading

import numpy as np
import pytest

SIZE = 1_500_000  # four adds take several ms of CPU: well over runner.MIN_C_SECONDS anywhere
PART = np.ones(SIZE)


class Sums:
    def __init__(self):
        self.total = np.zeros(SIZE)
        self.lock = threading.Lock()


def run(add):
    s = Sums()
    threads = [threading.Thread(target=add, args=(s,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (s.total == 4).all()


def add(s):
    s.total += PART


def add_locked(s):
    with s.lock:
        s.total += PART


def test_racy():
    run(add)


def test_locked():
    run(add_locked)


@pytest.mark.racecheck(mode="controlled")
def test_racy_controlled_only():
    run(add)
"""


def test_the_plugin_takes_the_mode_from_its_option_and_marker(
        pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_subject=PLUGIN_SUBJECT)
    common = ("-p", "no:randomly", "-p", "no:cacheprovider", "--racecheck-seed=1",
              "--racecheck", "--racecheck-schedules=30", "--racecheck-report=r.json")
    result = pytester.runpytest_subprocess(*common, "--racecheck-mode=perturb")
    result.assert_outcomes(passed=2, failed=1)
    import json

    tests = {t["nodeid"].split("::")[1]: t
             for t in json.loads((pytester.path / "r.json").read_text())["tests"]}
    assert tests["test_racy"]["verdict"] == "violation"
    assert tests["test_racy"]["token"].startswith("rcp1.")
    assert tests["test_locked"]["strategy"] == "perturbed"
    # the marker wins over the command line: controlled only, which cannot see inside C
    assert tests["test_racy_controlled_only"]["ok"]
    assert tests["test_racy_controlled_only"]["strategy"] == "auto"
    out = result.stdout.str()
    assert '@pytest.mark.racecheck(replay="rcp1.' in out
    assert "the token reproduced it" in out


def a_then_b_timed(locks: TwoLocks) -> None:
    with locks.a:
        time.sleep(0.01)
        if not locks.b.acquire(timeout=0.3):
            raise TimeoutError("could not get b")
        locks.b.release()


def b_then_a_timed(locks: TwoLocks) -> None:
    with locks.b:
        time.sleep(0.01)
        if not locks.a.acquire(timeout=0.3):
            raise TimeoutError("could not get a")
        locks.a.release()


def test_a_deadlock_a_timeout_papered_over_is_still_a_deadlock() -> None:
    result = racecheck.explore([a_then_b_timed, b_then_a_timed], setup=TwoLocks,
                               mode="perturb", schedules=20, seed=3)
    failure = result.failure
    assert failure is not None and failure.kind == racecheck.Verdict.DEADLOCK
    assert "a deadlock hidden by a timeout" in failure.message
    assert "TimeoutError" in failure.message
    assert any(edge.timed_out for edge in failure.cycle)
    assert {edge.waiter for edge in failure.cycle} == {"T1", "T2"}


def test_daemon_workers_still_working_are_not_a_deadlock() -> None:
    """The main thread waits in q.join() (untimed) while daemon workers sleep over
    their items: the run is not stuck, it is waiting for work in progress."""
    import queue

    def main() -> None:
        q: queue.Queue[int] = queue.Queue()
        lock = threading.Lock()
        done = [0]

        def worker() -> None:
            while True:
                q.get()
                time.sleep(0.15)  # processing: two rounds outlast a deadlock's grace
                with lock:
                    done[0] += 1
                q.task_done()

        for _ in range(3):
            threading.Thread(target=worker, daemon=True).start()
        for i in range(6):
            q.put(i)
        q.join()
        assert done[0] == 6

    result = racecheck.check(main, mode="perturb", schedules=8, seed=1)
    assert result.ok and result.schedules_run == 8


def test_a_sleep_longer_than_the_watchdog_is_not_a_hang() -> None:
    def main() -> None:
        t = threading.Thread(target=time.sleep, args=(1.5,))
        t.start()
        t.join()

    result = racecheck.check(main, mode="perturb", schedules=1, seed=1, watchdog=1)
    assert result.ok
