"""Correct code: the seed notebook's ``queue.Queue`` worker pool.

The seed notebook (shared/seed/threading_notebook.txt, In[16]) runs workers
that ``get()`` items, print under a lock with ``current_thread().name``, and
call ``task_done()``, while the main thread ``put()``s the work and
``q.join()``s.  It looks racy (shared queue, shared output, no lock around
``get``) but is not: ``Queue`` does its own locking, and ``join()`` returns
only after every ``task_done()``.  The notebook's workers loop forever as
daemon threads; here they stop on a sentinel so each body ends.
"""

from __future__ import annotations

import queue
import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "seed notebook shared/seed/threading_notebook.txt In[16]; "
    "https://docs.python.org/3/library/queue.html (the worker example)"
)

ITEMS = (1, 2, 3)
WORKERS = 2


def setup() -> SimpleNamespace:
    return SimpleNamespace(q=queue.Queue(), lock=threading.Lock(), lines=[], joined=False)


def main(s: SimpleNamespace) -> None:
    for i in ITEMS:
        s.q.put(i)
    for _ in range(WORKERS):
        s.q.put(None)
    s.q.join()
    s.joined = True


def worker(s: SimpleNamespace) -> None:
    while True:
        value = s.q.get()
        if value is None:
            s.q.task_done()
            return
        with s.lock:
            s.lines.append((threading.current_thread().name, value))
        s.q.task_done()


def invariant(s: SimpleNamespace) -> None:
    check(s.joined, "q.join() did not return")
    check(sorted(v for _, v in s.lines) == list(ITEMS), f"processed {s.lines}")


SCENARIO = Scenario(
    name="s_ok_queue_workers",
    category="correct code",
    citation=CITATION,
    summary="seed: Queue worker pool with task_done/join and a print lock; correct",
    racy=None,
    fixed=Side(setup, [main, worker, worker], invariant),
    expect="",
)
