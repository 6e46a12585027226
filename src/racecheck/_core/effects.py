"""What one step may touch, conservatively: the data partial-order reduction rests on.

A *step* (a transition) is what a thread runs from one scheduling point to
its next: the instruction at the point, then every instruction up to the
next point, possibly across returns into callers and through C code.
Dynamic partial-order reduction (``strategies/dpor.py``) may skip a schedule
only when it reorders steps that are *independent*; calling two steps
independent when they are not is a missed bug.  So the effect of a step is
an over-approximation, built from four sources:

* the access at the point (``access.decode``, or the operation a
  synchronisation shim reports);
* for a call, the callee, resolved without running code: a Python function
  in instrumented code contributes its prologue up to its own first point;
  a builtin whose effect is known (``len``, a list's ``append``) its read or
  write; any other C callable is **opaque** (it may touch anything);
* the *tail*: the instructions after the point up to the next point, found
  statically over every path (jumps and exception handlers included); a
  binary operation, a comparison, a truth test or an unpacking may read the
  content of the objects involved (``RC``), an in-place operation may write
  it (``WC``), and an opcode this module does not know is opaque.  Where the
  running step can *name* the operands (a local not stored again in the
  step, a constant, a bool, a new object from ``sorted``/``list``..., the
  value its point loads, what a call it returns from gave back), the
  operation touches those objects only: nothing for an int or a string, the
  slots of a builtin container, and for ``==``/``%``/``sorted`` also its
  elements, so only when they are plain values;
* where a tail can return, the caller's code after its call, up the stack;
  a frame entered from C code (``sorted(key=f)``) makes the step opaque, and
  so does an exception raised during the step (seen at run time).

Effects are lists of *atoms*, plain JSON: ``["r", target, name]`` and
``["w", target, name]`` (target: an object's id, ``"cell"`` for a closure
variable, or None when unknown; name: an attribute or global, None for a
dict's or an unknown object's content, ``SLOTS`` for the content of another
container, where no attribute can live), ``["s", key]`` for a
synchronisation operation on a resource (a lock, a thread, the clock),
``["RC"]`` / ``["WC"]`` content of any object read / written, ``["RA"]`` any
state read, ``["OP"]`` anything but synchronisation state.  ``dependent``
is the one definition of a conflict between two steps.

An attribute's object is the value of a plain name, or what the thread's
previous point loaded in the same frame (``self.items.append``: the thread
remembers what ``self.items`` held, ``ManagedThread.loaded``).

Assumptions, stated because the reduction rests on them: module-level
functions, classes and modules bound to globals are not rebound while the
threads run (the instrumentation makes the same assumption: reading them is
not a scheduling point); ``threading``'s own code touches its shared state
only under its own locks, which the shims model; a step that reads an
attribute or global rebinding (``obj.x = ...``) is told apart from one that
mutates an object's content (``items.append``), and C code reached through
an operator (``a + b``) on a mutable object only reads or writes its content;
an attribute a call's own expression loaded (``self.items`` in
``len(self.items)``) still holds the same object when the call runs.
"""

from __future__ import annotations

import bisect
import builtins
import collections
import dis
import queue
import sys
import threading
import types
from typing import Any

from . import raw
from .access import CONTAINERS as _CONTAINERS
from .access import MUTATORS, NOTHING, Access, code_info, operand_of

Atom = list[Any]
#: The name in the atom of a non-dict container's content (a list's slots): no
#: attribute lives there, unlike a dict's content, which may be an object's ``__dict__``.
SLOTS = "[]"


def content_atom(kind: str, obj: Any) -> Atom:
    """Reading ("r") or writing ("w") the content of the container ``obj``."""
    return [kind, id(obj), None if isinstance(obj, dict) else SLOTS]

OPAQUE: Atom = ["OP"]
READ_CONTENT: Atom = ["RC"]
WRITE_CONTENT: Atom = ["WC"]
READ_ANY: Atom = ["RA"]
CLOCK = "clock"

_PY = sys.version_info[:2]

# ----------------------------------------------------------------- dependence


def conflict(a: Atom, b: Atom) -> bool:
    """Whether two atoms of steps of different threads conflict (``dependent`` is for steps)."""
    ka, kb = a[0], b[0]
    if ka == "q":
        return _queue_conflict(a, b)
    if kb == "q":
        return _queue_conflict(b, a)
    if ka == "s" or kb == "s":
        if ka != kb or a[1] != b[1]:
            return False
        # A failed lock attempt ("try": the thread then blocks) and a release commute
        # in effect: the attempt changes nothing, and after the release it would
        # simply have succeeded (a blocked acquire is a disabled step, not a step).
        ops = {a[2] if len(a) > 2 else "", b[2] if len(b) > 2 else ""}
        # "peek": a lock queried (locked()); it commutes with other queries and tries
        return ops != {"try", "release"} and "own" not in ops and ops not in (
            {"peek"}, {"peek", "try"})
    if ka == "OP" or kb == "OP":
        return True
    if ka == "RA" or kb == "RA":
        other = b if ka == "RA" else a
        return bool(other[0] in ("w", "WC"))
    if ka in ("RC", "WC") or kb in ("RC", "WC"):
        if ka in ("RC", "WC") and kb in ("RC", "WC"):
            return bool(ka == "WC" or kb == "WC")
        wild, other = (a, b) if ka in ("RC", "WC") else (b, a)
        if other[2] is not None and other[2] != SLOTS:
            return False  # rebinding an attribute or global leaves every object's content
        return bool(wild[0] == "WC" or other[0] == "w")
    # two precise accesses
    if ka == "r" and kb == "r":
        return False
    ta, tb, na, nb = a[1], b[1], a[2], b[2]
    if na is not None and nb is not None and na != nb:
        return False  # two attributes, or an attribute and a list's slots (SLOTS)
    # An attribute and a dict's content conflict on the same object (its
    # ``__dict__``), and wherever either object is unknown: the dict may be
    # the namespace the attribute lives in (``obj.__dict__["x"] = 1``).
    return ta is None or tb is None or ta == tb


#: Pairs of queue operations that commute (the ``["q", ...]`` atoms of ``queue_atom``):
#: a ``get`` and a ``task_done`` touch disjoint state (the items and ``not_full``; the
#: count of unfinished tasks and ``all_tasks_done``), a ``join`` only reads the count,
#: a size query only the items, and a get that found the queue empty ("wait") only put
#: itself in line for an item.  Everything else on one queue conflicts: two puts order
#: the items, two gets take them in turn (and waiting gets wait in line), a put and a
#: get meet in the items, a put and a ``task_done`` both move the count (which decides
#: whether ``task_done`` wakes ``join``), and two ``task_done`` can raise "called too
#: many times" in either thread.  "any": an operation not named here.
_QUEUE_COMMUTE = frozenset(frozenset(pair) for pair in (
    ("get", "done"), ("get", "join"), ("size", "done"), ("size", "join"), ("join", "join"),
    ("size", "size"), ("wait", "done"), ("wait", "join"), ("wait", "size")))
#: Operations that change the items (the rest read them, or only the count).
_QUEUE_CONTENT = frozenset({"put", "get", "any"})


def _queue_conflict(q: Atom, other: Atom) -> bool:
    """Whether a queue operation (``["q", queue, op, lock, items, compares]``) conflicts
    with ``other``."""
    kind = other[0]
    if kind == "q":
        return other[1] == q[1] and frozenset((q[2], other[2])) not in _QUEUE_COMMUTE
    if kind == "s":
        return q[3] is not None and other[1] == q[3]  # the queue's own lock, taken directly
    if kind == "OP" or kind == "WC":
        return True
    op = q[2]
    if kind == "RC":  # the content of any object: the items' container among them
        return op in _QUEUE_CONTENT
    if kind == "RA":  # any state: the count of unfinished tasks too
        return op in _QUEUE_CONTENT or op == "done"
    if q[5] and kind == "w" and (other[2] is None or other[2] == SLOTS):
        return True  # a PriorityQueue compares items: any object's content may be one
    if kind == "r" and op not in _QUEUE_CONTENT and op != "done":
        return False
    target, name = other[1], other[2]
    if name is not None and name != SLOTS:
        # an attribute: only the queue's own are the operations' state
        return (target is None or target == q[1]) and name in _QUEUE_ATTRIBUTES
    # the content of an object: the queue's __dict__, its items' container, or unknown
    return target is None or target == q[1] or (target == q[4] and op != "done")


#: The attributes queue's operations read or write (Queue's and SimpleQueue's).
_QUEUE_ATTRIBUTES = frozenset({"queue", "_queue", "unfinished_tasks", "maxsize", "mutex",
                               "not_empty", "not_full", "all_tasks_done", "_count",
                               "is_shutdown"})


