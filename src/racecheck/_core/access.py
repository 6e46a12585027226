"""What a thread is about to touch: the access at its next scheduling point.

A strategy that reasons about conflicts (partial-order reduction, "run the
thread that conflicts with the last write") needs each runnable thread's
pending access, not just its id.  ``decode`` turns the instruction a thread
is parked before into an ``Access``: the object it reads or writes (by
identity), the attribute, global or item name, and whether it is a read, a
write, a call, an iteration or a synchronisation operation (the shims in
``_sync/`` report those themselves).  Operands are found the way the trace
recorder finds them (``trace._operand``): the object a plain name load
pushed; an operand computed on the stack is unknown (``target is None``).

Container mutations done by C methods (``items.append(x)``) are writes to
the whole container (``Access("write", id(items), None)``), its other
methods and item reads (``d[k]``) reads of it: ``name`` None conflicts with
any access to the same target.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

from .trace import _NOTHING, _operand, code_info

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
_CONTAINERS = (list, dict, set, bytearray, collections.deque, collections.OrderedDict,
               collections.defaultdict)
#: Their methods that change them; any other method of theirs only reads.
_MUTATORS = frozenset({"append", "appendleft", "extend", "extendleft", "insert", "pop",
                       "popleft", "popitem", "remove", "clear", "update", "setdefault", "add",
                       "discard", "sort", "reverse", "rotate", "move_to_end",
                       "difference_update", "intersection_update",
                       "symmetric_difference_update", "__setitem__", "__delitem__"})


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
        obj, _label = _operand(frame, info.operand.get(offset))
        if obj is _NOTHING:
            return Access("write" if op in _WRITES else "read", None, name, op)
        if type(obj) in _CONTAINERS and op in ("LOAD_ATTR", "LOAD_METHOD"):
            # items.append(x): the C method is the access, to the whole container.
            return Access("write" if name in _MUTATORS else "read", id(obj), None, op)
        return Access("write" if op in _WRITES else "read", id(obj), name, op)
    if op in _ITEMS:
        obj, _label = _operand(frame, info.operand.get(offset))
        target = id(obj) if obj is not _NOTHING else None
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
