"""The recorded trace of one schedule: who ran where, and what it read and wrote.

Recording is only switched on when a failing schedule is replayed for its
report, so exploration pays nothing for it.  At each scheduling point the
recorder notes the thread, the source line and the instruction; for shared
accesses whose target it can name from the bytecode just before (``self.x``,
a global, a closure cell) it also reads the value: before a load, and after a
store (at the thread's next step).  A per-location version counter then names
*lost updates*: a write by one thread over a value another thread wrote after
the first one last read it (the classic read-modify-write race).

A :class:`Trace` is plain data (steps with thread ids), so a shrinker can cut
it and a renderer can draw it.
"""

from __future__ import annotations

import dis
import reprlib
import sysconfig
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import raw
from .access import NOTHING, code_info, instance_attr, operand_of
from .events import Observer

if TYPE_CHECKING:

    from .access import Access
    from .threads import ManagedThread, Resource

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = 6
_repr.maxdict = 4


@dataclass
class Step:
    """One scheduling point of one thread.

    ``access`` and ``note`` are the report's English; a renderer uses the data
    fields: ``kind`` (read, write, lookup, call, item-read, item-write,
    iterate, test, lib), ``target`` (``self.value``, a global's name), ``value``
    (a short repr of the value read or written, never the object's own
    ``repr``), ``chosen`` (the thread got the baton at a choice point here) and
    ``preempted`` (it got it from a thread that could have gone on).
    """

    tid: int
    thread: str
    filename: str
    lineno: int
    op: str
    access: str = ""  # "reads self.value -> 0", "writes db_value = 1", "calls append"
    note: str = ""  # "lost update: ..." when this write lost another thread's write
    kind: str = ""
    target: str = ""
    value: str = ""
    chosen: bool = False
    preempted: bool = False


#: Step fields in the order ``Trace.to_data`` writes them.
_STEP_FIELDS = ("tid", "thread", "filename", "lineno", "op", "access", "note", "kind", "target",
                "value", "chosen", "preempted")


