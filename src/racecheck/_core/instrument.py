"""Scheduling points at bytecode granularity.

A thread can be preempted before every instruction that touches state another
thread could see: attribute, subscript, global and closure-cell loads and
stores, ``in`` tests, iteration steps, ``with`` entry and calls (a call into C
such as ``list.append`` or a numpy operation is one step).  Instructions on
locals only are never points, so ``x += 1`` on a global splits into a load
point and a store point, and a loop over locals runs at near full speed.

Two backends, chosen by version:

* 3.12+: ``sys.monitoring``.  A global PY_START/PY_RESUME event sees each code
  object once, analyses it and turns on *local* INSTRUCTION events for it; the
  first time an instruction that is not a point fires it returns DISABLE, so it
  never fires again (PEP 669).
* 3.10/3.11: ``sys.settrace`` with ``f_trace_opcodes`` in managed threads only.

Code in racecheck itself is never instrumented; frozen importlib neither, nor
pytest's and pluggy's (the harness that sets up a schedule's fixtures).
"""

from __future__ import annotations

import _weakrefset
import builtins
import dis
import queue
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from . import raw, threads
from .access import decode
from .threads import ManagedThread, registry

_POINT_NAMES = {
    "LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR",
    "LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME", "DELETE_NAME",
    "LOAD_DEREF", "STORE_DEREF", "DELETE_DEREF", "LOAD_CLASSDEREF",
    "LOAD_FROM_DICT_OR_DEREF", "LOAD_FROM_DICT_OR_GLOBALS",
    "BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR", "BINARY_SLICE", "STORE_SLICE",
    "CALL", "CALL_KW", "CALL_FUNCTION", "CALL_FUNCTION_KW", "CALL_FUNCTION_EX", "CALL_METHOD",
    "CONTAINS_OP", "FOR_ITER", "BEFORE_WITH", "SETUP_WITH",
}
POINT_OPS = frozenset(op for op in _POINT_NAMES if op in dis.opmap)
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_ATTR_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
# Globals bound to these never change in practice: reading them is not a race.
_STATIC_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)

_EMPTY: frozenset[int] = frozenset()

#: id(code) -> (code, point offsets, with-exit call offsets); the code object is kept
#: alive so ids stay unique.  The exit calls are the ``__exit__(None, None, None)``
#: that leave a ``with`` block normally: a schedule that ends while a thread is
#: parked there must not unwind it at that point, or the exception would skip the
#: exit and leave a real lock locked for every later schedule.
_points: dict[int, tuple[types.CodeType, frozenset[int], frozenset[int]]] = {}
#: CPU seconds spent analysing code so far: racecheck's time inside a user's step,
#: which a timed schedule leaves out (Execution.time_reached).
analysis_seconds = 0.0


# threading.py's own bookkeeping (Thread.__init__, _newname, _dangling) reads state
# other schedules leave behind and would make replays diverge; its blocking calls
# still reach our cooperative locks, which are scheduling points themselves.
#: queue's code has no points either: its operations run as one step each
#: (``_sync/locks.py``'s ``_from_queue``, ``effects.queue_atom``).
_EXCLUDED_FILES = frozenset({threading.__file__, _weakrefset.__file__, queue.__file__})


def excluded(code: types.CodeType) -> bool:
    name = code.co_filename
    return (name.startswith(raw.OWN_DIRS) or name.startswith("<frozen") or name in _EXCLUDED_FILES
            or name.startswith(raw.harness_dirs()))


def _generated_for_us(code: types.CodeType, globals_: dict[str, Any]) -> bool:
    """Code made at run time for racecheck's own classes (a dataclass's ``__init__``).

    Its file is ``<string>``, not ours, but its globals are our module's: a
    point inside it would put a scheduling decision inside racecheck's own
    bookkeeping (a report's data built in a lock shim changed the schedule).
    """
    if not code.co_filename.startswith("<"):
        return False
    module = globals_.get("__name__")
    return isinstance(module, str) and module.split(".", 1)[0] in ("racecheck", "pytest_racecheck")


def analyse(code: types.CodeType, globals_: dict[str, Any]) -> frozenset[int]:
    """The offsets of ``code`` that are scheduling points (cached per code object)."""
    hit = _points.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    if excluded(code) or _generated_for_us(code, globals_):
        pts, exits = _EMPTY, _EMPTY
    else:
        learned = _learned.get(id(code))
        if learned is not None and learned[0] == _identity(code):
            pts, exits = learned[1], learned[2]
        else:
            global analysis_seconds
            began = raw.real_thread_time()
            offsets, exit_offsets = _point_offsets(code, globals_)
            pts, exits = frozenset(offsets), frozenset(exit_offsets)
            analysis_seconds += raw.real_thread_time() - began
            if threads.in_child:  # to send back (new_analyses); in-process, _points keeps it
                _new.append(code)
    _points[id(code)] = (code, pts, exits)
    return pts


