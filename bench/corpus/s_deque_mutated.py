"""Container corruption: iterating a ``collections.deque`` that another thread appends to.

``deque.append`` is thread-safe, iterating a deque is not: LinkChecker's URL
cache enumerated its ``incoming`` deque while checker threads appended to it
and crashed with "RuntimeError: deque mutated during iteration"; the reporter
fixed it by "putting a lock around two places" (wummel/linkchecker#135, also
#107 and #142).  gridsync hit the same with a log buffer (gridsync#249).  The
fix guards the iteration and the append with one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/wummel/linkchecker/issues/135; "
    "https://github.com/gridsync/gridsync/issues/249"
)


def setup() -> SimpleNamespace:
    incoming = deque(["http://a/", "http://b/"])
    return SimpleNamespace(incoming=incoming, lock=threading.Lock(), picked=[], errors=[])


def incoming_get_url(s: SimpleNamespace) -> None:
    try:
        for i, url in enumerate(s.incoming):
            if url.endswith("b/"):
                s.picked.append(i)
    except RuntimeError as exc:
        s.errors.append(f"RuntimeError: {exc}")


def incoming_get_url_fixed(s: SimpleNamespace) -> None:
    with s.lock:
        for i, url in enumerate(s.incoming):
            if url.endswith("b/"):
                s.picked.append(i)


def add_url(s: SimpleNamespace) -> None:
    s.incoming.append("http://c/")


def add_url_fixed(s: SimpleNamespace) -> None:
    with s.lock:
        s.incoming.append("http://c/")


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(s.picked == [1], f"picked {s.picked}")


SCENARIO = Scenario(
    name="s_deque_mutated",
    category="container corruption",
    citation=CITATION,
    summary="for-loop over a deque while another thread appends: deque mutated during iteration",
    racy=Side(setup, [incoming_get_url, add_url], invariant),
    fixed=Side(setup, [incoming_get_url_fixed, add_url_fixed], invariant),
    expect="violation",
)
