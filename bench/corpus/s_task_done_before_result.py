"""Order violation: ``task_done()`` before the result is recorded, so ``join()`` returns early.

``Queue.join()`` unblocks once every item has had its ``task_done()``; it says
nothing about work done after that call.  neuroglancer's ThreadedQueue called
``task_done()`` before counting the item as processed, so "the main thread
[could] proceed after queue.join() stops blocking but before self.processed is
incremented"; the fix inverted the two operations (seung-lab/neuroglancer PR
#165).  The seed notebook's worker pool (In[16]) relies on the same
``q.join()`` handshake.  The fix records the result, then calls
``task_done()``.
"""

from __future__ import annotations

import queue
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/seung-lab/neuroglancer/pull/165; "
    "https://docs.python.org/3/library/queue.html#queue.Queue.task_done; "
    "seed notebook shared/seed/threading_notebook.txt In[16]"
)

ITEMS = (1, 2)


def setup() -> SimpleNamespace:
    return SimpleNamespace(q=queue.Queue(), results=[], report=None)


def producer(s: SimpleNamespace) -> None:
    for item in ITEMS:
        s.q.put(item)
    s.q.join()
    s.report = sorted(s.results)  # "all work is done" per join()


def worker(s: SimpleNamespace) -> None:
    for _ in ITEMS:
        item = s.q.get()
        s.q.task_done()
        s.results.append(item * 10)


def worker_fixed(s: SimpleNamespace) -> None:
    for _ in ITEMS:
        item = s.q.get()
        s.results.append(item * 10)
        s.q.task_done()


def invariant(s: SimpleNamespace) -> None:
    check(s.report == [10, 20], f"producer saw results {s.report} after q.join()")


SCENARIO = Scenario(
    name="s_task_done_before_result",
    category="order violation",
    citation=CITATION,
    summary="worker calls q.task_done() before storing its result; q.join() returns with it missing",
    racy=Side(setup, [producer, worker], invariant),
    fixed=Side(setup, [producer, worker_fixed], invariant),
    expect="violation",
)
