"""Exactly one thread holds the baton: the check the suite runs under, and that it can fail."""

from __future__ import annotations

import threading

import pytest

import racecheck
from racecheck._core.execution import CheckedExecution, Execution
from racecheck._core.outcome import Signal
from racecheck._core.threads import Abort, ManagedThread
from racecheck._settings import debug_checks
from racecheck.strategies import RandomStrategy


def test_the_check_catches_a_thread_running_without_the_baton() -> None:
    ex = CheckedExecution(RandomStrategy(1), max_steps=100, max_threads=4)
    a = ManagedThread(ex, 0, "A", lambda: None, False, None)
    b = ManagedThread(ex, 1, "B", lambda: None, False, None)
    ex.threads += [a, b]
    ex.current = a
    ex.point(a)  # the holder may run (one runnable thread: no choice to make)
    with pytest.raises(Abort):
        ex.point(b)
    assert ex.verdict is Signal.INTERNAL
    assert "thread B reached a scheduling point while the baton was A's" in ex.message


def test_the_suite_explores_under_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "baton" in debug_checks()  # tests/conftest.py
    checked: list[str] = []
    original = CheckedExecution._holds_baton

    def counting(self: CheckedExecution, mt: ManagedThread, what: str) -> None:
        checked.append(what)
        original(self, mt, what)

    monkeypatch.setattr(CheckedExecution, "_holds_baton", counting)

    def body(s: list[int]) -> None:
        with lock:
            s.append(1)

    lock = threading.Lock()
    result = racecheck.explore([body, body], setup=list, schedules=3, seed=1, isolate=False)
    assert result.ok and "reached a scheduling point" in checked


def test_an_unknown_debug_check_is_named() -> None:
    with pytest.raises(racecheck.InvalidArgument, match=r"RACECHECK_DEBUG.*'batton'"):
        debug_checks({"RACECHECK_DEBUG": "batton"})
    assert debug_checks({}) == frozenset()
    assert not issubclass(Execution, CheckedExecution)
