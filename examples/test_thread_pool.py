"""The DataFrame appends again, through ``ThreadPoolExecutor`` (seed notebook, cells 4-6).

A pool changes nothing about the race: each task still reads the global
``df``, concatenates and writes it back, so two workers can both read the same
frame and one row is lost.  ``submit`` and ``map`` are shown each way.

Three differences from the notebook, all on purpose:

* items start at 1: the notebook's ``range(100)`` began at 0, and
  ``np.random.randint(low=0, high=0)`` raises, which ``submit`` hid in a
  future nobody looked at;
* the tests collect every task's result, so an exception in a task fails the
  test instead of vanishing;
* tasks sleep 0.1 s, not 1 s: under racecheck time is virtual and the length
  does not matter, but ``pytest --racecheck`` first runs each test once on
  real threads, and that run really sleeps.
"""

from __future__ import annotations

import concurrent.futures
import time
from threading import Lock

import numpy as np
import pandas as pd
import pytest

import racecheck

COLUMNS = [*"abc"]
MAX_WORKERS = 2  # the notebook used 10 workers for 100 items
ITEMS = list(range(1, 4))  # more items than workers: workers are reused

df = pd.DataFrame()
df_lock = Lock()


def empty_frame() -> pd.DataFrame:
    # int64 columns: pandas 2.x warns about concat onto an empty all-object frame.
    return pd.DataFrame(columns=COLUMNS, dtype="int64")


def random_row(arg: int) -> pd.DataFrame:
    rng = np.random.default_rng(arg)  # fixed seed per task: same data on every schedule
    rand_int = rng.integers(low=0, high=arg, size=3)
    return pd.DataFrame.from_records([rand_int], columns=COLUMNS)


def random_func(arg: int) -> None:
    global df
    time.sleep(0.1)  # the notebook slept 1 s
    rand_df = random_row(arg)
    df = pd.concat([df, rand_df], ignore_index=True)


def random_func_locked(arg: int) -> None:
    global df
    time.sleep(0.1)  # the notebook slept 1 s
    rand_df = random_row(arg)
    with df_lock:
        df = pd.concat([df, rand_df], ignore_index=True)


LOST_ROW = "lost update: two tasks read the same df and the later write drops a row"


@pytest.mark.xfail(raises=racecheck.RaceFound, strict=True, reason=LOST_ROW)
def test_submit_without_lock() -> None:
    global df
    df = empty_frame()  # fresh state on every schedule
    with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        futures = [executor.submit(random_func, item) for item in ITEMS]
    for future in futures:
        future.result()
    assert len(df) == len(ITEMS)


def test_submit_with_lock() -> None:
    global df
    df = empty_frame()
    with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        futures = [executor.submit(random_func_locked, item) for item in ITEMS]
    for future in futures:
        future.result()
    assert len(df) == len(ITEMS)


# The pool's machinery puts many steps between map's tasks, and it is PCT that
# finds the lost row here: at schedules 6 to 46 over twelve run seeds (it took
# several hundred with some seeds under an older default). The marker leaves
# room to spare, and also explores this test without --racecheck.
@pytest.mark.racecheck(schedules=1000)
@pytest.mark.xfail(raises=racecheck.RaceFound, strict=True, reason=LOST_ROW)
def test_map_without_lock() -> None:
    global df
    df = empty_frame()
    with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        results = list(executor.map(random_func, ITEMS))
    assert len(results) == len(ITEMS)
    assert len(df) == len(ITEMS)


def test_map_with_lock() -> None:
    global df
    df = empty_frame()
    with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        results = list(executor.map(random_func_locked, ITEMS))
    assert len(results) == len(ITEMS)
    assert len(df) == len(ITEMS)
