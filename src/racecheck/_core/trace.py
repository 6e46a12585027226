"""The recorded trace of one schedule: who ran where, and what it read and wrote.

Recording is only switched on when a failing schedule is replayed for its
report, so exploration pays nothing for it.  At each scheduling point the
recorder notes the thread, the source line and the instruction; for shared
accesses whose target it can name from the bytecode just before (``self.x``,
a global, a closure cell) it also reads the value: before a load, and after a
store (at the thread's next step).  A point comes before its instruction, so a
thread that loses the baton there runs the instruction only when it gets it
back: the trace says where (``Trace.landed``), and a load is read again then.
A per-location version counter then names
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
    #: Steps whose instruction ran later than the step's place in ``steps``, as
    #: (index of the step, index of the step it ran just before).  A step is the
    #: scheduling point *before* an instruction: a thread that loses the baton there
    #: runs the instruction only when it gets the baton back, after other threads'
    #: steps (a write shown in place would come before the write it lost).
    landed: list[tuple[int, int]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data (how a trace crosses from a schedule's child process)."""
        return {"steps": [[getattr(s, f) for f in _STEP_FIELDS] for s in self.steps],
                "lost_updates": list(self.lost_updates),
                "lost_update_steps": [list(p) for p in self.lost_update_steps],
                "sync_events": [[e.step, e.tid, e.op, e.resource] for e in self.sync_events],
                "landed": [list(p) for p in self.landed]}

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
        landed = [(int(a), int(b)) for a, b in data.get("landed", [])]
        return cls(steps, [str(x) for x in data.get("lost_updates", [])], pairs, events, landed)




_STDLIB = sysconfig.get_paths()["stdlib"]


def _is_library(filename: str) -> bool:
    return (filename.startswith(_STDLIB) or "site-packages" in filename
            or "dist-packages" in filename or filename.startswith("<"))


# ------------------------------------------------ pytest's assertion rewriting
#
# pytest rewrites a test module's ``assert len(df) == n`` into code that keeps
# the parts in ``@py_assert1``-style temporaries and, when it fails, builds the
# explanation with ``@pytest_ar._saferepr(...)`` and ``'df' in
# @py_builtins.locals()`` checks.  Those are not the user's accesses: a report
# showing "tests membership" on an ``==`` assert sends the reader looking for a
# membership test that is not in the source.  The names start with ``@``,
# which no Python source can spell, so they cannot be the user's own.

#: A module pytest rewrote imports builtins under this name.
_REWRITE_MARK = "@py_builtins"
_REWRITE_NAMES = ("@py_", "@pytest_ar")
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
#: id(code) -> (code, the offsets of its rewriting machinery); code kept alive so ids stay unique.
_machinery: dict[int, tuple[Any, frozenset[int]]] = {}


def _assertion_machinery(code: Any) -> frozenset[int]:
    """Offsets in ``code`` of the calls of pytest's helpers and of the ``in locals()``
    tests on their results (cached per code object)."""
    hit = _machinery.get(id(code))
    if hit is None or hit[0] is not code:
        hit = (code, frozenset(_find_machinery(list(dis.get_instructions(code)))))
        _machinery[id(code)] = hit
    return hit[1]


def _find_machinery(instrs: list[dis.Instruction]) -> set[int]:
    found: set[int] = set()
    for i, ins in enumerate(instrs):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in ("@pytest_ar",
                                                                          "@py_builtins"):
            call = _call_of(instrs, i)
            if call is None:
                continue
            found.add(instrs[call].offset)
            after = next((x for x in instrs[call + 1:] if x.opname not in ("CACHE", "EXTENDED_ARG")),
                         None)
            if after is not None and after.opname == "CONTAINS_OP":
                found.add(after.offset)  # 'df' in @py_builtins.locals()
    return found


def _call_of(instrs: list[dis.Instruction], start: int) -> int | None:
    """The index of the call that consumes what ``instrs[start]`` pushed (the callee's
    module), followed on the stack without crossing a jump; None when not found."""
    depth = 0
    for i in range(start, min(len(instrs), start + 200)):
        ins = instrs[i]
        if i > start and (ins.is_jump_target or ins.opcode in _JUMPS):
            return None
        if ins.opname in ("CACHE", "EXTENDED_ARG"):
            continue
        try:
            effect = dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT
                                      else None)
        except (ValueError, TypeError):
            return None
        depth += effect
        # The call leaves only its result where the callee's module was pushed.
        if i > start and ins.opname.startswith("CALL") and depth <= 1:
            return i if depth == 1 else None
        if depth <= 0:
            return None
    return None


