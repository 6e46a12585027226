"""Lost update: copy a shared value, "process" it, sleep, write the copy back.

The seed notebook's ``increase_db_value`` (shared/seed/threading_notebook.txt,
cells In[7] and In[8]): two threads each copy ``db_value``, add one, sleep
0.1 s and store the copy; the notebook printed ``end value: 1``.  Its fix holds
one ``Lock`` around the whole read-modify-write (``acquire/release`` or ``with
lock:``).  The same example is Real Python's ``FakeDatabase.update`` race.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "seed notebook shared/seed/threading_notebook.txt In[7]/In[8] (increase_db_value); "
    "https://realpython.com/intro-to-python-threading/ (FakeDatabase race condition)"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(db_value=0, lock=threading.Lock())


def increase_db_value(s: SimpleNamespace) -> None:
    local_copy = s.db_value
    local_copy += 1  # processing
    time.sleep(0.01)
    s.db_value = local_copy


def increase_db_value_locked(s: SimpleNamespace) -> None:
    with s.lock:
        local_copy = s.db_value
        local_copy += 1
        time.sleep(0.01)
        s.db_value = local_copy


def invariant(s: SimpleNamespace) -> None:
    check(s.db_value == 2, f"two increments left db_value == {s.db_value}")


SCENARIO = Scenario(
    name="s_db_value_sleep",
    category="lost update",
    citation=CITATION,
    summary="seed: read db_value, +1, time.sleep, write back; two threads end at 1",
    racy=Side(setup, [increase_db_value, increase_db_value], invariant),
    fixed=Side(setup, [increase_db_value_locked, increase_db_value_locked], invariant),
    expect="violation",
)
