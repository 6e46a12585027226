"""The lost update on ``db_value`` (seed notebook, cells 7-8).

Two threads each read ``db_value`` into a local, add one, sleep (the
"processing") and write it back.  When both read before either writes, one
increment is lost and the end value is 1, which is what the notebook printed.
Holding a lock from the read to the write fixes it; the notebook shows the
lock taken with ``acquire()``/``release()`` and with ``with lock:``.
"""

from __future__ import annotations

import time
from threading import Lock, Thread

import pytest

import racecheck

db_value = 0


def increase_db_value() -> None:
    global db_value

    local_copy = db_value
    # processing
    local_copy += 1
    time.sleep(0.1)
    db_value = local_copy


def increase_db_value_acquire_release(lock: Lock) -> None:
    global db_value

    lock.acquire()
    local_copy = db_value
    # processing
    local_copy += 1
    time.sleep(0.1)
    db_value = local_copy
    lock.release()


def increase_db_value_with_lock(lock: Lock) -> None:
    global db_value

    with lock:
        local_copy = db_value
        # processing
        local_copy += 1
        time.sleep(0.1)
        db_value = local_copy


@pytest.mark.xfail(
    raises=racecheck.RaceFound,
    strict=True,
    reason="lost update: both threads read db_value before either writes it back",
)
def test_increase_without_lock() -> None:
    global db_value
    db_value = 0  # fresh state on every schedule
    thread1 = Thread(target=increase_db_value)
    thread2 = Thread(target=increase_db_value)

    thread1.start()
    thread2.start()

    thread1.join()
    thread2.join()

    assert db_value == 2


def test_increase_with_acquire_release() -> None:
    global db_value
    db_value = 0
    lock = Lock()
    thread1 = Thread(target=increase_db_value_acquire_release, args=(lock,))
    thread2 = Thread(target=increase_db_value_acquire_release, args=(lock,))

    thread1.start()
    thread2.start()

    thread1.join()
    thread2.join()

    assert db_value == 2


def test_increase_with_lock_context_manager() -> None:
    global db_value
    db_value = 0
    lock = Lock()
    thread1 = Thread(target=increase_db_value_with_lock, args=(lock,))
    thread2 = Thread(target=increase_db_value_with_lock, args=(lock,))

    thread1.start()
    thread2.start()

    thread1.join()
    thread2.join()

    assert db_value == 2