# Every schedule runs in a child forked from the test process, and analyses the
# code it runs afresh: the analysis (``dis``) was a third of a short schedule's
# time.  The children send what they analysed back (``new_analyses``), and the
# parent keeps it for the next children (``learn``), keyed by the code object's
# address (children share the parent's) and checked against its bytecode.
_learned: dict[int, tuple[tuple[str, int, int, int], frozenset[int], frozenset[int]]] = {}
_new: list[types.CodeType] = []


def _identity(code: types.CodeType) -> tuple[str, int, int, int]:
    return (code.co_name, code.co_firstlineno, hash(code.co_code), hash(code.co_filename))


def new_analyses() -> list[list[Any]]:
    """The analyses made in this process since the last call, as JSON-able data."""
    out = [[id(code), *_identity(code), sorted(_points[id(code)][1]), sorted(_points[id(code)][2])]
           for code in _new if _points.get(id(code), (None,))[0] is code]
    _new.clear()
    return out


def learn(data: list[list[Any]]) -> None:
    """Keep analyses a schedule's child made (``new_analyses``) for the next children."""
    for code_id, name, line, code_hash, file_hash, pts, exits in data:
        _learned[int(code_id)] = ((str(name), int(line), int(code_hash), int(file_hash)),
                                  frozenset(int(p) for p in pts),
                                  frozenset(int(e) for e in exits))


def _static_global(name: str, globals_: dict[str, Any]) -> bool:
    value = globals_.get(name, _MISSING)
    if value is _MISSING:
        return hasattr(builtins, name)
    return isinstance(value, _STATIC_TYPES)


_MISSING = object()


_WITH_EXIT_ARGS = (("LOAD_CONST", None), ("LOAD_CONST", None), ("LOAD_CONST", None))
_WITH_EXIT_ARGS_310 = (("LOAD_CONST", None), ("DUP_TOP", None), ("DUP_TOP", None))


def _point_offsets(code: types.CodeType, globals_: dict[str, Any]) -> tuple[list[int], list[int]]:
    offsets: list[int] = []
    exits: list[int] = []
    prev_static_module = False
    recent: list[tuple[str, object]] = []
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op.startswith("CALL") and tuple(recent[-3:]) in (_WITH_EXIT_ARGS, _WITH_EXIT_ARGS_310):
            exits.append(ins.offset)
        if op not in ("PRECALL", "CACHE", "EXTENDED_ARG"):
            recent.append((op, ins.argval if op == "LOAD_CONST" else None))
        static_module = False
        if op in POINT_OPS:
            if op in _GLOBAL_LOADS:
                name = ins.argval if isinstance(ins.argval, str) else str(ins.argval)
                if _static_global(name, globals_):
                    static_module = isinstance(globals_.get(name), types.ModuleType)
                else:
                    offsets.append(ins.offset)
            elif op in _ATTR_LOADS and prev_static_module:
                pass  # ``time.sleep``, ``np.zeros``: an attribute of a module
            else:
                offsets.append(ins.offset)
        prev_static_module = static_module
    return offsets, exits


# --------------------------------------------------------------------------- hooks


_managed = registry.get
_get_ident = raw.get_ident
_DISABLE = getattr(getattr(sys, "monitoring", None), "DISABLE", None)


def _reach(mt: ManagedThread, frame: Any, offset: int, exit_call: bool) -> None:
    """A managed thread reached a point (both backends end here)."""
    ex = mt.ex
    if ex.timing:
        ex.time_reached(mt)
    if ex.wants_accesses and not ex.alone:  # alone, no choice reads an access
        mt.busy += 1
        try:
            mt.pending = decode(frame, offset)
        finally:
            mt.busy -= 1
        if ex.step_log is not None:
            mt.at = (frame, offset)
    hooks = ex.hooks["step"]
    if hooks and not ex.over:  # never observe racecheck's unwinding
        access = mt.pending if ex.wants_accesses else None
        mt.busy += 1
        try:
            for hook in hooks:
                hook(mt, frame, offset, access)
        finally:
            mt.busy -= 1
    if exit_call:
        mt.protected = True  # an ended schedule does not unwind it here (see _points)
        try:
            ex.point(mt)
        finally:
            mt.protected = False
    else:
        ex.point(mt)
    if ex.timing:
        ex.time_resumed(mt)


#: Monitoring events that mean an exception moved through a managed thread's code.
_EXCEPTION_EVENTS = ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND")


