"""Lost update: a "next id" counter, ``counter += 1; return counter``.

neon's test fixtures number each command's output files from a module-global
counter.  Tests launch commands from threads and assume the numbers are
unique, so the counter is now bumped under a *module-level* lock
(neondatabase/neon PR #5992, "python needs thread safety as well").  The racy
side is their original shape: the increment and the read-back are two steps,
so two threads can both return the same id (and lose an increment).

The fixed side keeps their fix's shape on purpose: ``_ID_LOCK`` is created
when this module is imported, before any tool can patch ``threading.Lock``.
This is one of the two corpus scenarios built on a module-level lock, the case
a peer tool hangs on (a real lock it never saw being created).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/neondatabase/neon/pull/5992"

# Module-level on purpose: created at import time, not in setup().
_ID_LOCK = threading.Lock()


def setup() -> SimpleNamespace:
    return SimpleNamespace(counter=0, issued=[])


def next_id(s: SimpleNamespace) -> int:
    s.counter += 1
    return s.counter


def next_id_locked(s: SimpleNamespace) -> int:
    with _ID_LOCK:
        s.counter += 1
        return s.counter


def spawn(s: SimpleNamespace) -> None:
    s.issued.append(next_id(s))


def spawn_fixed(s: SimpleNamespace) -> None:
    s.issued.append(next_id_locked(s))


def invariant(s: SimpleNamespace) -> None:
    check(sorted(s.issued) == [1, 2], f"ids issued {s.issued}, counter {s.counter}")


SCENARIO = Scenario(
    name="s_id_counter_module_lock",
    category="lost update",
    citation=CITATION,
    summary="`counter += 1; return counter` hands out duplicate ids [fixed side: module-level lock]",
    racy=Side(setup, [spawn, spawn], invariant),
    fixed=Side(setup, [spawn_fixed, spawn_fixed], invariant),
    expect="violation",
)
