"""A numpy array updated by read-modify-write from several threads.

``arr[0] = arr[0] + 1`` and ``arr[0] += 1`` are three bytecode steps: read the
element, add, store it back.  numpy does each step in C, but nothing makes the
three one step, so two threads can read the same value and one increment is
lost.  racecheck schedules between Python bytecodes, so it can switch threads
between the read and the store; it finds the race with or without a sleep in
the window.  (A race entirely inside one numpy call, such as ``np.add.at`` on
a shared array, is out of its reach: see Limits in the README.)

The fix is a lock around the read-modify-write.
"""

from __future__ import annotations

import time
from threading import Lock, Thread

import numpy as np
import pytest

import racecheck

NUM_THREADS = 3
INCREMENTS = 2  # per thread

arr = np.zeros(2, dtype=np.int64)


def increment_with_sleep() -> None:
    for _ in range(INCREMENTS):
        value = arr[0]  # read
        time.sleep(0.01)  # processing
        arr[0] = value + 1  # write back


def increment_in_place() -> None:
    for _ in range(INCREMENTS):
        arr[0] += 1  # read, add, write: three steps


def increment_locked(lock: Lock) -> None:
    for _ in range(INCREMENTS):
        with lock:
            value = arr[0]
            time.sleep(0.01)
            arr[0] = value + 1


def run_threads(target: object, args: tuple[object, ...] = ()) -> None:
    threads = [Thread(target=target, args=args) for _ in range(NUM_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


LOST_INCREMENT = "lost update: two threads read arr[0] before either writes it back"


@pytest.mark.xfail(raises=racecheck.RaceFound, strict=True, reason=LOST_INCREMENT)
def test_increment_with_sleep_without_lock() -> None:
    arr[:] = 0  # fresh state on every schedule
    run_threads(increment_with_sleep)
    assert arr[0] == NUM_THREADS * INCREMENTS


@pytest.mark.xfail(raises=racecheck.RaceFound, strict=True, reason=LOST_INCREMENT)
def test_increment_in_place_without_lock() -> None:
    arr[:] = 0
    run_threads(increment_in_place)
    assert arr[0] == NUM_THREADS * INCREMENTS


def test_increment_with_lock() -> None:
    arr[:] = 0
    run_threads(increment_locked, (Lock(),))
    assert arr[0] == NUM_THREADS * INCREMENTS
