"""Correct code: several threads ``append`` to one shared list, unlocked.

``list.append`` is a single C call under the GIL, so no append is lost and
the list is never torn.  The Python FAQ lists it among the atomic operations,
and CPython's own tests rely on it: "some test code uses appends to a shared
list because the implementation of list.append() is atomic" (Sam Gross,
python/cpython#124366).
"""

from __future__ import annotations

from types import SimpleNamespace

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/faq/library.html#what-kinds-of-global-value-mutation-are-thread-safe; "
    "https://github.com/python/cpython/issues/124366"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(events=[])


def _producer(tag: str) -> Body:
    def produce(s: SimpleNamespace) -> None:
        for i in range(3):
            s.events.append(f"{tag}{i}")

    return produce


def invariant(s: SimpleNamespace) -> None:
    check(
        sorted(s.events) == sorted(f"{t}{i}" for t in "abc" for i in range(3)), f"events {s.events}"
    )


SCENARIO = Scenario(
    name="s_ok_list_append",
    category="correct code",
    citation=CITATION,
    summary="three threads list.append three items each to one shared list; nothing lost",
    racy=None,
    fixed=Side(setup, [_producer(t) for t in "abc"], invariant),
    expect="",
)
