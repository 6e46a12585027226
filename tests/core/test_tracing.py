"""3.10/3.11: opcode events only on lines that hold a point, and the same schedules as before."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import racecheck
from racecheck._core import instrument

pytestmark = pytest.mark.skipif(hasattr(sys, "monitoring"),
                                reason="the settrace backend (CPython 3.10, 3.11)")

SHARED = [0]


class State:
    def __init__(self) -> None:
        self.total = 0


def mostly_arithmetic(s: State) -> None:
    x = 7
    for i in range(200):
        x = (x * 1103515245 + 12345) % 2147483648
        if x % 3 == 0:
            x += i
        y = x // 7
        x ^= y
        if i % 50 == 0:
            s.total += SHARED[0]  # a shared read and write, now and then
    s.total += x % 2


def explore(seed: int) -> racecheck.Result:
    return racecheck.explore([mostly_arithmetic, mostly_arithmetic], setup=State,
                             strategy="random", schedules=12, seed=seed, isolate=False)


def test_few_point_lines_are_gated_and_lock_heavy_code_is_not() -> None:
    code = mostly_arithmetic.__code__
    pts = instrument.analyse(code, mostly_arithmetic.__globals__)
    gate = instrument._gate(code, pts)
    assert gate is not None
    lines = {line for _, _, line in code.co_lines() if line is not None}
    assert gate < lines and len(gate) <= len(lines) / 2
    first = code.co_firstlineno
    assert first + 3 not in gate  # `x = (x * 1103515245 + 12345) % 2147483648`: no point
    assert first + 9 in gate  # `s.total += SHARED[0]`

    def locked(s: Any) -> None:
        with s.lock:
            s.n += 1

    assert instrument._gate(locked.__code__,
                            instrument.analyse(locked.__code__, locked.__globals__)) is None


def test_gated_tracing_reaches_every_point_it_reached_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gated = [explore(seed) for seed in (1, 2)]
    monkeypatch.setattr(instrument, "GATE_SHARE", -1.0)  # every code object: every opcode
    monkeypatch.setattr(instrument, "_gates", {})
    full = [explore(seed) for seed in (1, 2)]
    assert instrument._gate(mostly_arithmetic.__code__, frozenset({0})) is None
    for a, b in zip(gated, full, strict=True):
        assert a.ok == b.ok
        assert [(r.steps, r.choices, r.preemptions) for r in a.runs] == \
               [(r.steps, r.choices, r.preemptions) for r in b.runs]
        assert a.runs[0].steps > 100  # the loop's points were reached
