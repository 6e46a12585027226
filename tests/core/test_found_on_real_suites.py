"""Regressions found by running third-party projects' suites under racecheck (docs: issue 11)."""

from __future__ import annotations

import functools
import importlib
import queue
import sys
import threading
import time
from types import ModuleType
from unittest import mock

import pytest

import racecheck


class Holder:
    lock: threading.Lock


def test_one_real_lock_reached_twice_gets_one_wrapper() -> None:
    """Two references to one lock made before the exploration: a release through one wakes both.

    With a wrapper per reference, a thread blocked through the second was never
    woken and the timed join below reported a "deadlock hidden by a timeout".
    """
    lock = threading.Lock()
    a, b = Holder(), Holder()
    a.lock = b.lock = lock

    def body() -> None:
        def take(h: Holder) -> None:
            with h.lock:
                pass

        ts = [threading.Thread(target=take, args=(h,)) for h in (a, b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(5)
            assert not t.is_alive()

    assert racecheck.check(body, schedules=200, seed=0).ok


def test_a_queue_made_before_the_exploration_hands_items_over() -> None:
    """queue.Queue's mutex and its Conditions' lock are one lock (pykka, fixtures)."""

    def body(q: queue.Queue[object]) -> None:
        done = threading.Event()

        def worker() -> None:
            item = q.get()
            assert callable(item)
            item()

        threading.Thread(target=worker).start()
        q.put(done.set)
        assert done.wait(5)

    assert racecheck.check(functools.partial(body, queue.Queue()), schedules=50, seed=0).ok


class Sneaky:
    def __getattr__(self, name: str) -> object:
        raise KeyError(name)  # a lazy proxy, an ORM row, a mock


SHARED = [0]


@pytest.mark.parametrize("make", [Sneaky, mock.MagicMock], ids=["getattr", "magicmock"])
def test_the_spin_probe_runs_no_user_code(make: type) -> None:
    """A long lone stretch starts the spin probe; it must not touch __getattr__ or mocks."""

    def body() -> None:
        obj = make()
        for _ in range(3000):
            SHARED[0] += 1  # a shared access: a scheduling point
        assert obj is not None

    assert racecheck.check(body, schedules=1, seed=0).ok


class Handler:
    """Shaped like logging.Handler.acquire, which a pytest log handler runs in every test."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def acquire(self) -> None:
        if self.lock:
            self.lock.acquire()


def test_the_watchdog_names_the_call_a_thread_is_blocked_in() -> None:
    """On 3.10 (no column positions) the first name chain of the *function* was taken,
    so a stall in ``self.lock.acquire()`` read as ``self.lock()``, was not seen as a lock
    acquisition, and a pre-existing handler lock was never taken over (a false hang)."""
    import sys
    import time

    from racecheck._core.watchdog import blocking_call

    handler = Handler()
    handler.lock.acquire()
    t = threading.Thread(target=handler.acquire, daemon=True)
    t.start()
    try:
        seen = ""
        for _ in range(500):  # until the thread is inside the acquire call
            frame = sys._current_frames().get(t.ident or 0)
            seen = blocking_call(frame) if frame is not None else ""
            if seen.endswith("acquire()") and frame is not None and \
                    frame.f_code.co_name == "acquire":
                break
            time.sleep(0.01)
        assert seen == "self.lock.acquire()"
    finally:
        handler.lock.release()
        t.join(5)


def _fresh_queue_module() -> ModuleType:
    """``queue`` imported afresh with a fresh ``_queue``, kept out of sys.modules
    (what CPython's test_queue does with ``import_fresh_module``)."""
    saved = {name: sys.modules.pop(name) for name in ("queue", "_queue") if name in sys.modules}
    try:
        return importlib.import_module("queue")
    finally:
        sys.modules.update(saved)


FRESH_QUEUE = _fresh_queue_module()


def test_a_c_simple_queue_of_a_fresh_import_waits_in_the_scheduler() -> None:
    """test_queue's CSimpleQueueTest: its SimpleQueue class is not ``_queue.SimpleQueue``;
    the consumer blocked in C while the parked producer could not put (a watchdog hang)."""
    c_class = FRESH_QUEUE.SimpleQueue
    assert c_class is not queue.SimpleQueue and c_class.__module__ == "_queue"

    def body() -> None:
        q = FRESH_QUEUE.SimpleQueue()
        got: list[int] = []
        consumer = threading.Thread(target=lambda: got.extend(q.get() for _ in range(2)))
        consumer.start()
        q.put(1)
        q.put(2)
        consumer.join()
        assert got == [1, 2]

    assert racecheck.check(body, schedules=50, seed=0, watchdog=2).ok
    assert FRESH_QUEUE.SimpleQueue is c_class  # put back


def test_a_long_computation_does_not_time_out_a_five_second_wait() -> None:
    """pykka's logging tests: the actor logged through many handlers (thousands of points
    alone) while the test waited ``event.wait(5)``; racecheck let the wait time out as if
    every 2,000 points were a spin, and the test's assertion failed on correct code."""
    def body() -> None:
        done = threading.Event()
        items: list[int] = []

        def worker() -> None:
            for i in range(3_000):
                items.append(i)
            done.set()

        threading.Thread(target=worker).start()
        assert done.wait(5)
        assert len(items) == 3_000

    assert racecheck.check(body, schedules=20, seed=0).ok


def test_a_poll_loop_still_lets_a_sleeper_wake() -> None:
    """A spin that only time can end (the same states again) times the sleeper out."""
    def body() -> None:
        flag: list[bool] = []

        def sleeper() -> None:
            time.sleep(1)
            flag.append(True)

        threading.Thread(target=sleeper).start()
        while not flag:
            pass

    assert racecheck.check(body, schedules=5, seed=0).ok


def test_a_schedule_that_keeps_progressing_for_long_is_too_long_not_silent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """diskcache's fanout stress: 16 threads x 1,000 sqlite writes ran for minutes; the child
    sent nothing while it ran, and the parent killed it as silent after 30 s (a 'hang')."""
    from racecheck._core import runner

    monkeypatch.setattr(runner, "SCHEDULE_SECONDS", 1.0)

    def body() -> None:
        def grind() -> None:
            for _ in range(100_000):
                sum(range(20_000))  # one point, real time spent in C

        ts = [threading.Thread(target=grind) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    with pytest.raises(racecheck.NotExplorable) as info:
        racecheck.check(body, schedules=3, seed=0, watchdog=0.2)
    assert "ran for 1s of real time" in str(info.value)
    assert "too long to explore" in info.value.reason
