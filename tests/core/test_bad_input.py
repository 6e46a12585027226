"""Bad input gets a clear racecheck.errors exception or verdict, within seconds."""

from __future__ import annotations

import socket
import threading

import pytest

import racecheck
from racecheck.errors import InvalidArgument


def ok(s: object = None) -> None:
    pass


async def coro() -> None:
    pass


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"threads": [ok, 3]}, "threads[1] is not callable"),
    ({"threads": []}, "threads is empty"),
    ({"threads": ok}, "wrap it in a list"),
    ({"threads": [coro]}, "async function"),
    ({"threads": [ok], "invariant": 5}, "invariant must be callable"),
    ({"threads": [ok], "schedules": 0}, "schedules must be a positive integer"),
    ({"threads": [ok], "schedules": -3}, "schedules must be a positive integer"),
    ({"threads": [ok], "seed": "x"}, "seed must be an integer"),
    ({"threads": [ok], "strategy": "nope"}, "unknown strategy"),
    ({"threads": [ok], "time_budget": -1}, "time_budget"),
])
def test_invalid_arguments_name_the_problem(kwargs: dict[str, object], needle: str) -> None:
    threads = kwargs.pop("threads")
    with pytest.raises(InvalidArgument) as info:
        racecheck.explore(threads, **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_check_rejects_async_and_non_callables() -> None:
    with pytest.raises(InvalidArgument, match="async"):
        racecheck.check(coro)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        racecheck.check(42)  # type: ignore[arg-type]


def test_a_body_starting_10000_threads_is_stopped_with_a_clear_error() -> None:
    def flood() -> None:
        for _ in range(10_000):
            threading.Thread(target=ok).start()

    with pytest.raises(racecheck.UsageError, match="started more than 64 threads"):
        racecheck.check(flood, schedules=2, seed=1)


def test_a_body_blocked_in_real_io_gets_a_hang_verdict_naming_the_line() -> None:
    a, b = socket.socketpair()
    try:
        def wait_for_bytes(s: object) -> None:
            a.recv(1)  # nobody ever sends

        result = racecheck.explore([wait_for_bytes], setup=object, schedules=1, seed=1,
                                   watchdog=0.5)
    finally:
        b.send(b"x")  # lets the abandoned OS thread finish
        a.close()
        b.close()
    failure = result.failure
    assert failure is not None and failure.kind == "hang"
    assert "socket.recv()" in failure.message and "0.5s" in failure.message
    assert "test_bad_input.py" in failure.message


def test_explorations_do_not_nest() -> None:
    def inner(s: object) -> None:
        racecheck.explore([ok], setup=object, schedules=1, seed=1)

    result = racecheck.explore([inner], setup=object, schedules=1, seed=1)
    assert result.failure is not None
    assert isinstance(result.failure.exception, racecheck.UsageError)


def test_a_time_budget_always_allows_one_schedule() -> None:
    result = racecheck.explore([ok], setup=object, schedules=50, seed=1, time_budget=1e-9)
    assert result.schedules_run == 1


def test_nesting_raises_its_own_error_class() -> None:
    def inner(s: object) -> None:
        racecheck.explore([ok], setup=object, schedules=1, seed=1)

    failure = racecheck.explore([inner], setup=object, schedules=1, seed=1).failure
    assert failure is not None and isinstance(failure.exception, racecheck.NestedExploration)
