"""Container corruption inside sortedcontainers: concurrent ``SortedList.add``.

``SortedList`` keeps sorted sublists plus an index of their maxima; ``add``
on an empty list appends a new sublist.  Two unlocked adds can both see the
list empty and each append a sublist, leaving ``[5, 3]``, an unsorted
"sorted" list (and a lost update of its length).  The maintainer declined to
make the containers thread-safe and suggested serialising access
(grantjenks/python-sortedcontainers#105).  The fix holds a lock around each
mutation.  Third-party code: sortedcontainers==2.4.0 (pure Python).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

try:  # optional: imported at load time, before any tool patches threading
    from sortedcontainers import SortedList
except ImportError:  # the scenario reports itself as not installed
    SortedList = None

from ._scenario import Body, Scenario, Side, check

CITATION = "https://github.com/grantjenks/python-sortedcontainers/issues/105"


def setup() -> SimpleNamespace:
    return SimpleNamespace(sl=SortedList(), lock=threading.Lock())


def _add(value: int) -> Body:
    def add(s: SimpleNamespace) -> None:
        s.sl.add(value)

    return add


def _add_locked(value: int) -> Body:
    def add_locked(s: SimpleNamespace) -> None:
        with s.lock:
            s.sl.add(value)

    return add_locked


def invariant(s: SimpleNamespace) -> None:
    items = list(s.sl)
    check(items == [3, 5] and len(s.sl) == 2, f"SortedList holds {items}, len {len(s.sl)}")


SCENARIO = Scenario(
    name="s_sortedlist_add",
    category="container corruption",
    citation=CITATION,
    summary="sortedcontainers.SortedList: two unlocked adds to an empty list leave it unsorted",
    racy=Side(setup, [_add(5), _add(3)], invariant),
    fixed=Side(setup, [_add_locked(5), _add_locked(3)], invariant),
    expect="violation",
    requires=("sortedcontainers",),
)