def in_line_only(a: list[Atom], b: list[Atom]) -> Atom | None:
    """When two steps conflict only because both got in one queue's line of waiting gets
    ("wait"), the atom of one of those waits; else None.

    The order of two waits is seen only by what later wakes the first in line
    (a put's notify, ``observes_line``): in a run where nothing does after
    both, the two orders end in the same state.  This is dependence with
    observers (Aronis, Jonsson, Lång & Sagonas, "Optimal Dynamic Partial
    Order Reduction with Observers", TACAS 2018), ``dpor.races`` asks it.
    """
    wait: Atom | None = None
    for x in a:
        for y in b:
            if conflict(x, y):
                if x[0] == "q" and y[0] == "q" and x[2] == "wait" and y[2] == "wait" and (
                        wait is None or wait[1] == x[1]):
                    wait = x
                else:
                    return None  # another conflict, or lines of two queues
    return wait


def observes_line(atoms: list[Atom], wait: Atom) -> bool:
    """Whether a step may see the order of the line ``wait`` (an ``in_line_only`` atom)
    joined: a put or an unnamed operation on that queue, or its lock taken directly."""
    for a in atoms:
        if a[0] == "q" and a[1] == wait[1] and a[2] in ("put", "any"):
            return True
        if a[0] == "s" and wait[3] is not None and a[1] == wait[3]:
            return True
    return False


def dependent(a: list[Atom], b: list[Atom]) -> bool:
    """Whether two steps (of different threads) can give different results in either order."""
    return any(conflict(x, y) for x in a for y in b)


# --------------------------------------------------------------- the tails

_PURE = frozenset({
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_AND_CLEAR", "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "STORE_FAST",
    "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "DELETE_FAST", "LOAD_CONST",
    "LOAD_SMALL_INT", "RETURN_CONST", "POP_TOP", "NOP", "RESUME", "CACHE", "EXTENDED_ARG",
    "COPY", "SWAP", "DUP_TOP", "DUP_TOP_TWO", "ROT_TWO", "ROT_THREE", "ROT_FOUR", "ROT_N",
    "PUSH_NULL", "PRECALL", "KW_NAMES", "JUMP_FORWARD", "JUMP_BACKWARD",
    "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE", "JUMP", "JUMP_NO_INTERRUPT", "IS_OP",
    "POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE", "POP_JUMP_FORWARD_IF_NONE",
    "POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_BACKWARD_IF_NONE",
    "POP_JUMP_BACKWARD_IF_NOT_NONE", "BUILD_TUPLE", "BUILD_LIST", "BUILD_MAP", "BUILD_SET",
    "BUILD_CONST_KEY_MAP", "LIST_APPEND", "SET_ADD", "MAP_ADD", "MAKE_FUNCTION",
    "SET_FUNCTION_ATTRIBUTE", "COPY_FREE_VARS", "MAKE_CELL", "LOAD_CLOSURE",
    "LOAD_ASSERTION_ERROR", "PUSH_EXC_INFO", "POP_EXCEPT", "CHECK_EXC_MATCH",
    "JUMP_IF_NOT_EXC_MATCH", "POP_BLOCK", "SETUP_FINALLY", "SETUP_CLEANUP", "SETUP_WITH",
    "END_FOR", "POP_ITER", "NOT_TAKEN", "RETURN_GENERATOR", "GEN_START", "LOAD_LOCALS",
    "END_SEND", "RAISE_VARARGS", "RERAISE", "RETURN_VALUE", "YIELD_VALUE",
    "INSTRUMENTED_LINE", "INTERPRETER_EXIT", "BEGIN_FINALLY", "POP_FINALLY", "WITH_CLEANUP_START",
})
_READS_CONTENT = frozenset({
    "BINARY_OP", "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE",
    "BINARY_FLOOR_DIVIDE", "BINARY_MODULO", "BINARY_POWER", "BINARY_LSHIFT", "BINARY_RSHIFT",
    "BINARY_AND", "BINARY_OR", "BINARY_XOR", "BINARY_MATRIX_MULTIPLY", "COMPARE_OP",
    "COMPARE_AND_BRANCH", "UNARY_NOT", "UNARY_NEGATIVE", "UNARY_POSITIVE", "UNARY_INVERT",
    "TO_BOOL", "POP_JUMP_IF_TRUE", "POP_JUMP_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
    "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_FALSE",
    "JUMP_IF_TRUE_OR_POP", "JUMP_IF_FALSE_OR_POP", "UNPACK_SEQUENCE", "UNPACK_EX", "GET_ITER",
    "FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE", "BUILD_STRING",
    "LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE", "LIST_TO_TUPLE", "BUILD_SLICE",
    "GET_LEN", "MATCH_MAPPING", "MATCH_SEQUENCE", "MATCH_KEYS", "MATCH_CLASS",
})
_WRITES_CONTENT = frozenset({
    "INPLACE_ADD", "INPLACE_SUBTRACT", "INPLACE_MULTIPLY", "INPLACE_TRUE_DIVIDE",
    "INPLACE_FLOOR_DIVIDE", "INPLACE_MODULO", "INPLACE_POWER", "INPLACE_LSHIFT",
    "INPLACE_RSHIFT", "INPLACE_AND", "INPLACE_OR", "INPLACE_XOR", "INPLACE_MATRIX_MULTIPLY",
})
#: Global and attribute loads that are not points (a module, a function, a class: static).
_STATIC_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "LOAD_NAME"})
_LEAVES = frozenset({"RETURN_VALUE", "RETURN_CONST", "YIELD_VALUE", "RAISE_VARARGS", "RERAISE"})
_UNCONDITIONAL = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
                            "JUMP_ABSOLUTE", "JUMP", "JUMP_NO_INTERRUPT"})
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_SETUPS = frozenset({"SETUP_WITH", "SETUP_FINALLY", "SETUP_ASYNC_WITH"})

_FLAG_RC, _FLAG_WC, _FLAG_OP, _FLAG_RETURNS = 1, 2, 4, 8


