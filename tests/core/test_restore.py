"""After any exploration (passing, failing, raising, interrupted) nothing racecheck patched leaks."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import types

import pytest

import racecheck
from racecheck._core.patching import snapshot


def _state() -> dict[str, object]:
    snap = snapshot()
    snap["settrace"] = sys.gettrace()
    if hasattr(os, "sched_getaffinity"):
        snap["affinity"] = os.sched_getaffinity(0)
    if hasattr(sys, "monitoring"):
        snap["monitoring"] = [sys.monitoring.get_tool(i) for i in range(6)]
    return snap


def body(s: object) -> None:
    time.sleep(0.01)
    threading.Lock()


def test_passing_and_failing_explorations_restore_everything() -> None:
    before = _state()
    assert racecheck.explore([body, body], setup=object, schedules=5, seed=1).ok
    assert _state() == before
    assert not racecheck.explore([body], setup=object, invariant=lambda s: False,
                                 schedules=5, seed=1).ok
    assert _state() == before
    assert type(threading.Lock()).__module__ == "_thread"
    assert time.sleep is not None and time.sleep.__module__ == "time"


def test_the_search_the_shrink_and_the_record_share_one_installation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from racecheck._core import patching

    installs: list[int] = []
    real_install = patching.Patches.install

    def counting(self: patching.Patches) -> None:
        installs.append(1)
        real_install(self)

    monkeypatch.setattr(patching.Patches, "install", counting)
    before = _state()

    def bump(s: object) -> None:
        for _ in range(3):
            v = s.n  # type: ignore[attr-defined]
            s.n = v + 1  # type: ignore[attr-defined]

    def setup() -> object:
        return types.SimpleNamespace(n=0)

    result = racecheck.explore([bump, bump], setup=setup,
                               invariant=lambda s: s.n == 6,  # type: ignore[attr-defined]
                               strategy="random", schedules=50, seed=2)
    failure = result.failure
    assert failure is not None and failure.shrink_runs > 0  # it was shrunk, then recorded
    assert failure.trace  # the recorded run
    assert installs == [1]
    assert _state() == before


@pytest.mark.parametrize("where", ["setup", "teardown", "invariant"])
def test_exceptions_from_user_callbacks_restore_everything(where: str) -> None:
    before = _state()

    def boom(*args: object) -> object:
        raise KeyboardInterrupt  # the worst case: Ctrl-C inside user code

    kwargs: dict[str, object] = {"setup": object}
    kwargs[where] = boom
    with pytest.raises(KeyboardInterrupt):
        racecheck.explore([body], schedules=3, seed=1, **kwargs)  # type: ignore[arg-type]
    assert _state() == before


def test_module_level_lock_is_wrapped_during_and_restored_after() -> None:
    import concurrent.futures.thread as cft

    original = cft._global_shutdown_lock  # type: ignore[attr-defined]

    def look(s: object) -> None:
        lock = cft._global_shutdown_lock  # type: ignore[attr-defined]
        assert type(lock).__module__ == "racecheck._sync.locks"  # cooperative, for now

    result = racecheck.explore([look], setup=object, schedules=1, seed=1)
    assert result.ok, result.failure
    assert cft._global_shutdown_lock is original  # type: ignore[attr-defined]


def test_no_managed_thread_outlives_the_exploration() -> None:
    before = set(threading.enumerate())
    racecheck.explore([body, body], setup=object, schedules=10, seed=2)
    time.sleep(0.05)
    assert set(threading.enumerate()) == before


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_ctrl_c_while_a_schedule_runs_in_its_child_kills_it_and_restores_everything() -> None:
    from racecheck._core.patching import snapshot

    before = snapshot()

    class Spin:
        n = 0

    def spin(s: Spin) -> None:
        while True:
            s.n += 1  # progress: only Ctrl-C ends it

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            racecheck.explore([spin], setup=Spin, schedules=10**6, seed=1, max_steps=10**9,
                              isolate=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert snapshot() == before
    assert sys.gettrace() is None and gc.isenabled()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no schedule's child is left behind


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs")
@pytest.mark.parametrize("worker", ["gw0", "gw1", "gw2", "gw3"])
def test_xdist_workers_are_pinned_to_cpus_by_worker_number(
        worker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from racecheck._core import runner

    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    allowed = os.sched_getaffinity(0)
    pinned = runner._pin_to_one_cpu()
    try:
        assert pinned == allowed
        cpus = sorted(allowed)
        assert os.sched_getaffinity(0) == {cpus[int(worker[2:]) % len(cpus)]}
    finally:
        runner._restore_affinity(pinned)
    assert os.sched_getaffinity(0) == allowed


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2
                    or not os.path.exists("/proc/self/stat"),
                    reason="needs CPU affinity, two CPUs and /proc")
def test_outside_xdist_the_runner_stays_on_the_cpu_it_runs_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two explorations at once were pinned by process id, so half the time to one CPU."""
    from racecheck._core import runner

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    allowed = os.sched_getaffinity(0)
    cpus = sorted(allowed)
    try:
        for cpu in cpus:
            os.sched_setaffinity(0, {cpu})
            assert runner._current_cpu(cpus) == cpu  # where the kernel runs it now
        os.sched_setaffinity(0, allowed)
        monkeypatch.setattr(runner, "_current_cpu", lambda allowed: allowed[-1])
        pinned = runner._pin_to_one_cpu()
        assert pinned == allowed and os.sched_getaffinity(0) == {cpus[-1]}
    finally:
        os.sched_setaffinity(0, allowed)