@dataclass(frozen=True)
class SyncEvent:
    """A thread took, let go of, or blocked on a lock or other resource.

    ``step`` is the index of the thread's step the event belongs to (its last
    step so far: the event happened while that step ran); ``op`` is acquire,
    release or block; ``resource`` the resource as the report names it.
    """

    step: int
    tid: int
    op: str
    resource: str


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)
    lost_updates: list[str] = field(default_factory=list)
    #: Each lost update as (index of the losing write, index of the write it lost).
    lost_update_steps: list[tuple[int, int]] = field(default_factory=list)
    #: Lock acquisitions and releases, and blocking, in the order they happened.
    sync_events: list[SyncEvent] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data (how a trace crosses from a schedule's child process)."""
        return {"steps": [[getattr(s, f) for f in _STEP_FIELDS] for s in self.steps],
                "lost_updates": list(self.lost_updates),
                "lost_update_steps": [list(p) for p in self.lost_update_steps],
                "sync_events": [[e.step, e.tid, e.op, e.resource] for e in self.sync_events]}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Trace:
        steps = []
        for row in data.get("steps", []):
            values = dict(zip(_STEP_FIELDS, row, strict=False))
            steps.append(Step(int(values["tid"]), str(values["thread"]),
                              str(values["filename"]), int(values["lineno"]),
                              str(values["op"]), str(values.get("access", "")),
                              str(values.get("note", "")), str(values.get("kind", "")),
                              str(values.get("target", "")), str(values.get("value", "")),
                              bool(values.get("chosen", False)),
                              bool(values.get("preempted", False))))
        pairs = [(int(a), int(b)) for a, b in data.get("lost_update_steps", [])]
        events = [SyncEvent(int(i), int(tid), str(op), str(res))
                  for i, tid, op, res in data.get("sync_events", [])]
        return cls(steps, [str(x) for x in data.get("lost_updates", [])], pairs, events)




_STDLIB = sysconfig.get_paths()["stdlib"]


def _is_library(filename: str) -> bool:
    return (filename.startswith(_STDLIB) or "site-packages" in filename
            or "dist-packages" in filename or filename.startswith("<"))


class Recorder(Observer):
    """Collects a Trace during one (replayed) schedule: an observer of its events."""

    def __init__(self) -> None:
        self.trace = Trace()
        self._pending: dict[int, tuple[Step, Any, str, tuple[Any, ...] | None, int]] = {}
        # key -> (version, tid, thread name, index of the write's step)
        self._version: dict[tuple[Any, ...], tuple[int, int, str, int]] = {}
        #: (thread id, preempted) of the thread a choice point just gave the baton to.
        self._chosen: tuple[int, bool] | None = None
        self._seen: dict[tuple[int, tuple[Any, ...]], int] = {}  # (tid, key) -> version read
        self._counter = 0
        self.harness = raw.harness_dirs()
        #: (thread name, steps so far) when a harness saw the body raise (``body_raised``).
        self.raised_at: tuple[str, int] | None = None

    # ---------------------------------------------------------------- events

    def step(self, mt: ManagedThread, frame: Any, offset: int, access: Access | None) -> None:
        try:
            self._step(mt, frame, offset)
        except Exception:
            pass

    def _step(self, mt: ManagedThread, frame: Any, offset: int) -> None:
        self._flush(mt)
        code = frame.f_code
        if _is_library(code.co_filename):
            # Inside the stdlib or a dependency: attribute the step to the user's
            # line that called into it, so the interleaving reads in the user's terms.
            caller = frame.f_back
            harness = code.co_filename.startswith(self.harness)
            while caller is not None and _is_library(caller.f_code.co_filename):
                harness = harness or caller.f_code.co_filename.startswith(self.harness)
                caller = caller.f_back
            if caller is not None and not caller.f_code.co_filename.startswith(raw.OWN_DIRS):
                self._append(Step(mt.tid, mt.name, caller.f_code.co_filename,
                                  caller.f_lineno or 0, "LIB", kind="lib"))
                return
            if harness:
                return  # pytest setting up or tearing down a schedule's fixtures
        info = code_info(code)
        ins = info.instrs.get(offset)
        lineno = info.lines.get(offset, frame.f_lineno or 0)
        op = ins.opname if ins is not None else "?"
        step = Step(mt.tid, mt.name, code.co_filename, lineno, op)
        self._append(step)
        if ins is None:
            return
        try:
            self._describe(mt, frame, ins, info.operand.get(offset), step)
        except Exception:
            pass

    def blocked(self, mt: ManagedThread, resource: Resource) -> None:
        self._flush(mt)
        self._sync(mt, "block", resource)
        if self.trace.steps and self.trace.steps[-1].tid == mt.tid:
            last = self.trace.steps[-1]
            extra = f"blocks on {resource.describe()}"
            last.note = f"{last.note}; {extra}" if last.note else extra

    def acquired(self, mt: ManagedThread, resource: Resource) -> None:
        self._sync(mt, "acquire", resource)

    def released(self, mt: ManagedThread, resource: Resource) -> None:
        self._sync(mt, "release", resource)

    def _sync(self, mt: ManagedThread, op: str, resource: Resource) -> None:
        if self.raised_at is not None and self.raised_at[0] == mt.name:
            return  # the harness's teardown after the failure (see finish)
        try:
            what = resource.describe()
        except Exception:
            what = type(resource).__name__
        steps = self.trace.steps
        index = next((i for i in range(len(steps) - 1, -1, -1) if steps[i].tid == mt.tid), -1)
        self.trace.sync_events.append(SyncEvent(index, mt.tid, op, what))

    def _append(self, step: Step) -> None:
        chosen = self._chosen
        if chosen is not None and chosen[0] == step.tid:
            step.chosen, step.preempted = True, chosen[1]
            self._chosen = None
        self.trace.steps.append(step)

    def choice(self, current: int, chosen: int) -> None:
        """A choice point gave the baton to ``chosen`` (marked on its next step)."""
        self._chosen = (chosen, current != -1 and chosen != current)

    def finish(self, failed_thread: str | None = None) -> None:
        """Close the trace; when ``failed_thread`` raised, end it where its body raised."""
        for tid in list(self._pending):
            self._flush_tid(tid)
        if self.raised_at is not None and self.raised_at[0] == failed_thread:
            # What follows is the harness's teardown after the failure (fixtures
            # stopping their threads): the interleaving ends at the failure.
            cut = self.raised_at[1]
            del self.trace.steps[cut:]
            self.trace.lost_update_steps = [p for p in self.trace.lost_update_steps if p[0] < cut]
            self.trace.sync_events = [e for e in self.trace.sync_events if e.step < cut]

    # -------------------------------------------------------------- describing

    def _describe(self, mt: ManagedThread, frame: Any, ins: dis.Instruction,
                  prev: dis.Instruction | None, step: Step) -> None:
        op = ins.opname
        name = ins.argval if isinstance(ins.argval, str) else None
        if op in ("LOAD_GLOBAL", "LOAD_NAME") and name:
            value = frame.f_globals.get(name, NOTHING)
            self._read(mt, step, ("g", id(frame.f_globals), name), name, value)
        elif op in ("STORE_GLOBAL", "STORE_NAME") and name:
            g = frame.f_globals
            self._later(mt, step, ("g", id(g), name), name, lambda: g.get(name, NOTHING))
        elif op in ("LOAD_DEREF", "LOAD_CLASSDEREF") and name:
            # A frame does not expose its cells, so two threads' cells of the same
            # name cannot be told apart: values are shown, lost updates not tracked.
            self._read(mt, step, None, name, frame.f_locals.get(name, NOTHING))
        elif op == "STORE_DEREF" and name:
            fr = frame
            self._later(mt, step, None, name, lambda: fr.f_locals.get(name, NOTHING))
        elif op in ("LOAD_ATTR", "LOAD_METHOD") and name:
            obj, label = operand_of(frame, prev)
            if obj is not NOTHING:
                value = instance_attr(obj, name)
                if value is NOTHING or callable(value):
                    step.access = f"looks up {label}.{name}"
                    step.kind, step.target = "lookup", f"{label}.{name}"
                else:
                    self._read(mt, step, ("a", id(obj), name), f"{label}.{name}", value)
        elif op == "STORE_ATTR" and name:
            obj, label = operand_of(frame, prev)
            if obj is not NOTHING:
                self._later(mt, step, ("a", id(obj), name), f"{label}.{name}",
                            lambda: instance_attr(obj, name))
        elif op.startswith("CALL"):
            step.access, step.kind = "calls", "call"
        elif op in ("BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR"):
            step.access = {"BINARY_SUBSCR": "reads an item", "STORE_SUBSCR": "writes an item",
                           "DELETE_SUBSCR": "deletes an item"}[op]
            step.kind = "item-read" if op == "BINARY_SUBSCR" else "item-write"
        elif op == "CONTAINS_OP":
            step.access, step.kind = "tests membership", "test"
        elif op == "FOR_ITER":
            step.access, step.kind = "iterates", "iterate"

    def _read(self, mt: ManagedThread, step: Step, key: tuple[Any, ...] | None, label: str,
              value: Any) -> None:
        if value is NOTHING:
            return
        step.access = f"reads {label} -> {_one_line(value)}"
        step.kind, step.target, step.value = "read", label, _one_line(value)
        if key is None:
            return
        version = self._version.get(key)
        self._seen[(mt.tid, key)] = version[0] if version else 0

    def _later(self, mt: ManagedThread, step: Step, key: tuple[Any, ...] | None, label: str,
               getter: Any) -> None:
        step.access = f"writes {label}"
        step.kind, step.target = "write", label
        self._pending[mt.tid] = (step, getter, label, key, len(self.trace.steps) - 1)

    def _flush(self, mt: ManagedThread) -> None:
        # A thread's store runs right after its point, while it keeps the baton, so it
        # has happened by the thread's next step (or its end): never earlier, since a
        # choice at the point may hand the baton on before the store runs.
        if mt.tid in self._pending:
            self._flush_tid(mt.tid)

    def thread_done(self, mt: ManagedThread) -> None:
        self._flush(mt)

    def _flush_tid(self, tid: int) -> None:
        step, getter, label, key, index = self._pending.pop(tid)
        try:
            value = getter()
        except Exception:
            value = NOTHING
        if value is not NOTHING:
            step.access = f"writes {label} = {_one_line(value)}"
            step.value = _one_line(value)
        if key is None:
            return
        previous = self._version.get(key)
        # A lost update is a write computed from a read that another thread's write
        # made stale: this thread read the key (since its own last write of it), and
        # another thread wrote it after that read.  A blind write (no read since the
        # thread's own last write) loses nothing it computed from (issue 10).
        read = self._seen.pop((tid, key), None)
        if previous is not None and previous[1] != tid and read is not None and read < previous[0]:
            text = (f"lost update: {step.thread} wrote {label} computed from a value it read "
                    f"before {previous[2]} wrote {label}")
            step.note = text
            self.trace.lost_updates.append(text)
            self.trace.lost_update_steps.append((index, previous[3]))
        self._counter += 1
        self._version[key] = (self._counter, tid, step.thread, index)


_SCALARS = (int, float, complex, str, bytes, bool, type(None))


def _one_line(value: Any, depth: int = 0) -> str:
    """A short repr that never runs user code.

    Calling ``repr()`` on arbitrary objects is not an observation: pandas fills
    caches when printed, so a recorded replay would take another path than the
    schedule it replays.  Builtin scalars and containers are shown, anything
    else by its type.
    """
    kind = type(value)
    if kind in _SCALARS:
        return " ".join(_repr.repr(value).split())
    if kind in (list, tuple, set, frozenset) and depth < 2:
        items = [_one_line(v, depth + 1) for v in list(value)[:6]]
        more = ", ..." if len(value) > 6 else ""
        if not items:
            return repr(kind())
        if kind is tuple and len(value) == 1:
            return f"({items[0]},)"
        brackets = "[]" if kind is list else "()" if kind is tuple else "{}"
        return f"{brackets[0]}{', '.join(items)}{more}{brackets[1]}"
    if kind is dict and depth < 2:
        pairs = [f"{_one_line(k, depth + 1)}: {_one_line(v, depth + 1)}"
                 for k, v in list(value.items())[:4]]
        return "{" + ", ".join(pairs) + (", ..." if len(value) > 4 else "") + "}"
    return f"<{kind.__name__}>"


def body_raised() -> None:
    """A test harness saw the body raise, in the calling managed thread (the plugin's hook)."""
    from . import threads

    mt = threads.registry.get(raw.get_ident())
    if mt is None:
        return
    recorder = mt.ex.recorder
    if recorder is not None and recorder.raised_at is None:
        recorder._flush(mt)
        recorder.raised_at = (mt.name, len(recorder.trace.steps))
