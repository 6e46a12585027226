"""Spin loops: give way to the other threads, and tell a spin that can never end.

A thread that polls (``while not s.flag: pass``, ``while q.empty():
time.sleep(0)``) is correct code when another thread will set the flag; a
strategy that keeps choosing the spinner (PCT gives it the top priority)
would turn it into a livelock reported as a hang.  racecheck is therefore
*fair* in CHESS's sense (Musuvathi & Qadeer, "Fair stateless model checking",
PLDI 2008): a thread that has run ``SPIN_LIMIT`` points in a row while others
could run, or that yields (``time.sleep(0)``), gives way: it is left out of
the choices until the others block, finish or give way too
(``Execution._give_way``).  Lincheck handles spin loops the same way
(issue #1008 of its tracker).

A spin with nobody else to run is different: only the spinner can change
anything.  ``SpinProbe`` then watches the thread at the point where the probe
began: when it comes back to the very same stack positions with the same
values in its frames (locals, the attributes and sizes of the objects they
hold, the globals the code reads) for ``CONFIRM`` points, nothing can change
and the schedule ends with a ``hang`` at once.  A loop that changes any of
those, or iterates (``for`` advances an iterator the frames do not show), is
progress and is left alone.
"""

from __future__ import annotations

import collections
import dis
import itertools
import types
from typing import Any

from . import raw

#: Points a thread runs in a row, while another could run, before it gives way.
SPIN_LIMIT = 2000
#: Points a lone thread must repeat one unchanged state before it is a hang.
CONFIRM = 20_000

_SCALARS = frozenset({int, float, complex, str, bytes, bool, type(None)})
_STATIC_TYPES = frozenset({types.ModuleType, types.FunctionType, types.BuiltinFunctionType})
_SIZED_TYPES = frozenset({list, dict, set, frozenset, tuple, bytearray, collections.deque,
                          collections.OrderedDict, collections.defaultdict})
_ITER_TYPES = frozenset({itertools.count, itertools.cycle, itertools.repeat})


def user_frames(limit: int = 6) -> list[types.FrameType]:
    """The innermost frames outside racecheck, innermost first."""
    frames: list[types.FrameType] = []
    f: types.FrameType | None = raw.getframe(1)
    while f is not None and len(frames) < limit:
        if not f.f_code.co_filename.startswith(raw.OWN_DIRS):
            frames.append(f)
        f = f.f_back
    return frames


def _value(v: Any, depth: int) -> Any:
    """A comparable digest of a value that runs no user code.

    Only exact builtin types are asked for their size or repr; an object's
    attributes are read from its instance dict with ``object.__getattribute__``,
    so no ``__getattr__``, property or mock magic runs inside the tracer.
    """
    kind = type(v)
    if kind in _SCALARS:
        return v if kind is not str or len(v) < 200 else (len(v), hash(v))
    if kind in _SIZED_TYPES:
        return (id(v), len(v))
    if kind in _ITER_TYPES:
        return (id(v), repr(v))  # C iterators' state shows in their repr only
    if kind is types.GeneratorType:
        frame = v.gi_frame
        return (id(v), frame.f_lasti if frame is not None else -1)
    if depth == 0 and kind.__dictoffset__ and not isinstance(v, type):
        try:
            attrs = object.__getattribute__(v, "__dict__")
        except Exception:
            return id(v)
        if type(attrs) is dict and len(attrs) <= 64:
            return (id(v), tuple((k, _value(x, 1)) for k, x in list(attrs.items())))
    return id(v)


def fingerprint(frames: list[types.FrameType]) -> tuple[Any, ...]:
    """Everything a spin loop's condition could read, without running user code."""
    parts: list[Any] = []
    for f in frames:
        code = f.f_code
        try:
            local = dict(f.f_locals)
        except Exception:
            local = {}
        parts.append(tuple((k, _value(v, 0)) for k, v in local.items()))
        g = f.f_globals
        parts.append(tuple((n, _value(g[n], 0)) for n in code.co_names
                           if n in g and type(g[n]) not in _STATIC_TYPES
                           and not isinstance(g[n], type)))
    return tuple(parts)


def position(frames: list[types.FrameType]) -> tuple[tuple[int, int], ...]:
    return tuple((id(f.f_code), f.f_lasti) for f in frames)


def in_for_loop(frame: types.FrameType) -> bool:
    """Whether the frame's current instruction is inside a ``for`` loop's body."""
    lasti = frame.f_lasti
    for ins in dis.get_instructions(frame.f_code):
        if (ins.opname == "FOR_ITER" and isinstance(ins.argval, int)
                and ins.offset <= lasti < ins.argval):
            return True
    return False


class SpinProbe:
    """Watches a lone thread for a loop that changes nothing."""

    def __init__(self, frames: list[types.FrameType]) -> None:
        self.anchor = position(frames)
        self.state = fingerprint(frames)
        self.points = 0
        self.repeats = 0
        self.iterating = bool(frames) and in_for_loop(frames[0])
        self.where = (f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}"
                      if frames else "?")

    def visit(self, frames: list[types.FrameType]) -> str | None:
        """'spin', 'progress', or None (keep watching)."""
        self.points += 1
        if self.iterating:
            return "progress"
        if position(frames) != self.anchor:
            if self.points > 4 * SPIN_LIMIT and not self.repeats:
                return "progress"  # not a short loop around one place
            return None
        if fingerprint(frames) != self.state:
            return "progress"
        self.repeats += 1
        if self.points >= CONFIRM and self.repeats >= 3:
            return "spin"
        return None


#: Points watched past ``max_steps`` to tell a long body from a livelock.
JUDGE = 20_000
#: New states among the second half of those points that make it progress.
PROGRESS = JUDGE // 200


class LengthJudge:
    """Past ``max_steps``: is the body long, or going round in circles?

    Every point of the next ``JUDGE`` is keyed by the running thread's stack
    positions, frame values (``fingerprint``) and the virtual clock.  A body
    that is merely long (a stress loop of 20 threads x 1,000 operations, a
    loop on a stopwatch) keeps reaching states it has not been in: a counter,
    an index or a clock reading changes, and most of its points are new.  A
    livelock (two threads backing off from each other's locks forever) only
    revisits states it was in: once the threads' positions have been combined
    every way, hardly any point is new.  The spin probe's test (``SpinProbe``)
    applied to all the threads together, counted over the window's second half.
    The window is ``JUDGE`` points, or ``max_steps`` when that is smaller.
    """

    def __init__(self, window: int = JUDGE) -> None:
        self.window = window
        self.enough = max(1, window * PROGRESS // JUDGE)
        self.seen: dict[int, set[Any]] = {}
        self.points = 0
        self.new = 0

    def visit(self, tid: int, frames: list[types.FrameType], clock: float) -> str | None:
        """'progress', 'livelock', or None (keep watching)."""
        self.points += 1
        key = (position(frames), fingerprint(frames), clock)
        seen = self.seen.setdefault(tid, set())
        if key not in seen:
            seen.add(key)
            if self.points > self.window // 2:
                self.new += 1
                if self.new >= self.enough:
                    return "progress"
        if self.points >= self.window:
            return "livelock"
        return None