class _Code:
    """A code object's instructions by offset, successors and exception handlers."""

    __slots__ = (
        "args",
        "by_offset",
        "code",
        "handlers",
        "offsets",
        "operands",
        "order",
        "pushed",
        "stored",
        "tails",
    )

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        self.order = instrs
        self.by_offset = {ins.offset: n for n, ins in enumerate(instrs)}
        self.offsets = [ins.offset for ins in instrs]
        self.handlers: list[tuple[int, int, int]] = []
        entries = getattr(dis.Bytecode(code), "exception_entries", None)
        if entries is not None:  # 3.11+: the exception table
            self.handlers = [(e.start, e.end, e.target) for e in entries]
        else:  # 3.10: blocks set up by SETUP_FINALLY / SETUP_WITH: any instruction may jump there
            self.handlers = [(0, 1 << 30, ins.argval) for ins in instrs
                             if ins.opname in ("SETUP_FINALLY", "SETUP_WITH", "SETUP_ASYNC_WITH")]
        self.tails: dict[tuple[int, frozenset[int]], _Tail] = {}
        self.pushed: dict[int, Any] | None = None
        self.operands: dict[int, tuple[Any, ...]] = {}
        self.args: dict[int, tuple[Any, ...]] = {}
        self.stored: frozenset[str] | None = None

    def stores(self, name: str) -> bool:
        """Whether any instruction of the code stores (or deletes) the local ``name``."""
        if self.stored is None:
            self.stored = frozenset(n for ins in self.order if ins.opname in _STORES_FAST
                                    for n in _names(ins.argval))
        return name in self.stored

    def _simulate(self) -> None:
        if self.pushed is None:
            self.pushed = _pushers(self)

    def pusher(self, offset: int) -> Any:
        """What pushed the slot the instruction at ``offset`` acts on (``_pushers``)."""
        self._simulate()
        assert self.pushed is not None
        return self.pushed.get(offset)

    def operands_of(self, offset: int) -> tuple[Any, ...] | None:
        """What pushed each operand of the content operation at ``offset`` (None: unknown)."""
        self._simulate()
        return self.operands.get(offset)

    def args_of(self, offset: int) -> tuple[Any, ...] | None:
        """What pushed each argument of the call at ``offset`` (None: unknown)."""
        self._simulate()
        return self.args.get(offset)

    def instruction_at(self, lasti: int) -> int:
        """The instruction a suspended frame's ``f_lasti`` is in (3.11/3.12 point at its
        last inline cache entry): the last one starting at or before it."""
        n = bisect.bisect_right(self.offsets, lasti) - 1
        return self.order[max(n, 0)].offset

    def successors(self, n: int, handlers: bool = True) -> list[int]:
        ins = self.order[n]
        out: list[int] = []
        if ins.opname in _LEAVES:
            pass
        elif ins.opname in _SETUPS:  # 3.10: the jump goes to the exception handler
            if handlers:
                target = self.by_offset.get(ins.argval)
                if target is not None:
                    out.append(target)
            if n + 1 < len(self.order):
                out.append(n + 1)
        elif ins.opcode in _JUMPS and isinstance(ins.argval, int):
            target = self.by_offset.get(ins.argval)
            if target is not None:
                out.append(target)
            if ins.opname not in _UNCONDITIONAL and n + 1 < len(self.order):
                out.append(n + 1)
        elif n + 1 < len(self.order):
            out.append(n + 1)
        for start, end, target in self.handlers if handlers else ():
            if start <= ins.offset < end:
                t = self.by_offset.get(target)
                if t is not None:
                    out.append(t)
        return out

    def tail(self, offset: int, points: frozenset[int], include_first: bool) -> _Tail:
        """Every instruction reachable from ``offset`` before the next point: the flags
        of their effects, the content operations whose operands are only known when
        the step runs (``_Ref``: a local, or the value the point instruction loads),
        and what pushed the values it may return (None: one cannot be named)."""
        key = (offset * 2 + include_first, points)
        hit = self.tails.get(key)
        if hit is not None:
            return hit
        start = self.by_offset.get(offset)
        flags = 0
        content: list[int] = []
        returning: list[int] = []
        stored: set[str] = set()
        if start is None:
            flags = _FLAG_OP
        else:
            # Exception handlers: in code with points, an exception taints the step at
            # run time (``Execution.taint``: the monitoring or trace callback sees it);
            # code without points is never watched, so its handlers count here.
            handlers = not points
            seen: set[int] = set()
            todo = [start] if include_first else self.successors(start, handlers)
            while todo:
                n = todo.pop()
                if n in seen:
                    continue
                seen.add(n)
                ins = self.order[n]
                if ins.offset in points:
                    continue  # the next step starts here
                op = ins.opname
                if op in ("RETURN_VALUE", "RETURN_CONST", "YIELD_VALUE"):
                    flags |= _FLAG_RETURNS
                    returning.append(n)
                elif op in _READS_CONTENT or op in _WRITES_CONTENT:
                    content.append(n)
                elif op in _STATIC_LOADS or op in _PURE:
                    if op in _STORES_FAST:
                        stored.update(_names(ins.argval))
                else:
                    flags |= _FLAG_OP
                todo.extend(self.successors(n, handlers))
        point = None if include_first or start is None else self.order[start]
        refs: list[_Ref] = []
        for n in sorted(content):
            ins = self.order[n]
            writes = ins.opname in _WRITES_CONTENT or (
                ins.opname == "BINARY_OP" and ins.argrepr.endswith("="))
            ref = self._refine(n, point, stored, writes)
            if ref is None:
                flags |= _FLAG_RC | (_FLAG_WC if writes else 0)
            elif ref.operands:
                refs.append(ref)
        returned: tuple[Plan, ...] | None = ()
        for n in returning:
            ins = self.order[n]
            if ins.opname == "RETURN_CONST":
                continue
            pushed = (self.operands_of(ins.offset) or (None,))[0] \
                if ins.opname == "RETURN_VALUE" else None
            plan = None if returned is None else self.plan(pushed, n, point, stored)
            returned = None if returned is None or plan is None else (*returned, plan)
        hit = _Tail(flags, tuple(refs), returned)
        self.tails[key] = hit
        return hit

    def _refine(self, n: int, point: Any, stored: set[str], writes: bool) -> _Ref | None:
        """The content operation at instruction ``n`` with operands the step can name at
        run time; None when one of them cannot be named (the wildcard stands)."""
        ins = self.order[n]
        operands = self.operands_of(ins.offset)
        if operands is None:
            return None
        named: list[tuple[int, Plan]] = []  # (operand position, how to find its value)
        for position, pushed in enumerate(operands):
            plan = self.plan(pushed, n, point, stored)
            if plan is None:
                return None
            if plan != _NO_CONTENT:
                named.append((position, plan))
        deep = ins.opname in _DEEP or ins.argrepr in ("%", "%=")
        return _Ref(ins.offset, tuple(named), writes, deep)

    def plan(self, pushed: Any, n: int, point: Any, stored: set[str] | frozenset[str],
             depth: int = 0) -> Plan | None:
        """How a running step finds the value ``pushed`` left for instruction ``n``:
        a plan ``_evaluate`` follows, or None when it cannot be named.

        ``point``: the instruction the step starts at (its load is named by the
        value it is about to load); ``stored``: the locals the step may store
        (their value at the point is not the one used)."""
        kind = getattr(pushed, "opname", None)
        if kind in ("LOAD_CONST", "LOAD_SMALL_INT", "INERT"):
            return _NO_CONTENT
        if kind in _FAST_LOADS:
            alias = pushed.source if isinstance(pushed, _Pushed) else None
            if alias is not None and depth < 3:  # stored earlier in the same block
                through = self.plan(alias, n, point, stored, depth + 1)
                if through is not None:
                    return through
            name = pushed.argval
            if name in stored or self._stored_between(pushed, n, name):
                return None
            return ("fast", name)
        if kind == "RESULT":
            return ("result", pushed.source)
        if kind in ("CMP", "ARITH") and depth < 3:
            ins = self.order[self.by_offset[pushed.source]]
            inner = []
            for slot in self.operands_of(pushed.source) or (None, None):
                plan = self.plan(slot, n, point, stored, depth + 1)
                if plan is None:
                    return None
                inner.append(plan)
            inplace = ins.opname in _WRITES_CONTENT or ins.argrepr.endswith("=")
            return ("cmp" if kind == "CMP" else "inplace" if inplace else "arith", tuple(inner))
        if point is not None and pushed is point and kind in _POINT_LOADS:
            return ("point",)
        return None

    def _stored_between(self, pushed: Any, n: int, name: str) -> bool:
        """Whether a local is stored between its load and the instruction ``n`` using it."""
        first = self.by_offset.get(getattr(pushed, "offset", -1))
        if first is None or first > n:
            return True
        return any(ins.opname in _STORES_FAST and name in _names(ins.argval)
                   for ins in self.order[first + 1:n])


class _Tail:
    """What ``_Code.tail`` found: flags, content operations, returned values."""

    __slots__ = ("flags", "refs", "returned")

    def __init__(self, flags: int, refs: tuple[_Ref, ...],
                 returned: tuple[Plan, ...] | None) -> None:
        self.flags, self.refs, self.returned = flags, refs, returned


#: How a running step finds a value (``_Code.plan``): ("fast", name), ("point",),
#: ("result", call offset), ("cmp" | "arith" | "inplace", operand plans), ("none",).
Plan = tuple[Any, ...]
_NO_CONTENT: Plan = ("none",)


class _Ref:
    """A content operation of a tail whose operands the running step names."""

    __slots__ = ("deep", "offset", "operands", "writes")

    def __init__(self, offset: int, operands: tuple[tuple[int, Plan], ...], writes: bool,
                 deep: bool) -> None:
        self.offset, self.operands, self.writes, self.deep = offset, operands, writes, deep


_FAST_LOADS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"})
_STORES_FAST = frozenset({"STORE_FAST", "DELETE_FAST", "STORE_FAST_LOAD_FAST",
                          "STORE_FAST_STORE_FAST", "LOAD_FAST_AND_CLEAR"})
#: Loads a point can be at, whose value the step reads before it runs (``_attribute``).
_POINT_LOADS = frozenset({"LOAD_ATTR", "LOAD_GLOBAL", "LOAD_NAME"})
#: Operations that read the content of what their operands contain, too (``==`` on
#: lists compares the elements, ``%`` formats them).
_DEEP = frozenset({"COMPARE_OP", "COMPARE_AND_BRANCH", "BINARY_MODULO", "INPLACE_MODULO"})


def _names(argval: Any) -> tuple[str, ...]:
    if isinstance(argval, str):
        return (argval,)
    if isinstance(argval, tuple):
        return tuple(a for a in argval if isinstance(a, str))
    return ()


_codes: dict[int, tuple[types.CodeType, _Code]] = {}


def _code(code: types.CodeType) -> _Code:
    hit = _codes.get(id(code))
    if hit is None or hit[0] is not code:
        hit = (code, _Code(code))
        _codes[id(code)] = hit
    return hit[1]


def _opaque(atoms: list[Atom]) -> bool:
    return any(a[0] == "OP" for a in atoms)


def _flag_atoms(flags: int) -> list[Atom]:
    if flags & _FLAG_OP:
        return [OPAQUE]
    out: list[Atom] = []
    if flags & _FLAG_RC:
        out.append(READ_CONTENT)
    if flags & _FLAG_WC:
        out.append(WRITE_CONTENT)
    return out


class _Running:
    """What a running step knows beyond its frame's locals: the value its point
    instruction loads, and the value a call it returns from gave back."""

    __slots__ = ("call", "frame", "info", "point_value", "result")

    def __init__(self, frame: Any, info: _Code, point_value: Any = NOTHING, call: int = -1,
                 result: Any = NOTHING) -> None:
        self.frame, self.info, self.point_value = frame, info, point_value
        self.call, self.result = call, result


def _tail_atoms(tail: _Tail, running: _Running | None = None) -> list[Atom]:
    """A tail's atoms; its content operations on the objects the running step names
    where it can, else as wildcards."""
    flags = tail.flags
    precise: list[Atom] = []
    for ref in tail.refs:
        atoms = None if running is None or flags & _FLAG_OP else _content(running, ref)
        if atoms is None:
            flags |= _FLAG_RC | (_FLAG_WC if ref.writes else 0)
        else:
            precise += atoms
    if flags & _FLAG_OP:
        return [OPAQUE]
    return _flag_atoms(flags) + precise


