"""Check-then-act: ``if not q.empty(): q.get_nowait()`` with two consumers.

The ``queue`` docs warn that ``empty()`` returning False "doesn't guarantee
that a subsequent call to get() will not block" (likewise ``qsize()`` and
``full()``), yet checking first is a common idiom (e.g. the "fix" proposed in
loadchange/amemv-crawler#107 checks ``qsize() != 0`` before ``get()``).  With
one item and two consumers, both can see a non-empty queue; the loser's
``get_nowait()`` raises ``queue.Empty`` (a blocking ``get()`` would hang
instead).  The fix asks forgiveness: ``get_nowait()`` inside ``try``.
"""

from __future__ import annotations

import queue
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/library/queue.html#queue.Queue.empty; "
    "https://github.com/loadchange/amemv-crawler/issues/107"
)


def setup() -> SimpleNamespace:
    q: queue.Queue[str] = queue.Queue()
    q.put("job-1")
    return SimpleNamespace(q=q, taken=[], errors=[])


def consume(s: SimpleNamespace) -> None:
    if not s.q.empty():
        try:
            s.taken.append(s.q.get_nowait())
        except queue.Empty:
            s.errors.append("queue.Empty after empty() returned False")


def consume_fixed(s: SimpleNamespace) -> None:
    try:
        s.taken.append(s.q.get_nowait())
    except queue.Empty:
        pass  # nothing to do: another consumer took it


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(s.taken == ["job-1"], f"items taken: {s.taken}")


SCENARIO = Scenario(
    name="s_queue_empty_then_get",
    category="check-then-act",
    citation=CITATION,
    summary="queue.Queue: `if not q.empty(): q.get_nowait()` raises Empty when two consumers race",
    racy=Side(setup, [consume, consume], invariant),
    fixed=Side(setup, [consume_fixed, consume_fixed], invariant),
    expect="violation",
)
