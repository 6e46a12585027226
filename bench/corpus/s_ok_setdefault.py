"""Correct code: ``d.setdefault(k, []).append(v)`` from several threads.

It looks like the check-then-act ``if k not in d: d[k] = []``, but for a
built-in ``dict`` with ``str`` keys ``setdefault`` is one C call, and
``list.append`` is too: no other thread runs in between, and no append is
lost.  The Python FAQ lists ``L.append(x)`` and ``D[x] = y`` among the
operations that are atomic; CPython made ``defaultdict.__missing__`` use the
same "set default" primitive so a racing insert keeps the existing value
(gh-142495, PR #142668).
"""

from __future__ import annotations

from types import SimpleNamespace

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://docs.python.org/3/faq/library.html#what-kinds-of-global-value-mutation-are-thread-safe; "
    "https://github.com/python/cpython/pull/142668"
)

PAIRS = ((("red", 1), ("blue", 2)), (("red", 3), ("green", 4)), (("blue", 5), ("red", 6)))


def setup() -> SimpleNamespace:
    return SimpleNamespace(index={})


def _index(pairs: tuple[tuple[str, int], ...]) -> Body:
    def add_all(s: SimpleNamespace) -> None:
        for key, value in pairs:
            s.index.setdefault(key, []).append(value)

    return add_all


def invariant(s: SimpleNamespace) -> None:
    got = {k: sorted(v) for k, v in s.index.items()}
    check(got == {"red": [1, 3, 6], "blue": [2, 5], "green": [4]}, f"index {got}")


SCENARIO = Scenario(
    name="s_ok_setdefault",
    category="correct code",
    citation=CITATION,
    summary="dict.setdefault(k, []).append(v) from three threads; looks like check-then-act, is atomic",
    racy=None,
    fixed=Side(setup, [_index(p) for p in PAIRS], invariant),
    expect="",
)