def _returned(tail: _Tail, running: _Running) -> Any:
    """What the frame gives back if the step returns from it: ``_FRESH_RESULT`` when it
    is certainly a value no other thread holds or one without content, else NOTHING."""
    if tail.returned is None:
        return NOTHING
    for plan in tail.returned:
        value = _evaluate(running, plan)
        if value is NOTHING or not (value is _FRESH_RESULT or _inert(value)):
            return NOTHING
    return _FRESH_RESULT


#: Values with no content another thread can change: reading them reads nothing shared.
_INERT = (int, float, complex, bool, str, bytes, type(None))
#: Containers whose content is theirs alone (no views that write it, unlike bytearray).
_OWN_CONTENT = (list, dict, set, collections.deque, collections.OrderedDict,
                collections.defaultdict)


def _inert(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind in _INERT:
        return True
    if kind in (tuple, frozenset) and depth < 3 and len(value) <= 32:
        return all(_inert(v, depth + 1) for v in value)
    return False


def _read_atoms(value: Any, deep: bool) -> list[Atom] | None:
    """Reading ``value``'s content: nothing for an inert value, its own content for a
    builtin container (and for a deep read only when its elements are inert)."""
    if _inert(value):
        return []
    if type(value) in _OWN_CONTENT:
        if deep:
            try:
                items = list(value.items()) if isinstance(value, dict) else list(value)
            except RuntimeError:  # changed size while copied: another thread is at it
                return None
            if len(items) > 64 or not all(_inert(v) for v in items):
                return None
        return [content_atom("r", value)]
    return None


def _content(running: _Running, ref: _Ref) -> list[Atom] | None:
    """The atoms of one content operation of a running step (None: unknown, a wildcard)."""
    atoms: list[Atom] = []
    for position, plan in ref.operands:
        value = _evaluate(running, plan)
        if value is NOTHING:
            return None
        if value is _FRESH_RESULT:
            if ref.deep:
                return None  # a new list of shared rows: comparing it reads the rows
            continue
        if ref.writes and position == 0:
            if _inert(value):
                continue  # ``n += 1`` on an int makes a new int
            if type(value) not in _OWN_CONTENT:
                return None
            atoms.append(content_atom("w", value))
            continue
        read = _read_atoms(value, ref.deep)
        if read is None:
            return None
        atoms += read
    return atoms


#: A value no other thread holds (a new list, a copy): reading it reads nothing shared.
_FRESH_RESULT = object()


def _plain(value: Any) -> bool:
    """Whether builtin operators on ``value`` run no Python code and return plain data."""
    return value is _FRESH_RESULT or _inert(value) or type(value) in _OWN_CONTENT


def _evaluate(running: _Running, plan: Plan) -> Any:
    """The value a plan names in the running step: the object, ``_FRESH_RESULT``, or
    NOTHING when unsure."""
    how = plan[0]
    if how == "none":
        return None
    if how == "fast":
        return running.frame.f_locals.get(plan[1], NOTHING)
    if how == "point":
        return running.point_value
    if how == "result":
        if plan[1] == running.call:
            return running.result  # the call this step returns from
        info = running.info
        callee = _value(running.frame, info.pusher(plan[1]), info)
        return _FRESH_RESULT if _makes_new(callee) else NOTHING
    values = [_evaluate(running, inner) for inner in plan[1]]
    if not all(v is not NOTHING and _plain(v) for v in values):
        return NOTHING  # an operand's own dunder may return anything
    if how == "inplace" and values and type(values[0]) in _OWN_CONTENT:
        return values[0]  # ``items += more`` is ``items``
    return _FRESH_RESULT  # a bool, a number, a new string or container


# ----------------------------------------------------------------- callees

_LOADERS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF",
                      "LOAD_CLASSDEREF", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD"})
_NO_STACK = frozenset({"NOP", "RESUME", "CACHE", "EXTENDED_ARG", "KW_NAMES", "PRECALL",
                       "NOT_TAKEN"})


def _fixed_pops(ins: dis.Instruction) -> int | None:
    op, arg = ins.opname, ins.arg or 0
    if op in ("CALL_FUNCTION",):
        return arg + 1
    if op in ("CALL_FUNCTION_KW", "CALL_METHOD", "CALL"):
        return arg + 2
    if op == "CALL_KW":
        return arg + 3
    if op == "CALL_FUNCTION_EX":
        return (3 if _PY >= (3, 11) else 2) + (arg & 1)
    if op in ("LOAD_CONST", "LOAD_SMALL_INT", "PUSH_NULL") or (op in _LOADERS and op not in (
            "LOAD_ATTR", "LOAD_METHOD")):
        return 0
    if op in ("LOAD_ATTR", "LOAD_METHOD", "POP_TOP", "STORE_FAST", "STORE_GLOBAL", "STORE_NAME",
              "STORE_DEREF", "UNARY_NOT", "UNARY_NEGATIVE", "UNARY_INVERT", "GET_ITER", "TO_BOOL"):
        return 1
    if op in ("STORE_ATTR", "BINARY_OP", "BINARY_SUBSCR", "COMPARE_OP", "CONTAINS_OP", "IS_OP"):
        return 2
    if op == "STORE_SUBSCR":
        return 3
    if op in ("BUILD_TUPLE", "BUILD_LIST", "BUILD_SET", "BUILD_STRING"):
        return arg
    if op == "BUILD_MAP":
        return 2 * arg
    if op == "BUILD_CONST_KEY_MAP":
        return arg + 1
    return None


class _Pushed:
    """A stack slot the simulation names: a call's result ("RESULT"), an iterator
    GET_ITER made ("ITER"), a comparison's result ("CMP"), a bool or a length
    ("INERT"), or one of two locals one instruction loaded ("LOAD_FAST")."""

    __slots__ = ("argval", "offset", "opname", "source")

    def __init__(self, opname: str, source: Any, argval: Any = None, offset: int = -1) -> None:
        self.opname, self.argval, self.source, self.offset = opname, argval, source, offset


#: Content operations (``_READS_CONTENT``...) by how many slots they read from the top.
_ARITY = {op: 1 for op in (
    "UNARY_NOT", "UNARY_NEGATIVE", "UNARY_POSITIVE", "UNARY_INVERT", "TO_BOOL",
    "POP_JUMP_IF_TRUE", "POP_JUMP_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
    "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_FALSE",
    "JUMP_IF_TRUE_OR_POP", "JUMP_IF_FALSE_OR_POP", "UNPACK_SEQUENCE", "UNPACK_EX",
    "GET_ITER", "GET_LEN", "RETURN_VALUE")}
_ARITY.update({op: 2 for op in _WRITES_CONTENT | {
    "BINARY_OP", "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE",
    "BINARY_FLOOR_DIVIDE", "BINARY_MODULO", "BINARY_POWER", "BINARY_LSHIFT", "BINARY_RSHIFT",
    "BINARY_AND", "BINARY_OR", "BINARY_XOR", "BINARY_MATRIX_MULTIPLY", "COMPARE_OP",
    "COMPARE_AND_BRANCH"}})
#: Operations whose result is a bool or an int, whatever their operands.
_INERT_RESULTS = frozenset({"IS_OP", "CONTAINS_OP", "UNARY_NOT", "TO_BOOL", "GET_LEN"})


def _pushers(info: _Code) -> dict[int, Any]:
    """For each instruction that acts on a slot, what pushed it: the load of what a
    ``CALL`` calls, of a ``with``'s manager, of an attribute's object, or the
    iterator a ``FOR_ITER`` advances (``_Pushed``).

    A small stack simulation per basic block (slots remember the load that
    pushed them; anything else is unknown).  For ``CALL`` the callable sits
    just below the arguments, next to a NULL or ``self`` slot whose position
    changed between versions: the slot is chosen per version.
    """
    out: dict[int, Any] = {}
    stack: list[Any] = []
    jump_targets = {ins.argval for ins in info.order
                    if ins.opcode in _JUMPS and isinstance(ins.argval, int)}
    jump_targets |= {t for _s, _e, t in info.handlers}
    pending_call: Any = None
    block_locals: dict[str, Any] = {}  # locals stored in this block: what they hold
    for ins in info.order:
        op = ins.opname
        if ins.offset in jump_targets and op != "FOR_ITER":  # a loop head keeps its iterator
            stack = []
            block_locals = {}
        if op in _STORES_FAST:
            for name in _names(ins.argval):
                block_locals.pop(name, None)
            if op == "STORE_FAST" and stack and isinstance(ins.argval, str):
                block_locals[ins.argval] = stack[-1]
        if op in _FAST_LOADS and block_locals.get(ins.argval) is not None:
            stack.append(_Pushed("LOAD_FAST", block_locals[ins.argval], ins.argval, ins.offset))
            continue
        arity = _ARITY.get(op)
        if arity is not None and len(stack) >= arity:
            info.operands[ins.offset] = tuple(stack[-arity:])
        if op in ("LOAD_FAST_LOAD_FAST", "LOAD_FAST_BORROW_LOAD_FAST_BORROW") and \
                isinstance(ins.argval, tuple) and len(ins.argval) == 2:
            stack += [_Pushed("LOAD_FAST", None, name, ins.offset) for name in ins.argval]
            continue
        if op == "FOR_ITER":
            out[ins.offset] = stack[-1] if stack else None
            stack.append(None)  # the next item (the iterator stays below it)
            continue
        if op == "GET_ITER":
            source = stack.pop() if stack else None
            stack.append(_Pushed("ITER", source))
            continue
        if op in ("LOAD_ATTR", "LOAD_METHOD"):
            out[ins.offset] = stack[-1] if stack else None  # the object
        if op in ("BEFORE_WITH", "SETUP_WITH", "BEFORE_ASYNC_WITH"):
            out[ins.offset] = stack[-1] if stack else None
            stack = []
            continue
        if op == "PRECALL":  # 3.11: the call's layout is read here, the CALL follows
            pending_call = _made_callee(stack, ins.arg or 0) or _slot(stack, (ins.arg or 0) + 1)
            continue
        if op.startswith("CALL"):
            argc = ins.arg or 0
            keywords = 1 if op in ("CALL_FUNCTION_KW", "CALL_KW") else 0
            if op != "CALL_FUNCTION_EX" and len(stack) >= argc + keywords:
                info.args[ins.offset] = tuple(stack[len(stack) - argc - keywords:
                                                    len(stack) - keywords])
            if op == "CALL_FUNCTION_EX":
                out[ins.offset] = None
            elif _PY == (3, 11) and op == "CALL":
                out[ins.offset] = pending_call
            elif op in ("CALL_FUNCTION", "CALL_METHOD") or (op == "CALL" and _PY < (3, 13)):
                # [NULL|method, callable|self, args]; a comprehension: [function, iterator]
                out[ins.offset] = (op == "CALL" and _made_callee(stack, argc)) \
                    or _slot(stack, argc + 1)
            elif op == "CALL_FUNCTION_KW" or op == "CALL":
                out[ins.offset] = _slot(stack, argc + 2)
            elif op == "CALL_KW":
                out[ins.offset] = _slot(stack, argc + 3)
            else:
                out[ins.offset] = None
            pending_call = None
            pops = _fixed_pops(ins)
            if pops is None:
                stack = []
            else:
                del stack[max(len(stack) - pops, 0):]
                stack.append(_Pushed("RESULT", ins.offset))  # the result
            continue
        if op in _NO_STACK:
            continue
        if op == "MAKE_FUNCTION":
            # a comprehension's or a closure's function: its code is the constant below
            flags = 0 if _PY >= (3, 13) else (ins.arg or 0)
            extra = bin(flags & 0xF).count("1") + (1 if _PY < (3, 11) else 0)  # 3.10: qualname
            code = _slot(stack, 1 + (1 if _PY < (3, 11) else 0))
            del stack[max(len(stack) - 1 - extra, 0):]
            const = getattr(code, "argval", None) if getattr(code, "opname", "") == "LOAD_CONST" \
                else None
            stack.append(_Pushed("FUNC", const) if isinstance(const, types.CodeType) else None)
            continue
        if op == "SET_FUNCTION_ATTRIBUTE":  # 3.13: [value, function] -> [function]
            func = stack[-1] if stack else None
            del stack[max(len(stack) - 2, 0):]
            stack.append(func)
            continue
        pops = _fixed_pops(ins)
        try:
            effect = dis.stack_effect(ins.opcode, ins.arg) if ins.opcode >= dis.HAVE_ARGUMENT \
                else dis.stack_effect(ins.opcode)
        except ValueError:
            stack = []
            continue
        if pops is None:
            stack = []
            continue
        del stack[max(len(stack) - pops, 0):]
        pushes = effect + pops
        stack.extend([ins if op in _LOADERS or op in ("LOAD_CONST", "LOAD_SMALL_INT") else None]
                     * max(pushes, 0))
        if pushes == 1 and op in _INERT_RESULTS:
            stack[-1] = _Pushed("INERT", None)
        elif pushes == 1 and op in ("COMPARE_OP", "COMPARE_AND_BRANCH"):
            stack[-1] = _Pushed("CMP", ins.offset)
        elif pushes == 1 and _ARITY.get(op) == 2:
            stack[-1] = _Pushed("ARITH", ins.offset)
    return out


def _made_callee(stack: list[Any], argc: int) -> Any:
    """3.11-3.12: a function made in this frame and called with no NULL below it (a
    comprehension's call: [function, iterator]); None otherwise."""
    below = _slot(stack, argc + 2)
    return below if isinstance(below, _Pushed) and below.opname == "FUNC" else None


def _slot(stack: list[Any], depth: int) -> Any:
    return stack[-depth] if len(stack) >= depth else None


def _value(frame: Any, ins: Any, info: _Code, depth: int = 0) -> Any:
    """The value a load instruction pushed, found without running code (NOTHING if unsure)."""
    if ins is None or depth > 3:
        return NOTHING
    op, name = ins.opname, ins.argval
    if op == "FUNC" and isinstance(ins, _Pushed):
        # a function this frame makes (a comprehension, a lambda): its code is known, so is
        # what calling it runs; closure cells are left empty, since it is never called
        code = ins.source
        cells = tuple(types.CellType() for _ in code.co_freevars) or None
        return types.FunctionType(code, frame.f_globals, None, None, cells)
    if not isinstance(name, str):
        return NOTHING
    if op in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF", "LOAD_CLASSDEREF"):
        return frame.f_locals.get(name, NOTHING)
    if op in ("LOAD_GLOBAL", "LOAD_NAME"):
        value = frame.f_globals.get(name, NOTHING)
        return getattr(builtins, name, NOTHING) if value is NOTHING else value
    if op in ("LOAD_ATTR", "LOAD_METHOD"):
        owner = _value(frame, info.pusher(ins.offset), info, depth + 1)
        if owner is NOTHING:
            return NOTHING
        return _attribute(owner, name)
    return NOTHING


def _attribute(owner: Any, name: str) -> Any:
    """owner.name without running descriptors: functions unbound, data from the dicts."""
    if isinstance(owner, types.ModuleType):
        return owner.__dict__.get(name, NOTHING)
    d = getattr(owner, "__dict__", None) if not isinstance(owner, type) else None
    if isinstance(d, dict) and name in d:
        return d[name]
    klass_mro = owner.__mro__ if isinstance(owner, type) else type(owner).__mro__
    for klass in klass_mro:
        if name in klass.__dict__:
            value = klass.__dict__[name]
            if isinstance(value, (staticmethod, classmethod)):
                return value.__func__
            if isinstance(value, types.FunctionType):
                return value
            if callable(value) and type(value).__name__ in ("method_descriptor", "builtin_function_or_method"):
                return _BuiltinMethod(owner, name, value)
            return NOTHING if hasattr(value, "__get__") else value
    return NOTHING


class _BuiltinMethod:
    """A C method of ``owner`` looked up (not bound): ``items.append``."""

    __slots__ = ("name", "owner", "raw")

    def __init__(self, owner: Any, name: str, raw_: Any) -> None:
        self.owner, self.name, self.raw = owner, name, raw_


#: Calling one of these on a builtin container changes it (``access``'s list, and ``+=``).
_MUTATORS = MUTATORS | {"__iadd__"}
_CONTAINER_METHODS = frozenset(name for c in _CONTAINERS for name in dir(c))
#: Builtins that only read their arguments (and call Python dunders, which have points).
_READING_BUILTINS = frozenset({
    "len", "isinstance", "issubclass", "id", "hash", "abs", "min", "max", "sum", "sorted",
    "repr", "ascii", "format", "any", "all", "round", "divmod", "pow", "ord", "chr",
    "callable", "hex", "oct", "bin", "enumerate", "zip", "reversed", "range", "map", "filter",
    "iter"})
_READING_TYPES = (list, tuple, dict, set, frozenset, str, bytes, int, float, bool, complex,
                  bytearray, collections.deque, collections.OrderedDict, object, slice, range,
                  type(None))


#: Lock shim methods that always reach their own point (which reports the operation).
_LOCK_POINTS = frozenset({"acquire", "release", "__enter__", "__exit__", "acquire_lock",
                          "release_lock"})
LIBRARY = "threading"  # the key of threading's own state (see the module docstring)


def _library(owner: Any, code: types.CodeType | None = None) -> Atom | list[Any]:
    """threading's state a call touches: the object's own (a Condition's waiters, an
    Event's flag), or the module's (current_thread, enumerate) for a function; for
    ``queue``'s code, the queue operation (``queue_atom``)."""
    if code is not None and code.co_filename == _QUEUE_FILE:
        return queue_atom(owner, code.co_name)
    if owner is NOTHING or owner is None or isinstance(owner, types.ModuleType):
        if code is not None and code.co_name in _REGISTRY_READS:
            return ["s", LIBRARY, "peek"]  # reads the threads' registry: commutes with reads
        return ["s", LIBRARY]
    if isinstance(owner, _UNDER_THEIR_LOCK):
        return []  # all their state is touched holding their lock, whose shim says so
    return ["s", f"{LIBRARY}:{id(owner)}"]


#: threading's functions that only read its registry of threads (two such reads
#: commute; a thread's start or end writes it).
_REGISTRY_READS = frozenset({"current_thread", "currentThread", "main_thread", "get_ident",
                             "get_native_id", "active_count", "activeCount", "enumerate"})
#: threading classes whose every access to their own state holds their lock (CPython's
#: Condition: waiters; Semaphore: the count): the lock's operations already order them.
_UNDER_THEIR_LOCK = (threading.Condition, threading.Semaphore)


def _frame_library(frame: Any) -> Atom | list[Any]:
    code = frame.f_code
    owner = frame.f_locals.get("self", NOTHING) if code.co_argcount else NOTHING
    return _library(owner, code)


_QUEUE_FILE = queue.__file__
#: The operation a method of ``queue``'s classes performs (their private hooks included:
#: a subclass's ``_put`` runs inside ``put``).  Anything else is "any".
_QUEUE_OPS = {"put": "put", "put_nowait": "put", "_put": "put", "get": "get",
              "get_nowait": "get", "_get": "get", "task_done": "done", "join": "join",
              "qsize": "size", "empty": "size", "full": "size", "_qsize": "size"}


def queue_items(owner: Any) -> Any:
    """The container a queue keeps its items in (Queue's ``queue``, SimpleQueue's
    ``_queue``), read from the instance's dict; None if it has none."""
    state = getattr(owner, "__dict__", None)
    if not isinstance(state, dict):
        return None
    return state.get("queue", state.get("_queue"))


def queue_atom(owner: Any, method: str) -> Atom:
    """What a method of a ``queue.Queue`` (or ``SimpleQueue``, ``LifoQueue``...) touches.

    queue's methods run as one step (their locks take no point inside them,
    ``_sync/locks.py``), so a step that runs one touches the queue as a whole,
    named by its operation: ``["q", queue, op, its lock, its items]`` (the
    ids of the lock's real lock and of the items' container, None when
    unknown), which conflicts with another operation on the same queue unless
    the two commute (``_QUEUE_COMMUTE``), with its lock taken directly, and
    with reads and writes of the queue object and its items' container.  A
    PriorityQueue compares the items it stores: its put and get read them
    (the last field), so they conflict with a write of any object's content.
    """
    if owner is NOTHING or owner is None:
        # a queue being made (its __init__ touches only the new object), else a function
        return [] if method == "__init__" else OPAQUE
    state = getattr(owner, "__dict__", None)
    if not isinstance(state, dict):
        return OPAQUE
    op = _QUEUE_OPS.get(method, "any")
    lock = state.get("mutex")
    items = queue_items(owner)
    # by name: CPython's test_queue imports the module afresh, with classes of its own
    compares = op in ("put", "get", "any") and any(
        k.__name__ == "PriorityQueue" and k.__module__ == "queue" for k in type(owner).__mro__)
    return ["q", id(owner), op, id(getattr(lock, "_real", lock)) if lock is not None
            else None, id(items) if items is not None else None, compares]


def _python_entry(func: types.FunctionType, owner: Any = NOTHING) -> list[Atom]:
    """The prologue of a Python function up to its first point.

    Ends with ``["returns"]`` when the function may return without reaching a
    point: the step then goes on in the caller after its call.
    """
    from . import instrument

    code = func.__code__
    if _own(code):  # a shim: its own points say what it does; a clock read or a lock query
        module = getattr(func, "__module__", "") or ""
        if module.endswith("_sync.vtime"):
            return [["s", CLOCK], ["returns"]]
        real = getattr(owner, "_real", None) if owner is not NOTHING else None
        if real is not None and func.__name__ in _LOCK_POINTS:
            return []  # the shim's own point (an "acquire" or "release") is the next step
        return [["s", id(real) if real is not None else "racecheck", "peek"], ["returns"]]
    if instrument.excluded(code):  # threading's own code (Event.is_set, current_thread...)
        atom = _library(owner, code)
        return [atom, ["returns"]] if atom else [["returns"]]
    if code.co_flags & (0x20 | 0x80 | 0x200):  # generator, coroutine, async generator
        return [["returns"]]  # calling it runs nothing
    points = instrument.analyse(code, func.__globals__)
    tail = _code(code).tail(0, points, include_first=True)
    atoms = _tail_atoms(tail)  # not running yet: its arguments are not named
    if tail.flags & _FLAG_RETURNS:
        atoms = [*atoms, ["returns"]]
    return atoms


def _call_atoms(callee: Any, owner: Any = NOTHING,
                args: list[Any] | None = None) -> list[Atom]:
    """The effect of calling ``callee`` (found without running code), up to its first point.
    ``args``: the values of the positional and keyword arguments, when all are known."""
    if callee is NOTHING or callee is None:
        return [OPAQUE]
    if isinstance(callee, types.MethodType):
        owner, callee = callee.__self__, callee.__func__
    if isinstance(callee, types.FunctionType):
        return _python_entry(callee, owner)
    returns: Atom = ["returns"]
    if isinstance(callee, _BuiltinMethod):
        return [*_builtin_method(callee.owner, callee.name, args), returns]
    if isinstance(callee, types.BuiltinFunctionType):
        self_ = getattr(callee, "__self__", None)
        if isinstance(self_, types.ModuleType) or self_ is None:
            module = getattr(self_, "__name__", "") or getattr(callee, "__module__", "") or ""
            name = callee.__name__
            if module == "builtins":
                if name in _READING_BUILTINS:
                    return [*_args_read(args, name not in _SHALLOW_BUILTINS), returns]
                if name == "next":
                    return [READ_CONTENT, WRITE_CONTENT, returns]  # advances the iterator
                if name in ("getattr", "hasattr", "vars", "dir"):
                    return [READ_ANY, returns]
                if name == "print":
                    return [["w", "stdout", None], READ_CONTENT, returns]
            if module == "math":
                return [returns]
            return [OPAQUE]
        return [*_builtin_method(self_, callee.__name__, args), returns]
    if isinstance(callee, type):
        return _instantiate(callee, args)
    call = _mro_get(type(callee), "__call__")
    if isinstance(call, types.FunctionType):
        return _python_entry(call, callee)
    return [OPAQUE]


def _builtin_method(owner: Any, name: str, args: list[Any] | None = None) -> list[Atom]:
    if isinstance(owner, _CONTAINERS):
        kind = "w" if name in _MUTATORS else "r"
        own: list[Atom] = [content_atom(kind, owner)]
        if name in _ARGS_UNREAD:
            return own
        if name in _ARGS_SHALLOW:
            return own + _args_read(args, deep=False)
        return [*own, READ_CONTENT]  # ``remove``, ``index``, ``sort`` compare elements
    if isinstance(owner, str | bytes | tuple | frozenset | int | float | complex):
        return _args_read(args, deep=True) if _inert(owner) else [READ_CONTENT]
    return [OPAQUE]


#: Container methods that store, drop or look up their arguments without reading any
#: container's content (a key is hashed: a builtin container cannot be a key).
_ARGS_UNREAD = frozenset({
    "append", "appendleft", "insert", "pop", "popleft", "popitem", "clear", "copy", "keys",
    "values", "items", "get", "setdefault", "add", "discard", "__getitem__", "__setitem__",
    "__delitem__", "rotate", "reverse", "move_to_end", "__len__", "__iter__", "__reversed__"})
#: Container methods that iterate their arguments (``extend``, ``update``, set algebra).
_ARGS_SHALLOW = frozenset({
    "extend", "extendleft", "update", "union", "intersection", "difference",
    "symmetric_difference", "issubset", "issuperset", "isdisjoint", "difference_update",
    "intersection_update", "symmetric_difference_update"})
#: Reading builtins that look at a container's slots, not into its elements.
_SHALLOW_BUILTINS = frozenset({"len", "iter", "reversed", "enumerate", "zip", "range", "id",
                               "isinstance", "issubclass", "callable"})
#: Types whose constructor copies a container's slots (a set or dict hashes the keys).
_SHALLOW_TYPES = (list, tuple, set, frozenset, dict, collections.deque, collections.OrderedDict,
                  bool)


def _args_read(args: list[Any] | None, deep: bool) -> list[Atom]:
    """Reading the content of ``args`` (unknown: any content)."""
    if args is None:
        return [READ_CONTENT]
    atoms: list[Atom] = []
    for value in args:
        if value is _FRESH_RESULT:
            if deep:
                return [READ_CONTENT]  # new slots, maybe shared elements
            continue
        read = _read_atoms(value, deep)
        if read is None:
            return [READ_CONTENT]
        atoms += read
    return atoms


def _instantiate(klass: type, args: list[Any] | None = None) -> list[Atom]:
    """``klass(...)``: its ``__new__`` and ``__init__`` up to their first point."""
    returns: Atom = ["returns"]
    if klass in _READING_TYPES:
        return [*_args_read(args, deep=klass not in _SHALLOW_TYPES), returns]
    if _mro_get(type(klass), "__call__") is not type.__call__:
        return [OPAQUE]  # a metaclass with its own __call__
    atoms: list[Atom] = []
    new = _mro_get(klass, "__new__")
    if isinstance(new, staticmethod):
        new = new.__func__
    init = _mro_get(klass, "__init__")
    for impl, base in ((new, object.__new__), (init, object.__init__)):
        if impl is base:
            continue
        if isinstance(impl, types.FunctionType):
            entry = _python_entry(impl)
            if _opaque(entry):
                return [OPAQUE]
            # type.__call__ goes on after __new__ (C code that only calls __init__)
            atoms += [a for a in entry if a[0] != "returns"]
            continue
        if any(issubclass(klass, c) for c in _READING_TYPES if c is not object):
            atoms.append(READ_CONTENT)  # a subclass of a builtin container: its C __init__
            continue
        return [OPAQUE]
    return [*atoms, returns]


def _mro_get(klass: type, name: str) -> Any:
    for k in klass.__mro__:
        if name in k.__dict__:
            return k.__dict__[name]
    return NOTHING


# ------------------------------------------------------------------ a point

def _own(code: types.CodeType) -> bool:
    return code.co_filename.startswith(raw.OWN_DIRS)


def _continuation(frame: Any, result: Any = NOTHING) -> list[Atom]:
    """What runs after ``frame`` returns, up to the next point: its callers' code, up the
    stack.  ``result``: what ``frame`` returns, when ``_returned`` could tell."""
    from . import instrument

    atoms: list[Atom] = []
    child = frame
    parent = frame.f_back
    while parent is not None:
        code = parent.f_code
        if _own(code):
            return atoms  # racecheck's bootstrap or a shim: the thread ends or a point follows
        if instrument.excluded(code):
            atom = _frame_library(parent)  # threading's own code: see the module docstring
            if atom:
                atoms.append(atom)
            child, parent, result = parent, parent.f_back, NOTHING
            continue
        info = _code(code)
        offset = info.instruction_at(parent.f_lasti)
        if not _called_directly(parent, offset, info, child):
            return [OPAQUE]
        points = instrument.analyse(code, parent.f_globals)
        tail = info.tail(offset, points, include_first=False)
        running = _Running(parent, info, call=offset, result=result)
        atoms += _tail_atoms(tail, running)
        if not tail.flags & _FLAG_RETURNS:
            return atoms
        result = _returned(tail, running)
        child, parent = parent, parent.f_back
    return atoms


def _called_directly(parent: Any, offset: int, info: _Code, child: Any) -> bool:
    """Whether ``parent`` runs its next instruction as soon as ``child`` returns (no C between)."""
    n = info.by_offset.get(offset)
    if n is None:
        return False
    op = info.order[n].opname
    code = child.f_code
    if code.co_flags & (0x20 | 0x80 | 0x200):
        return op in ("FOR_ITER", "SEND") or op.startswith("CALL")  # a generator resumed
    if op in ("BEFORE_WITH", "SETUP_WITH"):
        return True  # __enter__ (a Python function: the frame itself)
    if not op.startswith("CALL"):
        return op in ("BINARY_SUBSCR", "STORE_SUBSCR", "CONTAINS_OP", "LOAD_ATTR",
                      "STORE_ATTR", "COMPARE_OP", "BINARY_OP")  # a Python dunder
    callee = _value(parent, info.pusher(offset), info)
    if isinstance(callee, types.MethodType):
        callee = callee.__func__
    if isinstance(callee, types.FunctionType):
        return callee.__code__ is code
    if isinstance(callee, type):
        init = _mro_get(callee, "__init__")
        new = _mro_get(callee, "__new__")
        new = new.__func__ if isinstance(new, staticmethod) else new
        return getattr(init, "__code__", None) is code or getattr(new, "__code__", None) is code
    call = _mro_get(type(callee), "__call__")
    return getattr(call, "__code__", None) is code


def at_code_point(frame: Any, offset: int, access: Access | None,
                  memory: list[Any] | None = None) -> list[Atom]:
    """The effect of the step that starts at instruction ``offset`` of ``frame``.

    ``memory``: the thread's ``[frame, offset, value]`` of the load its previous point
    made, read here when this point's object is what that load pushed
    (``self.items.append``: the list ``self.items`` held), and set for the next."""
    atoms, point_value = _at_code_point(frame, offset, access, memory)
    if memory is not None:
        memory[:] = [frame, offset, point_value] if point_value is not NOTHING else _FORGET
    return atoms


def _at_code_point(frame: Any, offset: int, access: Access | None,
                   memory: list[Any] | None) -> tuple[list[Atom], Any]:
    """``at_code_point``'s atoms, and the value its point loads (NOTHING: not a load
    or unknown)."""
    from . import instrument

    code = frame.f_code
    info = _code(code)
    n = info.by_offset.get(offset)
    if n is None:
        return [OPAQUE], NOTHING
    op = info.order[n].opname
    points = instrument.analyse(code, frame.f_globals)
    atoms: list[Atom]
    point_value: Any = NOTHING
    if op.startswith("CALL") and _is_with_exit(code, offset):
        return _with_exit(frame, info, points, offset), NOTHING
    if op.startswith("CALL") or op in ("BEFORE_WITH", "SETUP_WITH"):
        pusher = info.pusher(offset)
        loaded = _value(frame, pusher, info)
        owner: Any = NOTHING
        if pusher is not None and pusher.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            owner = _value(frame, info.pusher(pusher.offset), info)
        if op in ("BEFORE_WITH", "SETUP_WITH"):  # calls the manager's __enter__
            if loaded is NOTHING:
                return [OPAQUE], NOTHING
            owner, loaded = loaded, _mro_get(type(loaded), "__enter__")
            if not isinstance(loaded, types.FunctionType):
                return [OPAQUE], NOTHING
        args = _arg_values(frame, info, n) if op.startswith("CALL") else None
        atoms = _call_atoms(loaded, owner, args)
        if _opaque(atoms):
            return [OPAQUE], NOTHING
        if not any(a[0] == "returns" for a in atoms):
            return atoms, NOTHING  # the callee reaches a point of its own: this step ends there
        atoms = [a for a in atoms if a[0] != "returns"]
    elif op == "FOR_ITER":
        atoms = _for_iter(frame, info, info.pusher(offset))
    elif access is not None and access.kind in ("read", "write") and op in _ATTR_OPS:
        owner = _attribute_owner(frame, offset, access, memory)
        atoms = _attribute_atoms(access, op, info.order[n].argval, owner)
        if op == "LOAD_ATTR" and owner is not NOTHING and isinstance(access.name, str):
            point_value = _attribute(owner, access.name)
    elif access is not None and access.kind in ("read", "write"):
        target: int | str | None = access.target
        kind = "r" if access.kind == "read" else "w"
        if target is None and op in _CELL_OPS:
            target = CELL  # a closure's variable: never a container's content
        atoms = [[kind, target, access.name]]
        if op in _SUBSCRIPTS and target is not None:
            obj, _label = operand_of(frame, code_info(code).operand.get(offset))
            if obj is not NOTHING and id(obj) == target:
                atoms = [content_atom(kind, obj)]
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            point_value = _value(frame, info.order[n], info)
    elif op == "LOAD_SUPER_ATTR":
        atoms = [READ_ANY]
    else:
        return [OPAQUE], NOTHING
    more = _after_call(frame, offset, info, points, point_value)
    if _opaque(more):
        return [OPAQUE], point_value
    return _unique(atoms + more), point_value


_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"})
_SUBSCRIPTS = frozenset({"BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR", "CONTAINS_OP"})
_CELL_OPS = frozenset({"LOAD_DEREF", "STORE_DEREF", "DELETE_DEREF", "LOAD_CLASSDEREF",
                       "LOAD_FROM_DICT_OR_DEREF"})
#: The target of a closure variable's atoms: cells of one name may be one cell.
CELL = "cell"
_FORGET = [None, -1, NOTHING]


def _arg_values(frame: Any, info: _Code, n: int) -> list[Any] | None:
    """The values of the arguments of the call at instruction ``n`` (None: one unknown).

    A local must not be stored between its load and the call; a constant or a
    bool has no content; an attribute or global is read again, as for the
    callee (assumed still bound to what the call's own expression loaded)."""
    pushed_args = info.args_of(info.order[n].offset)
    if pushed_args is None:
        return None
    running = _Running(frame, info)
    values: list[Any] = []
    for pushed in pushed_args:
        kind = getattr(pushed, "opname", None)
        plan = info.plan(pushed, n, None, frozenset())
        if plan is not None:
            value = _evaluate(running, plan)
        elif kind in ("LOAD_ATTR", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
            value = _value(frame, pushed, info)
        else:
            return None
        if value is NOTHING:
            return None
        values.append(value)
    return values


def _attribute_owner(frame: Any, offset: int, access: Access, memory: list[Any] | None) -> Any:
    """The object an attribute instruction acts on: a plain name's value (the one the
    access decoded), or what the thread's previous point loaded (``memory``)."""
    pushed = code_info(frame.f_code).operand.get(offset)
    if access.target is not None:
        obj, _label = operand_of(frame, pushed)
        return obj if obj is not NOTHING and id(obj) == access.target else NOTHING
    if memory is None or memory[0] is not frame:
        return NOTHING
    if pushed is None:  # decode names plain loads only; the simulation names attribute loads
        pushed = _code(frame.f_code).pusher(offset)
    if pushed is not None and getattr(pushed, "offset", None) == memory[1]:
        return memory[2]
    return NOTHING


def _attribute_atoms(access: Access, op: str, name: Any, obj: Any) -> list[Atom]:
    """An attribute access, on the storage it really touches.

    An instance's attributes live in its ``__dict__``, which code can also
    change as a dict (``functools.cached_property`` writes
    ``instance.__dict__[name]``): the access is to (the dict, the name), which
    conflicts with a write to the dict's content.  A read that the instance
    dict does not answer goes on to the classes (``Cls.x = 1`` changes it).
    ``obj``: the object whose attribute it is (NOTHING: unknown).
    """
    kind = "r" if access.kind == "read" else "w"
    if obj is NOTHING:
        return [[kind, access.target, access.name]]
    if access.name is None:  # decode's view of a container method: the content
        return [content_atom(kind, obj)]
    if type(obj) in _CONTAINERS and op in ("LOAD_ATTR", "LOAD_METHOD") and isinstance(name, str):
        # items.append(x): the C method is the access, to the whole container (decode's view)
        return [content_atom("w" if name in MUTATORS else "r", obj)]
    access = Access(access.kind, id(obj), name, access.op)
    if isinstance(obj, type):
        classes: tuple[type, ...] = obj.__mro__
        storage: Any = None
    else:
        classes = type(obj).__mro__
        storage = getattr(obj, "__dict__", None) if hasattr(type(obj), "__dict__") else None
    if access.name in _CONTAINER_METHODS and isinstance(obj, _CONTAINERS):
        return [content_atom(kind, obj)]  # decode's view: the container's content
    atoms: list[Atom] = []
    if isinstance(storage, dict):
        atoms.append([kind, id(storage), access.name])
        if kind == "w" or access.name in storage:
            return atoms
    else:
        atoms.append([kind, id(obj), access.name])
        if kind == "w":
            return atoms
    atoms += [["r", id(k), access.name] for k in classes if k is not object]
    return atoms


#: Calls whose result is a fresh object: iterating it advances nobody else's iterator.
_FRESH = (range, sorted, list, tuple, reversed, dict, set, frozenset, str, bytes, len)
_VIEWS = frozenset({"items", "keys", "values", "copy"})


def _makes_new(callee: Any) -> bool:
    """Whether calling ``callee`` returns a new object no other thread holds (``reversed``
    returns a view of its argument; a container's ``copy`` a new container)."""
    return (callee in _FRESH and callee is not reversed) or (
        isinstance(callee, _BuiltinMethod) and callee.name == "copy"
        and isinstance(callee.owner, _CONTAINERS))


def _for_iter(frame: Any, info: _Code, iterator: Any) -> list[Atom]:
    """FOR_ITER reads what it iterates; it also advances a shared iterator unless the
    iterator is this frame's own (made by GET_ITER from a container, not an iterator)."""
    shared = [READ_CONTENT, WRITE_CONTENT]
    if not isinstance(iterator, _Pushed) or iterator.opname != "ITER":
        return _advance(_value(frame, iterator, info)) or shared
    source = iterator.source
    if isinstance(source, _Pushed) and source.opname == "RESULT":
        callee = _value(frame, info.pusher(source.source), info)
        if _makes_new(callee):
            return []  # a new object only this loop holds
        if callee is reversed:
            return [READ_CONTENT]  # walks its argument
        if isinstance(callee, _BuiltinMethod) and callee.name in _VIEWS \
                and isinstance(callee.owner, _CONTAINERS):
            return [content_atom("r", callee.owner)]  # a view of the container
        return shared
    if getattr(source, "opname", None) in ("LOAD_CONST", "LOAD_SMALL_INT"):
        return []  # a constant tuple: nothing to read that anyone writes
    value = _value(frame, source, info)
    if value is NOTHING or hasattr(type(value), "__next__"):
        return shared
    if getattr(source, "opname", None) in _FAST_LOADS and not info.stores(source.argval):
        read = _read_atoms(value, deep=False)
        return [READ_CONTENT] if read is None else read
    return [READ_CONTENT]


_SEQUENCE_ITERATORS: tuple[type, ...] = (type(iter([])), type(iter(())))


def _advance(iterator: Any) -> list[Atom] | None:
    """Advancing a known iterator of a list or tuple (a comprehension's ``.0``, a local):
    a write of the iterator's own state, and a read of the sequence's slots."""
    if type(iterator) not in _SEQUENCE_ITERATORS:
        return None
    seq = iterator.__reduce__()[1][0]  # C code: (iter, (sequence,), index), () when done
    read = _read_atoms(seq, deep=False)
    return [["w", id(iterator), SLOTS], *(read if read is not None else [READ_CONTENT])]


def _is_with_exit(code: types.CodeType, offset: int) -> bool:
    from . import instrument

    entry = instrument._points.get(id(code))
    return entry is not None and entry[0] is code and offset in entry[2]


def _with_exit(frame: Any, info: _Code, points: frozenset[int], offset: int) -> list[Atom]:
    """The call that leaves a ``with`` block: the ``__exit__`` of one of this code's managers.

    Which ``with`` it closes is not tracked; every manager of the code object is
    resolved, and the step may be any of their ``__exit__`` calls.
    """
    atoms: list[Atom] = []
    returns = False
    for ins in info.order:
        if ins.opname not in ("BEFORE_WITH", "SETUP_WITH"):
            continue
        manager = _value(frame, info.pusher(ins.offset), info)
        exit_ = _mro_get(type(manager), "__exit__") if manager is not NOTHING else NOTHING
        if not isinstance(exit_, types.FunctionType):
            return [OPAQUE]
        for atom in _python_entry(exit_, manager):
            if atom[0] == "OP":
                return [OPAQUE]
            if atom[0] == "returns":
                returns = True
            elif atom not in atoms:
                atoms.append(atom)
    if returns:
        more = _after_call(frame, offset, info, points)
        if _opaque(more):
            return [OPAQUE]
        atoms += more
    return _unique(atoms)


def _after_call(frame: Any, offset: int, info: _Code, points: frozenset[int],
                point_value: Any = NOTHING) -> list[Atom]:
    """The step goes on after the instruction at ``offset`` (a point, or a call that
    returned without reaching one), and maybe returns from ``frame``.  ``point_value``:
    what the instruction at ``offset`` loads, when it is a load."""
    tail = info.tail(offset, points, include_first=False)
    running = _Running(frame, info, point_value)
    atoms = _tail_atoms(tail, running)
    if tail.flags & _FLAG_RETURNS:
        atoms += _continuation(frame, _returned(tail, running))
    return atoms


def at_shim_point(access: Access | None) -> list[Atom]:
    """The effect of a step that starts at a shim's point: its operation, then the callers."""
    if access is None or access.kind != "sync":
        return [OPAQUE]
    from . import instrument

    atoms: list[Atom] = [["s", access.target if access.target is not None else access.name,
                          access.op]]
    frame: Any = sys._getframe(1)
    while frame is not None and _own(frame.f_code):
        frame = frame.f_back
    # The shim returns into threading's code (Condition.wait) or the caller's, after its call.
    while frame is not None and instrument.excluded(frame.f_code) and not _own(frame.f_code):
        atom = _frame_library(frame)
        if atom and atom not in atoms:
            atoms.append(atom)
        frame = frame.f_back
    if frame is None or _own(frame.f_code):
        return atoms
    info = _code(frame.f_code)
    points = instrument.analyse(frame.f_code, frame.f_globals)
    more = _after_call(frame, info.instruction_at(frame.f_lasti), info, points)
    if _opaque(more):
        return [OPAQUE]
    return _unique(atoms + more)


def prologue(frame: Any) -> list[Atom]:
    """What a thread ran from its start to its first point, which is in ``frame``.

    Every frame between racecheck's bootstrap and the point was entered and
    ran from its first instruction up to where it is now without reaching a
    point (its calls are points, unless it has none): the instructions
    reachable from its entry before a point cover that.
    """
    from . import instrument

    atoms: list[Atom] = []
    while frame is not None and _own(frame.f_code):
        frame = frame.f_back  # the shim the first point is in
    while frame is not None and not _own(frame.f_code):
        code = frame.f_code
        if instrument.excluded(code):
            atom = _frame_library(frame)
            if atom:
                atoms.append(atom)
        else:
            points = instrument.analyse(code, frame.f_globals)
            info = _code(code)
            tail = info.tail(0, points, include_first=True)
            if tail.flags & _FLAG_OP:
                return [OPAQUE]
            atoms += _tail_atoms(tail, _Running(frame, info))
        frame = frame.f_back
    return _unique(atoms)


def _unique(atoms: list[Atom]) -> list[Atom]:
    out: list[Atom] = []
    for a in atoms:
        if a not in out:
            out.append(a)
    return out
