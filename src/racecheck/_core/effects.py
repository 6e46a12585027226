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
  it (``WC``), and an opcode this module does not know is opaque;
* where a tail can return, the caller's code after its call, up the stack;
  a frame entered from C code (``sorted(key=f)``) makes the step opaque, and
  so does an exception raised during the step (seen at run time).

Effects are lists of *atoms*, plain JSON: ``["r", target, name]`` and
``["w", target, name]`` (target: an object's id or None when unknown; name:
an attribute or global, None for an object's content), ``["s", key]`` for a
synchronisation operation on a resource (a lock, a thread, the clock),
``["RC"]`` / ``["WC"]`` content of any object read / written, ``["RA"]`` any
state read, ``["OP"]`` anything but synchronisation state.  ``dependent``
is the one definition of a conflict between two steps.

Assumptions, stated because the reduction rests on them: module-level
functions, classes and modules bound to globals are not rebound while the
threads run (the instrumentation makes the same assumption: reading them is
not a scheduling point); ``threading``'s own code touches its shared state
only under its own locks, which the shims model; a step that reads an
attribute or global rebinding (``obj.x = ...``) is told apart from one that
mutates an object's content (``items.append``), and C code reached through
an operator (``a + b``) on a mutable object only reads or writes its content.
"""

from __future__ import annotations

import bisect
import builtins
import collections
import dis
import sys
import threading
import types
from typing import Any

from . import raw
from .access import CONTAINERS as _CONTAINERS
from .access import MUTATORS, NOTHING, Access, code_info, operand_of

Atom = list[Any]

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
        if other[2] is not None:
            return False  # rebinding an attribute or global leaves every object's content
        return bool(wild[0] == "WC" or other[0] == "w")
    # two precise accesses
    if ka == "r" and kb == "r":
        return False
    ta, tb, na, nb = a[1], b[1], a[2], b[2]
    if (na is None) != (nb is None):
        return ta is not None and ta == tb  # an attribute of an object whose content changes
    if na is not None and na != nb:
        return False
    return ta is None or tb is None or ta == tb


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
        "by_offset",
        "code",
        "handlers",
        "offsets",
        "order",
        "pushed",
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
        self.tails: dict[tuple[int, frozenset[int]], int] = {}
        self.pushed: dict[int, Any] | None = None

    def pusher(self, offset: int) -> Any:
        """What pushed the slot the instruction at ``offset`` acts on (``_pushers``)."""
        if self.pushed is None:
            self.pushed = _pushers(self)
        return self.pushed.get(offset)

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

    def tail(self, offset: int, points: frozenset[int], include_first: bool) -> int:
        """Flags of every instruction reachable from ``offset`` before the next point."""
        key = (offset * 2 + include_first, points)
        hit = self.tails.get(key)
        if hit is not None:
            return hit
        start = self.by_offset.get(offset)
        flags = 0
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
                elif op in _READS_CONTENT:
                    flags |= _FLAG_RC
                    if op == "BINARY_OP" and ins.argrepr.endswith("="):
                        flags |= _FLAG_WC  # ``+=`` changes a list, a bytearray, an array in place
                elif op in _WRITES_CONTENT:
                    flags |= _FLAG_WC
                elif op in _STATIC_LOADS or op in _PURE:
                    pass
                else:
                    flags |= _FLAG_OP
                todo.extend(self.successors(n, handlers))
        self.tails[key] = flags
        return flags


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
    """A stack slot the simulation names: a call's result, or an iterator GET_ITER made."""

    __slots__ = ("argval", "opname", "source")

    def __init__(self, opname: str, source: Any) -> None:
        self.opname, self.argval, self.source = opname, None, source


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
    for ins in info.order:
        op = ins.opname
        if ins.offset in jump_targets and op != "FOR_ITER":  # a loop head keeps its iterator
            stack = []
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
            pending_call = _slot(stack, (ins.arg or 0) + 1)
            continue
        if op.startswith("CALL"):
            argc = ins.arg or 0
            if op == "CALL_FUNCTION_EX":
                out[ins.offset] = None
            elif _PY == (3, 11) and op == "CALL":
                out[ins.offset] = pending_call
            elif op in ("CALL_FUNCTION", "CALL_METHOD") or (op == "CALL" and _PY < (3, 13)):
                out[ins.offset] = _slot(stack, argc + 1)  # [NULL|method, callable|self, args]
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
        stack.extend([ins if op in _LOADERS else None] * max(pushes, 0))
    return out


def _slot(stack: list[Any], depth: int) -> Any:
    return stack[-depth] if len(stack) >= depth else None


def _value(frame: Any, ins: Any, info: _Code, depth: int = 0) -> Any:
    """The value a load instruction pushed, found without running code (NOTHING if unsure)."""
    if ins is None or depth > 3:
        return NOTHING
    op, name = ins.opname, ins.argval
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


def _library(owner: Any) -> Atom | list[Any]:
    """threading's state a call touches: the object's own (a Condition's waiters, an
    Event's flag), or the module's (current_thread, enumerate) for a function."""
    if owner is NOTHING or owner is None or isinstance(owner, types.ModuleType):
        return ["s", LIBRARY]
    if isinstance(owner, _UNDER_THEIR_LOCK):
        return []  # all their state is touched holding their lock, whose shim says so
    return ["s", f"{LIBRARY}:{id(owner)}"]


#: threading classes whose every access to their own state holds their lock (CPython's
#: Condition: waiters; Semaphore: the count): the lock's operations already order them.
_UNDER_THEIR_LOCK = (threading.Condition, threading.Semaphore)


def _frame_library(frame: Any) -> Atom | list[Any]:
    code = frame.f_code
    owner = frame.f_locals.get("self", NOTHING) if code.co_argcount else NOTHING
    return _library(owner)


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
        atom = _library(owner)
        return [atom, ["returns"]] if atom else [["returns"]]
    if code.co_flags & (0x20 | 0x80 | 0x200):  # generator, coroutine, async generator
        return [["returns"]]  # calling it runs nothing
    points = instrument.analyse(code, func.__globals__)
    flags = _code(code).tail(0, points, include_first=True)
    atoms = _flag_atoms(flags)
    if flags & _FLAG_RETURNS:
        atoms = [*atoms, ["returns"]]
    return atoms


def _call_atoms(callee: Any, owner: Any = NOTHING) -> list[Atom]:
    """The effect of calling ``callee`` (found without running code), up to its first point."""
    if callee is NOTHING or callee is None:
        return [OPAQUE]
    if isinstance(callee, types.MethodType):
        owner, callee = callee.__self__, callee.__func__
    if isinstance(callee, types.FunctionType):
        return _python_entry(callee, owner)
    returns: Atom = ["returns"]
    if isinstance(callee, _BuiltinMethod):
        return [*_builtin_method(callee.owner, callee.name), returns]
    if isinstance(callee, types.BuiltinFunctionType):
        self_ = getattr(callee, "__self__", None)
        if isinstance(self_, types.ModuleType) or self_ is None:
            module = getattr(self_, "__name__", "") or getattr(callee, "__module__", "") or ""
            name = callee.__name__
            if module == "builtins":
                if name in _READING_BUILTINS:
                    return [READ_CONTENT, returns]
                if name == "next":
                    return [READ_CONTENT, WRITE_CONTENT, returns]  # advances the iterator
                if name in ("getattr", "hasattr", "vars", "dir"):
                    return [READ_ANY, returns]
                if name == "print":
                    return [["w", "stdout", None], READ_CONTENT, returns]
            if module == "math":
                return [returns]
            return [OPAQUE]
        return [*_builtin_method(self_, callee.__name__), returns]
    if isinstance(callee, type):
        return _instantiate(callee)
    call = _mro_get(type(callee), "__call__")
    if isinstance(call, types.FunctionType):
        return _python_entry(call, callee)
    return [OPAQUE]


def _builtin_method(owner: Any, name: str) -> list[Atom]:
    if isinstance(owner, _CONTAINERS):
        kind = "w" if name in _MUTATORS else "r"
        return [[kind, id(owner), None], READ_CONTENT]
    if isinstance(owner, str | bytes | tuple | frozenset | int | float | complex):
        return [READ_CONTENT]
    return [OPAQUE]


def _instantiate(klass: type) -> list[Atom]:
    """``klass(...)``: its ``__new__`` and ``__init__`` up to their first point."""
    returns: Atom = ["returns"]
    if klass in _READING_TYPES:
        return [READ_CONTENT, returns]
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


def _continuation(frame: Any) -> list[Atom]:
    """What runs after ``frame`` returns, up to the next point: its callers' code, up the stack."""
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
            child, parent = parent, parent.f_back
            continue
        info = _code(code)
        offset = info.instruction_at(parent.f_lasti)
        if not _called_directly(parent, offset, info, child):
            return [OPAQUE]
        points = instrument.analyse(code, parent.f_globals)
        flags = info.tail(offset, points, include_first=False)
        atoms += _flag_atoms(flags)
        if not flags & _FLAG_RETURNS:
            return atoms
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


def at_code_point(frame: Any, offset: int, access: Access | None) -> list[Atom]:
    """The effect of the step that starts at instruction ``offset`` of ``frame``."""
    from . import instrument

    code = frame.f_code
    info = _code(code)
    n = info.by_offset.get(offset)
    if n is None:
        return [OPAQUE]
    op = info.order[n].opname
    points = instrument.analyse(code, frame.f_globals)
    atoms: list[Atom]
    if op.startswith("CALL") or op in ("BEFORE_WITH", "SETUP_WITH"):
        pusher = info.pusher(offset)
        loaded = _value(frame, pusher, info)
        owner: Any = NOTHING
        if pusher is not None and pusher.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            owner = _value(frame, info.pusher(pusher.offset), info)
        if pusher is None and op.startswith("CALL") and _is_with_exit(code, offset):
            return _with_exit(frame, info, points, offset)
        if op in ("BEFORE_WITH", "SETUP_WITH"):  # calls the manager's __enter__
            if loaded is NOTHING:
                return [OPAQUE]
            owner, loaded = loaded, _mro_get(type(loaded), "__enter__")
            if not isinstance(loaded, types.FunctionType):
                return [OPAQUE]
        atoms = _call_atoms(loaded, owner)
        if _opaque(atoms):
            return [OPAQUE]
        if not any(a[0] == "returns" for a in atoms):
            return atoms  # the callee reaches a point of its own: this step ends there
        atoms = [a for a in atoms if a[0] != "returns"]
    elif op == "FOR_ITER":
        atoms = _for_iter(frame, info, info.pusher(offset))
    elif access is not None and access.kind in ("read", "write"):
        atoms = _attribute_atoms(frame, offset, access, op) if op in _ATTR_OPS else \
            [["r" if access.kind == "read" else "w", access.target, access.name]]
    elif op == "LOAD_SUPER_ATTR":
        atoms = [READ_ANY]
    else:
        return [OPAQUE]
    more = _after_call(frame, offset, info, points)
    if _opaque(more):
        return [OPAQUE]
    return _unique(atoms + more)


_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"})


def _attribute_atoms(frame: Any, offset: int, access: Access, op: str) -> list[Atom]:
    """An attribute access, on the storage it really touches.

    An instance's attributes live in its ``__dict__``, which code can also
    change as a dict (``functools.cached_property`` writes
    ``instance.__dict__[name]``): the access is to (the dict, the name), which
    conflicts with a write to the dict's content.  A read that the instance
    dict does not answer goes on to the classes (``Cls.x = 1`` changes it).
    """
    kind = "r" if access.kind == "read" else "w"
    if access.target is None or access.name is None:
        return [[kind, access.target, access.name]]
    info = code_info(frame.f_code)
    obj, _label = operand_of(frame, info.operand.get(offset))
    if obj is NOTHING or id(obj) != access.target:
        return [[kind, access.target, access.name]]
    if isinstance(obj, type):
        classes: tuple[type, ...] = obj.__mro__
        storage: Any = None
    else:
        classes = type(obj).__mro__
        storage = getattr(obj, "__dict__", None) if hasattr(type(obj), "__dict__") else None
    if access.name in _CONTAINER_METHODS and isinstance(obj, _CONTAINERS):
        return [[kind, access.target, None]]  # decode's view: the container's content
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


def _for_iter(frame: Any, info: _Code, iterator: Any) -> list[Atom]:
    """FOR_ITER reads what it iterates; it also advances a shared iterator unless the
    iterator is this frame's own (made by GET_ITER from a container, not an iterator)."""
    shared = [READ_CONTENT, WRITE_CONTENT]
    if not isinstance(iterator, _Pushed) or iterator.opname != "ITER":
        return shared
    source = iterator.source
    if isinstance(source, _Pushed) and source.opname == "RESULT":
        callee = _value(frame, info.pusher(source.source), info)
        if callee in _FRESH or (isinstance(callee, _BuiltinMethod) and callee.name in _VIEWS
                                and isinstance(callee.owner, _CONTAINERS)):
            return [READ_CONTENT]
        return shared
    value = _value(frame, source, info)
    if value is NOTHING or hasattr(type(value), "__next__"):
        return shared
    return [READ_CONTENT]


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


def _after_call(frame: Any, offset: int, info: _Code, points: frozenset[int]) -> list[Atom]:
    """A callee without a point returned: this frame goes on after the call (and maybe returns)."""
    flags = info.tail(offset, points, include_first=False)
    atoms = _flag_atoms(flags)
    if flags & _FLAG_RETURNS:
        atoms += _continuation(frame)
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
            flags = _code(code).tail(0, points, include_first=True)
            if flags & _FLAG_OP:
                return [OPAQUE]
            atoms += _flag_atoms(flags)
        frame = frame.f_back
    return _unique(atoms)


def _unique(atoms: list[Atom]) -> list[Atom]:
    out: list[Atom] = []
    for a in atoms:
        if a not in out:
            out.append(a)
    return out
