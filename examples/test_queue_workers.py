"""A pool of daemon workers fed by a ``queue.Queue`` (seed notebook, cells 9-16).

The notebook's pattern is correct: ``Queue.get`` hands each item to exactly
one worker, ``task_done`` and ``q.join()`` let the main thread wait for all of
them, and the workers' shared output (the notebook's ``print``, a list here)
is guarded by a lock.  The daemon workers stay blocked in ``q.get()`` when the
test ends; racecheck ends the schedule once the non-daemon threads are done,
as the interpreter would.

Two ways to break it, each with its fix:

* the workers count what they processed in a shared global with
  ``processed += 1``: a read, an add and a write, so two workers can read the
  same count and one increment is lost.  The "processing" sleep before it
  (virtual time under racecheck: it costs nothing) lines the workers up at
  the increment, as a pool under load would;
* a plain list instead of the queue, taken from with check-then-pop
  (``while items: items.pop()``): two workers both see the last item, one
  pops it and the other's ``pop`` raises ``IndexError``.
"""

from __future__ import annotations

import time
from queue import Queue
from threading import Lock, Thread, current_thread

import pytest

import racecheck

NUM_THREADS = 3  # the notebook used 5 workers and 20 items
NUM_ITEMS = 6
ITEMS = list(range(1, NUM_ITEMS + 1))

processed = 0


def start_workers(target: object, args: tuple[object, ...]) -> None:
    for _ in range(NUM_THREADS):
        thread = Thread(target=target, args=args)
        # a daemon thread is a background thread that dies when the main thread dies:
        # the workers loop forever, and the test still ends
        thread.daemon = True
        thread.start()


# -------------------------------------------------------------- the notebook's pool


def worker(q: Queue[int], lock: Lock, results: list[tuple[str, int]]) -> None:
    while True:
        value = q.get()
        # processing
        with lock:
            results.append((current_thread().name, value))
        q.task_done()


def test_queue_workers_process_every_item() -> None:
    q: Queue[int] = Queue()
    lock = Lock()
    results: list[tuple[str, int]] = []
    start_workers(worker, (q, lock, results))

    for i in ITEMS:
        q.put(i)

    q.join()
    assert sorted(value for _, value in results) == ITEMS


# -------------------------------------------------- a shared counter without a lock


def counting_worker(q: Queue[int]) -> None:
    global processed
    while True:
        q.get()
        time.sleep(0.1)  # processing
        processed += 1  # load, add, store: another worker can store in between
        q.task_done()


def counting_worker_locked(q: Queue[int], lock: Lock) -> None:
    global processed
    while True:
        q.get()
        time.sleep(0.1)  # processing
        with lock:
            processed += 1
        q.task_done()


@pytest.mark.xfail(
    raises=racecheck.RaceFound,
    strict=True,
    reason="lost update: two workers read the same processed count and store the same +1",
)
def test_queue_workers_count_without_lock() -> None:
    global processed
    processed = 0  # fresh state on every schedule
    q: Queue[int] = Queue()
    start_workers(counting_worker, (q,))
    for i in ITEMS:
        q.put(i)
    q.join()
    assert processed == NUM_ITEMS


def test_queue_workers_count_with_lock() -> None:
    global processed
    processed = 0
    q: Queue[int] = Queue()
    lock = Lock()
    start_workers(counting_worker_locked, (q, lock))
    for i in ITEMS:
        q.put(i)
    q.join()
    assert processed == NUM_ITEMS


# ------------------------------------------- a plain list with check-then-pop


def list_worker(items: list[int], done: list[int]) -> None:
    while items:  # check ...
        value = items.pop()  # ... then act: another worker may have taken the last item
        done.append(value)


def list_worker_locked(items: list[int], done: list[int], lock: Lock) -> None:
    while True:
        with lock:  # the check and the pop are one step for the other workers
            if not items:
                return
            value = items.pop()
        done.append(value)


def run_list_workers(target: object, args: tuple[object, ...]) -> None:
    threads = [Thread(target=target, args=args) for _ in range(NUM_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.xfail(
    raises=racecheck.RaceFound,
    strict=True,
    reason="check-then-pop: two workers see the last item, the second pop raises IndexError",
)
def test_list_queue_check_then_pop() -> None:
    items = list(ITEMS)
    done: list[int] = []
    run_list_workers(list_worker, (items, done))
    assert sorted(done) == ITEMS


def test_list_queue_pop_under_lock() -> None:
    items = list(ITEMS)
    done: list[int] = []
    run_list_workers(list_worker_locked, (items, done, Lock()))
    assert sorted(done) == ITEMS