def _on_raise(code: Any, offset: int, exc: object) -> None:
    """An exception in a managed thread: a reduction no longer knows where its step went."""
    mt = _managed(_get_ident())
    if mt is not None and not mt.busy:
        mt.ex.taint(mt)


class _Backend:
    def install(self, exceptions: bool = False) -> None: ...
    def uninstall(self) -> None: ...
    def thread_started(self) -> None: ...
    def thread_finished(self) -> None: ...


def claim_tool(name: str) -> int:
    """A free ``sys.monitoring`` tool id, taken under ``name`` (3.12+)."""
    mon: Any = sys.monitoring  # type: ignore[attr-defined]
    for tool in (4, 3, 5, 2, 0, 1):
        if mon.get_tool(tool) is None:
            mon.use_tool_id(tool, name)
            return tool
    from ..errors import UsageError

    raise UsageError("racecheck needs a free sys.monitoring tool id; all six are in use")


def release_tool(tool: int, codes: Any, events: tuple[str, ...]) -> None:
    """Turn ``tool``'s global and local events off, drop its callbacks, free the id."""
    mon: Any = sys.monitoring  # type: ignore[attr-defined]
    mon.set_events(tool, 0)
    for code in codes:
        mon.set_local_events(tool, code, 0)
    for event in events:
        mon.register_callback(tool, getattr(mon.events, event), None)
    mon.free_tool_id(tool)


class _MonitoringBackend(_Backend):
    """PEP 669 local events (3.12+)."""

    def __init__(self) -> None:
        self.tool = -1
        self.codes: dict[int, types.CodeType] = {}

    def install(self, exceptions: bool = False) -> None:
        mon: Any = sys.monitoring  # type: ignore[attr-defined]
        tool = self.tool = claim_tool("racecheck")
        ev = mon.events
        mon.register_callback(tool, ev.PY_START, self._on_start)
        mon.register_callback(tool, ev.PY_RESUME, self._on_start)
        mon.register_callback(tool, ev.INSTRUCTION, self._on_instruction)
        for event in _EXCEPTION_EVENTS:
            mon.register_callback(tool, getattr(ev, event), _on_raise)
        # Events a previous exploration DISABLEd would stay off; turn them back on.
        mon.restart_events()
        events = ev.PY_START | ev.PY_RESUME
        if exceptions:  # a reduction needs to know a step raised (Execution.taint)
            events |= ev.RAISE | ev.RERAISE | ev.EXCEPTION_HANDLED | ev.PY_UNWIND
        mon.set_events(tool, events)

    def uninstall(self) -> None:
        if self.tool < 0:
            return
        tool, self.tool = self.tool, -1
        release_tool(tool, self.codes.values(),
                     ("PY_START", "PY_RESUME", "INSTRUCTION", *_EXCEPTION_EVENTS))
        self.codes.clear()

    def _on_start(self, code: types.CodeType, offset: int) -> Any:
        mon: Any = sys.monitoring  # type: ignore[attr-defined]
        if id(code) not in self.codes:
            pts = analyse(code, sys._getframe(1).f_globals)
            if pts:
                self.codes[id(code)] = code
                mon.set_local_events(self.tool, code, mon.events.INSTRUCTION)
        return mon.DISABLE

    def _on_instruction(self, code: types.CodeType, offset: int) -> Any:
        # The hottest function of racecheck: one call per point reached.
        entry = _points[id(code)]
        if offset not in entry[1]:
            return _DISABLE
        mt = _managed(_get_ident())
        if mt is None or mt.busy:
            return None
        ex = mt.ex
        if not ex.watched and offset not in entry[2]:
            ex.point(mt)
        else:
            _reach(mt, sys._getframe(1), offset, offset in entry[2])
        return None


#: 3.10/3.11: per code object, the lines that hold a point when few of its lines
#: do (then opcodes are traced on those lines only), else None (every opcode).
_gates: dict[int, tuple[types.CodeType, frozenset[int] | None]] = {}
#: Above this share of a code object's lines holding a point, tracing every
#: opcode costs less than a line event per line plus the opcodes of most lines.
GATE_SHARE = 0.5


def _gate(code: types.CodeType, pts: frozenset[int]) -> frozenset[int] | None:
    hit = _gates.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    every: set[int] = set()
    with_point: set[int] = set()
    lineless_point = False
    for start, end, line in code.co_lines():
        has_point = any(offset in pts for offset in range(start, end, 2))
        if line is None:
            lineless_point = lineless_point or has_point  # no line event would reach it
            continue
        every.add(line)
        if has_point:
            with_point.add(line)
    few = len(with_point) <= GATE_SHARE * len(every)
    gate = frozenset(with_point) if few and not lineless_point else None
    _gates[id(code)] = (code, gate)
    return gate


