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
    monkeypatch.setattr(instrument.backend, "_tracers", {})
    full = [explore(seed) for seed in (1, 2)]
    assert instrument._gate(mostly_arithmetic.__code__, frozenset({0})) is None
    for a, b in zip(gated, full, strict=True):
        assert a.ok == b.ok
        assert [(r.steps, r.choices, r.preemptions) for r in a.runs] == \
               [(r.steps, r.choices, r.preemptions) for r in b.runs]
        assert a.runs[0].steps > 100  # the loop's points were reached


def lines_of_every_shape(s: State) -> None:
    x = 1
    while s.total < 30: s.total += 1  # noqa: E701 - one line: a backward jump onto it
    x = x * 3 + 1
    s.total = s.total + SHARED[0] + s.total  # three points on one line
    x = x * 5 + 2
    x += sum(s.total + i for i in range(3))  # a generator resumed on this line
    x = x * 7 + 3
    try: s.total += SHARED[1]  # noqa: E701 - raises after its first point
    except IndexError: s.total -= 1  # noqa: E701
    x = x * 11 + 4
    for _ in range(3): s.total += 1; s.total -= 1  # noqa: E701,E702
    x = x * 13 + 5
    x = x * 17 + 6
    x = x * 19 + 7
    x = x * 23 + 8
    x = x * 29 + 9
    x = x * 31 + 10
    x = x * 37 + 11
    x = x * 41 + 12
    x = x * 43 + 13
    s.total += x % 2


def test_a_line_stops_its_opcode_events_after_its_last_point_and_misses_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On 3.11 a gated frame stops getting opcode events past its line's last point
    (a line event comes at the next line, or a backward jump); the points reached,
    and so the schedules, are those of tracing every opcode."""
    code = lines_of_every_shape.__code__
    pts = instrument.analyse(code, lines_of_every_shape.__globals__)
    assert instrument._gate(code, pts) is not None
    if sys.version_info >= (3, 11):
        assert instrument._last_points(code, pts) < pts  # some line has two points or more

    def run(seed: int) -> racecheck.Result:
        return racecheck.explore([lines_of_every_shape, lines_of_every_shape], setup=State,
                                 strategy="random", schedules=8, seed=seed, isolate=False)

    gated = [run(seed) for seed in (3, 4)]
    monkeypatch.setattr(instrument, "GATE_SHARE", -1.0)
    monkeypatch.setattr(instrument, "_gates", {})
    monkeypatch.setattr(instrument.backend, "_tracers", {})
    full = [run(seed) for seed in (3, 4)]
    for a, b in zip(gated, full, strict=True):
        assert [(r.steps, r.choices, r.preemptions, r.verdict) for r in a.runs] == \
               [(r.steps, r.choices, r.preemptions, r.verdict) for r in b.runs]
        assert a.runs[0].steps > 60
