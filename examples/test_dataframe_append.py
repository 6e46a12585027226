"""Threads appending rows to one shared pandas DataFrame (seed notebook, cells 2-3).

Each thread sleeps, builds a one-row frame and rebinds the global ``df`` to
``pd.concat([df, row])``.  The read of ``df`` and the write of the new frame
are two separate steps with a whole ``concat`` between them: a thread that
reads ``df`` while another is still concatenating writes back a frame without
the other thread's row, and a row is lost.  Real threads rarely hit that window
(the notebook printed all ten rows); racecheck finds it in the first schedules.

The fix holds a lock from the read of ``df`` to the write, so each append
sees the previous one.

Scaled down from the notebook: 3 threads instead of 10, and 0.1 s sleeps
instead of 0.5 s (racecheck's clock is virtual, but ``pytest --racecheck``
first runs each test once on real threads).
"""

from __future__ import annotations

import time
from threading import Lock, Thread

import numpy as np
import pandas as pd
import pytest

import racecheck

COLUMNS = [*"abc"]
NUM_THREADS = 3

df = pd.DataFrame()
df_lock = Lock()  # made at import time, like a real module's lock


def empty_frame() -> pd.DataFrame:
    # int64 columns, not the notebook's object ones: pandas 2.x warns about
    # concat onto an empty all-object frame (an error under filterwarnings=error).
    return pd.DataFrame(columns=COLUMNS, dtype="int64")


def random_row(arg: int) -> pd.DataFrame:
    # One generator per thread with a fixed seed: the data is the same on every
    # schedule, only the interleaving changes.
    rng = np.random.default_rng(arg)
    rand_int = rng.integers(low=0, high=arg, size=3)
    return pd.DataFrame.from_records([rand_int], columns=COLUMNS)


def random_func(arg: int) -> None:
    global df
    time.sleep(0.1)  # the notebook slept 0.5 s
    rand_df = random_row(arg)
    df = pd.concat([df, rand_df], ignore_index=True)  # read df ... write df


def random_func_locked(arg: int) -> None:
    global df
    time.sleep(0.1)  # the notebook slept 0.5 s
    rand_df = random_row(arg)
    with df_lock:
        df = pd.concat([df, rand_df], ignore_index=True)


def run_threads(target: object) -> None:
    threads = []
    for num in range(1, NUM_THREADS + 1):
        thread = Thread(target=target, args=[num])
        threads.append(thread)

    # start threads
    for thread in threads:
        thread.start()

    # join threads (wait for all threads to complete)
    for thread in threads:
        thread.join()


@pytest.mark.xfail(
    raises=racecheck.RaceFound,
    strict=True,
    reason="lost update: two threads read the same df and the later write drops a row",
)
def test_append_rows_without_lock() -> None:
    global df
    df = empty_frame()  # fresh state on every schedule
    run_threads(random_func)
    assert len(df) == NUM_THREADS


def test_append_rows_with_lock() -> None:
    global df
    df = empty_frame()
    run_threads(random_func_locked)
    assert len(df) == NUM_THREADS
