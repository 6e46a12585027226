"""isolate=True: an interpreter crash becomes a 'crash' failure with a replay token."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import racecheck

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation needs fork")


class Shared:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()


def add(s: Shared) -> None:
    s.n += 1


def crash_when_racing(s: Shared) -> None:
    seen = s.n
    s.n = seen + 1
    if s.n == 1 and seen == 0 and getattr(s, "other_read", False):
        os.abort()  # stands in for a segfault in racy C code
    s.other_read = True  # type: ignore[attr-defined]


def test_isolated_exploration_reports_a_normal_failure_like_in_process() -> None:
    inproc = racecheck.explore([add, add], setup=Shared, invariant=lambda s: s.n == 2, seed=4)
    iso = racecheck.explore([add, add], setup=Shared, invariant=lambda s: s.n == 2, seed=4,
                            isolate=True)
    assert inproc.failure is not None and iso.failure is not None
    assert iso.failure.kind == inproc.failure.kind == "violation"
    assert iso.failure.token == inproc.failure.token
    assert "LOST UPDATE" in iso.failure.report


def test_crash_becomes_a_crash_failure_whose_token_replays_the_crash() -> None:
    result = racecheck.explore([crash_when_racing, crash_when_racing], setup=Shared,
                               seed=2, schedules=200, isolate=True)
    failure = result.failure
    assert failure is not None and failure.kind == "crash"
    assert "SIGABRT" in failure.message
    assert "CRASH" in failure.report and failure.token in failure.report
    again = racecheck.replay(failure.token, [crash_when_racing, crash_when_racing],
                             setup=Shared, isolate=True)
    assert again.failure is not None and again.failure.kind == "crash"


def test_isolated_pass_reports_the_schedule_count() -> None:
    def locked(s: Shared) -> None:
        with s.lock:
            s.n += 1

    result = racecheck.explore([locked, locked], setup=Shared, invariant=lambda s: s.n == 2,
                               seed=1, schedules=50, isolate=True, strategy="portfolio")
    assert result.ok and result.schedules_run == 50


def lately_written(s: Shared) -> None:
    """Only this test runs it: no exploration analysed it before."""
    with s.lock:
        s.n += 1


def test_children_send_their_code_analyses_back_for_the_next_children() -> None:
    from racecheck._core import instrument

    code = lately_written.__code__
    instrument._points.pop(id(code), None)
    instrument._learned.pop(id(code), None)
    result = racecheck.explore([lately_written, lately_written], setup=Shared, schedules=3,
                               seed=1, isolate=True)
    assert result.ok
    assert id(code) not in instrument._points  # analysed in the children only
    learned = instrument._learned.get(id(code))
    assert learned is not None and learned[0] == instrument._identity(code)
    computed = instrument._point_offsets(code, globals())[0]
    assert learned[1] == frozenset(computed) and computed
    # Another code object at a learned address is analysed, not taken on trust.
    other = add.__code__
    instrument._points.pop(id(other), None)
    instrument._learned[id(other)] = (("x", 0, 0, 0), frozenset({999999}), frozenset())
    try:
        assert instrument.analyse(other, globals()) == frozenset(
            instrument._point_offsets(other, globals())[0])
    finally:
        instrument._learned.pop(id(other), None)


def _report_and_linger(path: str, ready: int) -> None:
    import time

    from racecheck._core import isolate

    with open(path, "a") as f:
        f.write(f"{os.getpid()} {isolate._pipe_fd is None}\n")
    os.write(ready, b"x")
    time.sleep(60)


def test_a_process_a_schedule_leaves_running_holds_no_pipe_and_dies_with_it(
        tmp_path: Path) -> None:
    """pyrate-limiter's MultiprocessBucket: a Manager's server process outlived each schedule
    holding the pipe to the parent, which then waited 5 s for every schedule to close it."""
    import multiprocessing

    path = str(tmp_path / "pids")

    def body() -> None:
        r, w = os.pipe()
        worker = multiprocessing.get_context("fork").Process(
            target=_report_and_linger, args=(path, w), daemon=True)
        worker.start()
        os.read(r, 1)  # the worker wrote its line
        done = threading.Event()
        threading.Thread(target=done.set).start()
        done.wait()

    # controlled only: forking is CPU work in C, for which mode="auto" would add real-thread runs
    assert racecheck.check(body, schedules=3, seed=0, isolate=True, mode="controlled").ok
    with open(path) as f:
        lines = f.read().split()
    pids, closed = lines[0::2], lines[1::2]
    assert len(pids) == 3 and closed == ["True"] * 3
    for pid in pids:  # killed with its schedule's process group: soon gone, or a zombie
        assert _ends(int(pid)), f"process {pid} outlived its schedule"


def _ends(pid: int) -> bool:
    import time

    for _ in range(200):  # SIGKILL is delivered asynchronously
        try:
            with open(f"/proc/{pid}/status") as status:
                state = next(line for line in status if line.startswith("State:"))
        except FileNotFoundError:
            return True
        if "Z" in state or "X" in state:
            return True
        time.sleep(0.01)
    return False