def _synthetic(name: str) -> bool:
    return name.startswith(_REWRITE_NAMES)


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
        #: tid -> (index of the thread's last step, how to read that step's value again)
        #: until the thread runs again: then we know whether others ran in between.
        self._last: dict[int, tuple[int, Any]] = {}
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
            # racecheck's own frames (a shim such as the patched ThreadPoolExecutor,
            # between the user's ``with`` and the stdlib's ``shutdown``) are skipped
            # too: the user's line is the one that called into the shim.
            caller = frame.f_back
            harness = code.co_filename.startswith(self.harness)
            while caller is not None and (_is_library(caller.f_code.co_filename)
                                          or caller.f_code.co_filename.startswith(raw.OWN_DIRS)):
                harness = harness or caller.f_code.co_filename.startswith(self.harness)
                caller = caller.f_back
            if caller is not None:
                self._append(Step(mt.tid, mt.name, caller.f_code.co_filename,
                                  caller.f_lineno or 0, "LIB", kind="lib"))
                return
            if harness:
                return  # pytest setting up or tearing down a schedule's fixtures
            # No user frame at all (a pool worker waiting in ``queue.get``): the
            # step is recorded where it is, and the report folds it as library code.
        info = code_info(code)
        ins = info.instrs.get(offset)
        lineno = info.lines.get(offset, frame.f_lineno or 0)
        op = ins.opname if ins is not None else "?"
        step = Step(mt.tid, mt.name, code.co_filename, lineno, op)
        self._append(step)
        if ins is None or (_REWRITE_MARK in frame.f_globals
                           and offset in _assertion_machinery(code)):
            return  # pytest's assertion rewriting at work, not the user's code
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
        self._last[step.tid] = (len(self.trace.steps) - 1, None)

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
            self.trace.landed = [(i, min(j, cut)) for i, j in self.trace.landed if i < cut]

    # -------------------------------------------------------------- describing

    def _describe(self, mt: ManagedThread, frame: Any, ins: dis.Instruction,
                  prev: dis.Instruction | None, step: Step) -> None:
        op = ins.opname
        name = ins.argval if isinstance(ins.argval, str) else None
        if name is not None and _synthetic(name):
            return  # an assertion-rewriting temporary (``@py_assert1``), see above
        if op in ("LOAD_GLOBAL", "LOAD_NAME") and name:
            g = frame.f_globals
            self._read(mt, step, ("g", id(g), name), name, lambda: g.get(name, NOTHING))
        elif op in ("STORE_GLOBAL", "STORE_NAME") and name:
            g = frame.f_globals
            self._later(mt, step, ("g", id(g), name), name, lambda: g.get(name, NOTHING))
        elif op in ("LOAD_DEREF", "LOAD_CLASSDEREF") and name:
            # A frame does not expose its cells, so two threads' cells of the same
            # name cannot be told apart: values are shown, lost updates not tracked.
            fr = frame
            self._read(mt, step, None, name, lambda: fr.f_locals.get(name, NOTHING))
        elif op == "STORE_DEREF" and name:
            fr = frame
            self._later(mt, step, None, name, lambda: fr.f_locals.get(name, NOTHING))
        elif op in ("LOAD_ATTR", "LOAD_METHOD") and name:
            obj, label = operand_of(frame, prev)
            if obj is not NOTHING and not _synthetic(label):
                value = instance_attr(obj, name)
                if value is NOTHING or callable(value):
                    step.access = f"looks up {label}.{name}"
                    step.kind, step.target = "lookup", f"{label}.{name}"
                else:
                    self._read(mt, step, ("a", id(obj), name), f"{label}.{name}",
                               lambda: instance_attr(obj, name))
        elif op == "STORE_ATTR" and name:
            obj, label = operand_of(frame, prev)
            if obj is not NOTHING and not _synthetic(label):
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
              getter: Any) -> None:
        def read() -> None:
            value = getter()
            if value is NOTHING:
                return
            step.access = f"reads {label} -> {_one_line(value)}"
            step.kind, step.target, step.value = "read", label, _one_line(value)
            if key is not None:
                version = self._version.get(key)
                self._seen[(mt.tid, key)] = version[0] if version else 0

        read()
        # Read again if the thread loses the baton at this point (see _resumed).
        self._last[mt.tid] = (len(self.trace.steps) - 1, read)

    def _later(self, mt: ManagedThread, step: Step, key: tuple[Any, ...] | None, label: str,
               getter: Any) -> None:
        step.access = f"writes {label}"
        step.kind, step.target = "write", label
        self._pending[mt.tid] = (step, getter, label, key, len(self.trace.steps) - 1)

    def _flush(self, mt: ManagedThread) -> None:
        # A thread's store runs right after its point, while it keeps the baton, so it
        # has happened by the thread's next step (or its end): never earlier, since a
        # choice at the point may hand the baton on before the store runs.
        self._resumed(mt.tid)
        if mt.tid in self._pending:
            self._flush_tid(mt.tid)

    def _resumed(self, tid: int) -> None:
        """Thread ``tid`` runs again (its next step, a block, its end).

        When other threads' steps came since its last step, it lost the baton at
        that point and the step's instruction ran only now: note where it landed,
        and read a loaded value again (the one read at the point may be stale).
        """
        last = self._last.pop(tid, None)
        if last is None or len(self.trace.steps) <= last[0] + 1:
            return
        self.trace.landed.append((last[0], len(self.trace.steps)))
        if last[1] is not None:
            try:
                last[1]()
            except Exception:
                pass

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
