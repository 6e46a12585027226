"""Correct code: publish a value, then ``Event.set()``; readers ``wait()`` first.

The readers touch the shared config without a lock, which looks racy, but
every read happens after ``wait()`` returns, and ``wait()`` returns only after
``set()``, which the writer calls after its last write.  This is the fix
Victor Stinner recommends for CPython's own timing-dependent thread tests
("reliable synchronization primitives should be used, like threading.Event",
python/cpython#74912), and the documented use of ``Event``.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/library/threading.html#event-objects; "
    "https://github.com/python/cpython/issues/74912"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(config=None, ready=threading.Event(), seen=[])


def loader(s: SimpleNamespace) -> None:
    config = {"host": "db", "port": 5432}
    config["port"] += 1  # still private: nobody can see it yet
    s.config = config
    s.ready.set()


def reader(s: SimpleNamespace) -> None:
    s.ready.wait()
    s.seen.append((s.config["host"], s.config["port"]))


def invariant(s: SimpleNamespace) -> None:
    check(s.seen == [("db", 5433)] * 2, f"readers saw {s.seen}")


SCENARIO = Scenario(
    name="s_ok_event_publication",
    category="correct code",
    citation=CITATION,
    summary="write config, then Event.set(); two readers Event.wait() then read it; correct",
    racy=None,
    fixed=Side(setup, [reader, loader, reader], invariant),
    expect="",
)
