"""Bytecode decoded: what a thread is about to touch at its next scheduling point.

The one place racecheck reads instructions for meaning: the trace recorder,
the access decoder and any other observer share its decoded code
(``code_info``: instructions, lines, and which instruction pushed each
attribute or item instruction's object).

A strategy that reasons about conflicts (partial-order reduction, "run the
thread that conflicts with the last write") needs each runnable thread's
pending access, not just its id.  ``decode`` turns the instruction a thread
is parked before into an ``Access``: the object it reads or writes (by
identity), the attribute, global or item name, and whether it is a read, a
write, a call, an iteration or a synchronisation operation (the shims in
``_sync/`` report those themselves).  An operand is the object a plain name
load pushed (``operand_of``); one computed on the stack is unknown
(``target is None``).

Container mutations done by C methods (``items.append(x)``) are writes to
the whole container (``Access("write", id(items), None)``), its other
methods and item reads (``d[k]``) reads of it: ``name`` None conflicts with
any access to the same target.
"""

from __future__ import annotations

import collections
import dis
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import types

_READS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF",
                    "LOAD_CLASSDEREF", "BINARY_SUBSCR", "BINARY_SLICE", "CONTAINS_OP",
                    "LOAD_FROM_DICT_OR_DEREF", "LOAD_FROM_DICT_OR_GLOBALS"})
_WRITES = frozenset({"STORE_ATTR", "DELETE_ATTR", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME",
                     "DELETE_NAME", "STORE_DEREF", "DELETE_DEREF", "STORE_SUBSCR",
                     "DELETE_SUBSCR", "STORE_SLICE"})
_GLOBALS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL",
                      "STORE_NAME", "DELETE_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_ATTRS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"})
_ITEMS = frozenset({"BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR", "CONTAINS_OP"})

#: Builtin containers whose C methods read or change them in one step.
CONTAINERS = (list, dict, set, bytearray, collections.deque, collections.OrderedDict,
               collections.defaultdict)
#: Their methods that change them; any other method of theirs only reads.
MUTATORS = frozenset({"append", "appendleft", "extend", "extendleft", "insert", "pop",
                       "popleft", "popitem", "remove", "clear", "update", "setdefault", "add",
                       "discard", "sort", "reverse", "rotate", "move_to_end",
                       "difference_update", "intersection_update",
                       "symmetric_difference_update", "__setitem__", "__delitem__"})


# ------------------------------------------------------------- decoding bytecode

_LOADS_OBJ = frozenset({"LOAD_FAST", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF",
                        "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"})


class _CodeInfo:
    __slots__ = ("instrs", "lines", "operand")

    def __init__(self, code: types.CodeType) -> None:
        self.instrs: dict[int, dis.Instruction] = {}
        self.operand: dict[int, dis.Instruction | None] = {}
        self.lines: dict[int, int] = {}
        line = code.co_firstlineno
        instrs = list(dis.get_instructions(code))
        for ins in instrs:
            lineno = _lineno(ins)
            if lineno is not None:
                line = lineno
            self.instrs[ins.offset] = ins
            self.lines[ins.offset] = line
        self.operand = _operands(instrs)


#: id(code) -> (code, its decoded instructions): kept alive so ids stay unique.
_infos: dict[int, tuple[types.CodeType, _CodeInfo]] = {}


def code_info(code: types.CodeType) -> _CodeInfo:
    """The decoded instructions of ``code`` (cached; the recorder and ``access`` share it)."""
    hit = _infos.get(id(code))
    if hit is None or hit[0] is not code:
        hit = (code, _CodeInfo(code))
        _infos[id(code)] = hit
    return hit[1]


_STACK_SHUFFLE = {"DUP_TOP": ("copy", 1), "COPY": ("copy", None), "SWAP": ("swap", None),
                  "ROT_TWO": ("swap", 2)}


def _operands(instrs: list[dis.Instruction]) -> dict[int, dis.Instruction | None]:
    """For attribute and item instructions: which instruction pushed the object they act on.

    A small abstract interpretation of each basic block: every stack slot
    remembers the instruction that pushed it (stack shuffles keep identities),
    so ``c.n += 1`` (LOAD_FAST c; COPY; LOAD_ATTR n; ...; SWAP; STORE_ATTR n)
    maps both attribute instructions to ``LOAD_FAST c``.  Unknown slots at block
    starts are None.
    """
    result: dict[int, Any] = {}
    stack: list[Any] = []
    for ins in instrs:
        if ins.is_jump_target:
            stack = []
        op = ins.opname
        if op in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"):
            result[ins.offset] = stack[-1] if stack else None
        elif op in ("BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR"):
            result[ins.offset] = stack[-2] if len(stack) >= 2 else None  # the container
        elif op == "CONTAINS_OP":
            result[ins.offset] = stack[-1] if stack else None  # ``x in container``
        shuffle = _STACK_SHUFFLE.get(op)
        if shuffle is not None:
            kind, n = shuffle
            n = n or (ins.arg or 1)
            if len(stack) < n:
                pad: list[Any] = [None] * (n - len(stack))
                stack = pad + stack
            if kind == "copy":
                stack.append(stack[-n])
            else:
                stack[-1], stack[-n] = stack[-n], stack[-1]
            continue
        try:
            effect = dis.stack_effect(ins.opcode, ins.arg, jump=False) if ins.opcode >= dis.HAVE_ARGUMENT \
                else dis.stack_effect(ins.opcode, jump=False)
        except ValueError:
            stack = []
            continue
        pops = _pops(ins)
        if pops is None:
            stack = []
            continue
        pushes = effect + pops
        del stack[max(len(stack) - pops, 0):]
        if op == "LOAD_FAST_LOAD_FAST" and isinstance(ins.argval, tuple):  # 3.13
            stack.extend(_NamedLoad("LOAD_FAST", name) for name in ins.argval)
            continue
        stack.extend([ins if op in _LOADS_OBJ else None] * max(pushes, 0))
    return result


