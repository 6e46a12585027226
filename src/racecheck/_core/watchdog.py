"""What a stuck thread is blocked in, and the ``hang`` verdict the watchdog gives it.

The runner is the only place that waits in real time; when the running
managed thread makes no progress it asks these functions what the thread is
blocked in (the call as the code spells it, resolved to the builtin it names
where it can), whether that call is a lock acquisition (then a real lock the
scan missed may be taken over), and builds the report for a call racecheck
cannot make cooperative.
"""

from __future__ import annotations

import dis
import sys
import types
from typing import TYPE_CHECKING, Any

from . import raw
from .outcome import Verdict
from .threads import user_stack
from .waitfor import Blocked

if TYPE_CHECKING:
    from .execution import Execution


def stuck_frame(ex: Execution) -> Any:
    cur = ex.current
    return sys._current_frames().get(cur.ident) if cur is not None else None


#: Calls through which a thread waits for a lock (where a stall may be a real lock's).
_LOCK_CALLS = frozenset({"acquire", "__enter__", "acquire_lock", "_acquire_restore"})


def blocking_call(frame: Any) -> str:
    """The call the innermost user frame is blocked in, as the code spells it.

    The callee is the name chain that starts where the call expression starts
    (``os.read`` in ``n = os.read(fd, 1)``, ``self._target`` in
    ``self._target(*self._args)``); where the chain names a builtin function
    or method, its own name is added (``self._target() = socket.recv``).
    """
    while frame is not None and frame.f_code.co_filename.startswith(raw.OWN_DIRS):
        frame = frame.f_back
    if frame is None:
        return "?"
    instructions = [ins for ins in dis.get_instructions(frame.f_code)
                    if ins.offset <= frame.f_lasti]
    if not instructions:
        return "?"
    last = instructions[-1]
    if last.opname in ("BEFORE_WITH", "SETUP_WITH"):
        return "with-statement entry (__enter__)"
    start = _position(last)
    if start is None:  # 3.10: no column positions; keep to the instructions of the last line
        first_of_line = 0
        for i, ins in enumerate(instructions):
            if ins.starts_line is not None:
                first_of_line = i
        instructions = instructions[first_of_line:]
    chains: list[list[str]] = []
    for ins in instructions:
        if start is not None and _position(ins) != start:
            continue
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FAST", "LOAD_DEREF"):
            chains.append([str(ins.argval)])
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chains:
            chains[-1].append(str(ins.argval))
    if not chains:
        return "?"
    names = chains[-1] if start is not None else chains[0]
    text = ".".join(names) + "()"
    target = _resolve(frame, names)
    qual = getattr(target, "__qualname__", None)
    if isinstance(target, (types.BuiltinFunctionType, types.BuiltinMethodType)) and qual:
        module = getattr(target, "__module__", None)
        shown = f"{module}.{qual}" if module and "." not in qual else qual
        if shown.rsplit(".", 1)[-1] != names[-1] or len(names) == 1:
            text += f" = {shown}"
    return text


def _position(ins: dis.Instruction) -> tuple[int | None, int | None] | None:
    pos = getattr(ins, "positions", None)
    return (pos.lineno, pos.col_offset) if pos is not None and pos.lineno is not None else None


def _resolve(frame: Any, names: list[str]) -> Any:
    """The object a name chain denotes, without running properties or user code."""
    from .access import instance_attr

    head = names[0]
    for scope in (frame.f_locals, frame.f_globals, vars(__import__("builtins"))):
        if head in scope:
            obj = scope[head]
            break
    else:
        return None
    for name in names[1:]:
        obj = instance_attr(obj, name) if not isinstance(obj, types.ModuleType) \
            else vars(obj).get(name)
        if obj is None:
            return None
    return obj


def stalled_on_lock(ex: Execution) -> bool:
    """Whether the stuck thread waits in a lock acquisition (not in real I/O)."""
    frame = stuck_frame(ex)
    if frame is None:
        return False
    call = blocking_call(frame)
    return call.startswith("with-statement") or call.rstrip("()").rsplit(".", 1)[-1] in _LOCK_CALLS


def report_stuck(ex: Execution, watchdog: float) -> None:
    cur = ex.current
    frame = stuck_frame(ex)
    where = user_stack(frame)
    site = where[-1] if where else "an unknown place"
    call = blocking_call(frame)
    ex.blocked_report = [Blocked(cur.name if cur else "?", f"{call} at {site}",
                                 stack=tuple(where[-5:]), in_call=True)]
    ex.unseen = ex.verdict is None
    ex.fail(
        Verdict.HANG,
        f"thread {cur.name if cur else '?'} blocked in {call} for more than {watchdog:g}s at "
        f"{site}: a call racecheck cannot make cooperative (real I/O, a pipe, a subprocess, "
        "or a lock taken inside C code); if it is expected to return, raise watchdog=",
        thread=cur,
    )