#: 3.11 sends a line event whenever the line number changes (3.10: at the start
#: of a line's range of instructions), so there a frame can stop getting opcode
#: events past its line's last point until the next line event.
_LINE_CHANGE_EVENTS = sys.version_info >= (3, 11)


def _last_points(code: types.CodeType, pts: frozenset[int]) -> frozenset[int]:
    """Per line holding points, the offset of its last point."""
    last: dict[int, int] = {}
    for start, end, line in code.co_lines():
        if line is None:
            continue
        for offset in range(start, end, 2):
            if offset in pts and offset > last.get(line, -1):
                last[line] = offset
    return frozenset(last.values())


class _SettraceBackend(_Backend):
    """Opcode tracing in managed threads (3.10, 3.11).

    ``sys.settrace`` calls the tracer at every opcode of a frame with
    ``f_trace_opcodes``, points or not: about 2 us each on 3.11.  In code
    where few lines hold a point (arithmetic between two shared reads), the
    frame gets line events instead, and opcode events only while it is on a
    line that holds one (``_gate``), on 3.11 only up to that line's last point.
    Each code object gets local tracers of its own (``_tracers``), whose sets
    are their locals: an event does no lookup by code object.
    """

    def __init__(self) -> None:
        #: Per code object (by id, checked by identity): its points' local tracer for
        #: every opcode, or gated by lines, and its gate (None: no gate).
        self._tracers: dict[int, tuple[types.CodeType, Any, frozenset[int] | None]] = {}

    def thread_started(self) -> None:
        sys.settrace(self._on_call)

    def thread_finished(self) -> None:
        sys.settrace(None)

    def _on_call(self, frame: Any, event: str, arg: object) -> Any:
        if event != "call":
            return None
        code = frame.f_code
        hit = self._tracers.get(id(code))
        if hit is not None and hit[0] is code and hit[1] is None:
            return None  # no point in it (racecheck's own lock shims...): the common call
        mt = _managed(_get_ident())
        if mt is not None and mt.busy:
            return None  # racecheck's own work (the strategy's random.py...): never trace it
        if hit is None or hit[0] is not code:
            hit = self._tracers[id(code)] = (code, *_local_tracer(code, frame.f_globals))
        tracer, gate = hit[1], hit[2]
        if tracer is None:
            return None
        if gate is None:
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return tracer
        # also on a generator's resumption, in the middle of a line
        frame.f_trace_opcodes = frame.f_lineno in gate
        frame.f_trace_lines = True
        return tracer


def _local_tracer(code: types.CodeType, globals_: dict[str, Any]
                  ) -> tuple[Callable[[Any, str, object], Any] | None, frozenset[int] | None]:
    """The local trace function for frames of ``code`` (None: it has no point), and its gate."""
    pts = analyse(code, globals_)
    if not pts:
        return None, None
    exits = _points[id(code)][2]
    gate = _gate(code, pts)
    managed, ident, reach = _managed, _get_ident, _reach

    def point(frame: Any, offset: int) -> None:
        mt = managed(ident())
        if mt is not None and not mt.busy:
            ex = mt.ex
            if not ex.watched and offset not in exits:
                ex.point(mt)
            else:
                reach(mt, frame, offset, offset in exits)

    def on_opcode(frame: Any, event: str, arg: object) -> Any:
        if event == "opcode":
            offset = frame.f_lasti
            if offset in pts:
                point(frame, offset)
        elif event == "exception":
            _on_raise(None, 0, None)
        return on_opcode

    if gate is None:
        return on_opcode, None
    lasts = _last_points(code, pts) if _LINE_CHANGE_EVENTS else frozenset()

    def on_line(frame: Any, event: str, arg: object) -> Any:
        if event == "line":
            frame.f_trace_opcodes = frame.f_lineno in gate
        elif event == "opcode":
            offset = frame.f_lasti
            if offset in pts:
                if offset in lasts:
                    frame.f_trace_opcodes = False  # nothing more on this line
                point(frame, offset)
        elif event == "exception":
            _on_raise(None, 0, None)
        return on_line

    return on_line, gate


backend: _Backend = _MonitoringBackend() if hasattr(sys, "monitoring") else _SettraceBackend()


def install(exceptions: bool = False) -> None:
    """Turn the instrumentation on; ``exceptions``: also tell steps that raised."""
    backend.install(exceptions)


def uninstall() -> None:
    backend.uninstall()


def thread_started() -> None:
    backend.thread_started()


def thread_finished() -> None:
    backend.thread_finished()