class _NamedLoad:
    """One half of a fused load (3.13's LOAD_FAST_LOAD_FAST), shaped like an Instruction."""

    def __init__(self, opname: str, argval: str) -> None:
        self.opname = opname
        self.argval = argval


def _pops(ins: dis.Instruction) -> int | None:
    """How many slots an instruction pops, for the few shapes the operand map needs."""
    op = ins.opname
    if op in _LOADS_OBJ or op in ("LOAD_CONST", "LOAD_SMALL_INT", "PUSH_NULL", "NOP", "RESUME",
                                  "LOAD_FAST_LOAD_FAST",
                                  "CACHE", "PRECALL", "KW_NAMES", "EXTENDED_ARG"):
        return 0
    if op in ("LOAD_ATTR", "LOAD_METHOD", "UNARY_NOT", "UNARY_NEGATIVE", "GET_ITER",
              "STORE_FAST", "POP_TOP", "STORE_GLOBAL", "STORE_NAME", "STORE_DEREF", "TO_BOOL"):
        return 1
    if op in ("STORE_ATTR", "BINARY_OP", "BINARY_SUBSCR", "COMPARE_OP", "CONTAINS_OP", "IS_OP",
              "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "INPLACE_ADD",
              "INPLACE_SUBTRACT", "INPLACE_MULTIPLY"):
        return 2
    if op in ("STORE_SUBSCR",):
        return 3
    return None


def _lineno(ins: dis.Instruction) -> int | None:
    pos = getattr(ins, "positions", None)
    if pos is not None and pos.lineno is not None:
        return int(pos.lineno)
    start = ins.starts_line
    return start if isinstance(start, int) and not isinstance(start, bool) else None




class _Nothing:
    def __repr__(self) -> str:
        return "<unknown>"


NOTHING: Any = _Nothing()


def operand_of(frame: Any, prev: dis.Instruction | None) -> tuple[Any, str]:
    """The object the previous instruction pushed, when it is a plain name load."""
    if prev is None or prev.opname not in _LOADS_OBJ:
        return NOTHING, "?"
    name = prev.argval
    if not isinstance(name, str):
        return NOTHING, "?"
    if prev.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
        return frame.f_globals.get(name, NOTHING), name
    return frame.f_locals.get(name, NOTHING), name


def instance_attr(obj: Any, name: str) -> Any:
    """obj.name read without running properties or __getattr__ (no side effects)."""
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict) and name in d:
        return d[name]
    for klass in type(obj).__mro__:
        if name in klass.__dict__:
            value = klass.__dict__[name]
            if hasattr(value, "__get__") and not isinstance(value, (int, float, str)):
                return NOTHING
            return value
    return NOTHING


# ---------------------------------------------------------------- accesses


@dataclass(frozen=True)
class Access:
    """One pending access: ``kind`` is read, write, call, iterate or sync.

    ``target`` is the id of the object touched (the instance for an
    attribute, the module's globals for a global, the lock for a sync
    operation), None when it cannot be told without running code; ``name`` the
    attribute, global, method or operation (``acquire``, ``release``...).
    """

    kind: str
    target: int | None
    name: str | None
    op: str = ""

    @property
    def writes(self) -> bool:
        return self.kind in ("write", "sync")

    def conflicts(self, other: Access | None) -> bool:
        """Whether running the two in either order can give different results."""
        if other is None or self.target is None or self.target != other.target:
            return False
        if self.kind == "sync" or other.kind == "sync":
            return self.kind == other.kind == "sync"
        return (self.writes or other.writes) and (self.name == other.name
                                                  or self.name is None or other.name is None)


def decode(frame: Any, offset: int) -> Access | None:
    """The access of the instruction at ``offset`` in ``frame`` (None if it touches nothing)."""
    info = code_info(frame.f_code)
    ins = info.instrs.get(offset)
    if ins is None:
        return None
    op = ins.opname
    name = ins.argval if isinstance(ins.argval, str) else None
    if op in _GLOBALS:
        return Access("write" if op in _WRITES else "read", id(frame.f_globals), name, op)
    if op in _ATTRS:
        obj, _label = operand_of(frame, info.operand.get(offset))
        if obj is NOTHING:
            return Access("write" if op in _WRITES else "read", None, name, op)
        if type(obj) in CONTAINERS and op in ("LOAD_ATTR", "LOAD_METHOD"):
            # items.append(x): the C method is the access, to the whole container.
            return Access("write" if name in MUTATORS else "read", id(obj), None, op)
        return Access("write" if op in _WRITES else "read", id(obj), name, op)
    if op in _ITEMS:
        obj, _label = operand_of(frame, info.operand.get(offset))
        target = id(obj) if obj is not NOTHING else None
        return Access("write" if op in _WRITES else "read", target, None, op)
    if op in _READS or op in _WRITES:
        return Access("write" if op in _WRITES else "read", None, name, op)
    if op == "FOR_ITER":
        return Access("iterate", None, None, op)
    if op.startswith("CALL"):
        return Access("call", None, None, op)
    return None


def sync(resource: object, operation: str) -> Access:
    """The access of a synchronisation operation on ``resource`` (a shim's point)."""
    return Access("sync", id(resource), operation, operation)
