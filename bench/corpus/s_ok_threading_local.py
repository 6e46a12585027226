"""Correct code: a non-atomic ``n = n + 1`` on a ``threading.local`` attribute.

It reads like the lost-update pattern, but each thread sees its own ``n``:
``threading.local`` gives every thread a separate attribute dictionary, so
there is nothing shared to lose.  The one requirement is that the local
object itself is created once, before the threads share it (the lazy version
is the bug in s_threading_local_lazy, ansible/ansible-runner PR #169).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/library/threading.html#thread-local-data; "
    "https://github.com/ansible/ansible-runner/pull/169"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(local=threading.local(), totals=[])


def count_three(s: SimpleNamespace) -> None:
    for _ in range(3):
        s.local.n = getattr(s.local, "n", 0) + 1
    s.totals.append(s.local.n)


def invariant(s: SimpleNamespace) -> None:
    check(s.totals == [3, 3], f"per-thread totals {s.totals}")


SCENARIO = Scenario(
    name="s_ok_threading_local",
    category="correct code",
    citation=CITATION,
    summary="`local.n = local.n + 1` in two threads on one threading.local; per-thread, correct",
    racy=None,
    fixed=Side(setup, [count_three, count_three], invariant),
    expect="",
)
