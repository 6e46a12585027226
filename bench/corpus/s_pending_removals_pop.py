"""Container corruption: ``while pending: d.pop(pending.pop())`` from two threads.

``WeakKeyDictionary``, ``WeakValueDictionary`` and ``WeakSet`` committed their
pending removals with ``while l: del d[l.pop()]``.  When two threads commit
the last pending removal, both see a non-empty list and the second ``pop()``
raises "IndexError: pop from empty list".  bpo-44962 (PR #27921) fixed it by
popping inside ``try`` and stopping at ``IndexError``.  Re-expressed with our
own dict and list.
"""

from __future__ import annotations

from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = "https://bugs.python.org/issue44962; https://github.com/python/cpython/pull/27921"


def setup() -> SimpleNamespace:
    return SimpleNamespace(data={"k1": 1, "k2": 2}, pending=["k1"], errors=[])


def commit_removals(s: SimpleNamespace) -> None:
    pending, data = s.pending, s.data
    try:
        while pending:
            data.pop(pending.pop(), None)
    except IndexError as exc:
        s.errors.append(f"IndexError: {exc}")


def commit_removals_fixed(s: SimpleNamespace) -> None:
    pending, data = s.pending, s.data
    while True:
        try:
            key = pending.pop()
        except IndexError:
            return
        data.pop(key, None)


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(s.data == {"k2": 2} and not s.pending, f"data {s.data}, pending {s.pending}")


SCENARIO = Scenario(
    name="s_pending_removals_pop",
    category="container corruption",
    citation=CITATION,
    summary="weakref-style `while l: del d[l.pop()]` in two threads: pop from empty list",
    racy=Side(setup, [commit_removals, commit_removals], invariant),
    fixed=Side(setup, [commit_removals_fixed, commit_removals_fixed], invariant),
    expect="violation",
)
