"""Managed threads: what each one is, how its OS thread starts and ends, what it waits on.

A managed thread is a real OS thread run by ``_bootstrap``: it registers
itself (``registry``, read by the instrumentation at every point), attaches
to its ``threading.Thread`` object so ``current_thread()``, ``ident`` and
``join`` behave, waits for the baton on its *gate*, runs its body, and hands
the baton on when it ends.  A ``Resource`` is anything a thread can block on
(a lock, a sleep, another thread to join); ``Execution`` in ``execution.py``
decides who runs.
"""

from __future__ import annotations

import _thread
import os
import sys
import traceback
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import raw

if TYPE_CHECKING:
    import threading

    from .access import Access
    from .execution import Execution
    from .spin import SpinProbe

RUNNABLE = 0
BLOCKED = 1
FINISHED = 2

#: ident -> ManagedThread, read by the instrumentation on every scheduling point.
registry: dict[int, ManagedThread] = {}

#: (runner thread ident, execution) while the runner runs a schedule's setup,
#: invariant or teardown: those read the schedule's virtual clock too.
runner_view: tuple[int, Execution] | None = None

#: True in the forked child that runs one schedule (see ``isolate.py``).
in_child = False


def _before_fork() -> None:
    """A managed thread forks: it runs the fork's hooks as racecheck's own work (``busy``).

    Other modules' at-fork hooks (logging's re-creates its locks in the child)
    run around ours; a scheduling point inside them would switch to threads the
    child does not have and park it forever.  Hooks registered later run first
    before a fork, and earlier in the child, so ``busy`` is set here, before any
    of them, and stays set in the child, which never schedules again.
    """
    mt = registry.get(raw.get_ident())
    if mt is not None:
        mt.busy += 1


def _after_fork_in_parent() -> None:
    mt = registry.get(raw.get_ident())
    if mt is not None:
        mt.busy -= 1


def _after_fork_in_child() -> None:
    """A process forked from a managed thread (a process pool's worker) runs unmanaged."""
    global runner_view
    registry.clear()
    runner_view = None
    if in_child:
        from .isolate import forked_from_child

        forked_from_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def current() -> ManagedThread | None:
    """The managed thread running this code, or None outside an exploration."""
    return registry.get(raw.get_ident())


class Abort(BaseException):
    """Unwinds a managed thread whose execution has ended (failure, deadlock, end of run).

    A BaseException so that ``except Exception`` in user code does not swallow it.
    Only used for schedules run in this process: in a schedule's forked child,
    threads are never unwound (``Execution.unwind``).
    """


class Resource:
    """Something a managed thread can block on; knows who holds it, for deadlock reports."""

    #: True for waits on the world outside (real I/O, another process): nobody in
    #: the schedule can end them, so the scheduler waits for them in real time.
    external = False
    #: True for a lock held only as a place to wait (Condition.wait's per-waiter
    #: lock): its holder is not blocking anyone, whoever notifies releases it.
    parking = False

    def holders(self) -> list[ManagedThread]:
        return []

    def describe(self) -> str:
        return type(self).__name__

    def poll(self) -> bool:
        """True when a blocked waiter should be woken after all (state changed outside our view)."""
        return False

    def unowned(self) -> str:
        """Why a held resource has no managed holder ('' when that needs no saying)."""
        return ""


class Sleep(Resource):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def describe(self) -> str:
        return f"time.sleep({self.seconds:g})"


class ManagedThread(Resource):
    """A thread under racecheck's control; also a resource for those joining it."""

    def __init__(
        self,
        ex: Execution,
        tid: int,
        name: str,
        body: Callable[[], object],
        daemon: bool,
        thread_obj: threading.Thread | None,
    ) -> None:
        self.ex = ex
        self.tid = tid
        self.name = name
        self.body = body
        self.daemon = daemon
        self.thread_obj = thread_obj
        self.gate = raw.allocate_lock()
        self.gate.acquire()
        self.ready = raw.allocate_lock()
        self.ready.acquire()
        self.ended = raw.allocate_lock()
        self.ended.acquire()
        self.status = RUNNABLE
        self.waiting_on: Resource | None = None
        self.deadline: float | None = None
        self.timed_out = False
        self.busy = 0
        self.ident = 0
        self.joiners: list[ManagedThread] = []
        self.held: list[Resource] = []  # locks it holds, for deadlock reports
        self.unwinding = False  # Abort raised once after the schedule ended
        self.protected = False  # parked at a with-exit call: not unwound there
        self.streak = 0  # points run in a row (spin detection, _core/spin.py)
        self.own_seconds = 0.0  # racecheck's own code run by it (timed schedules only)
        self.yielded = False  # gave way: left out of choices while others can run
        self.probe: SpinProbe | None = None
        #: What it will touch when it runs next (only when the strategy wants accesses).
        self.pending: Access | None = None
        # Step logging for partial-order reduction (Execution.step_log): where the
        # point is, the effect of the step that starts there, its index in the log.
        self.at: tuple[Any, int] | None = None
        self.effect: list[Any] = []
        #: [frame, offset, value] of the load at its previous point (effects.at_code_point).
        self.loaded: list[Any] = [None, -1, None]
        self.log_at = -1
        self.first_log = -1

    def holders(self) -> list[ManagedThread]:
        return [] if self.status == FINISHED else [self]

    def describe(self) -> str:
        return f"thread {self.name} to finish (join)"

    def __repr__(self) -> str:
        return f"<ManagedThread {self.tid} {self.name}>"



def exception_text(exc: BaseException) -> str:
    """``str(exc)``, also for an exception whose ``__str__`` itself raises."""
    try:
        return str(exc)
    except Exception as inner:
        return f"<str() of the exception raised {type(inner).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """``Type: message``, also for an exception whose ``__str__`` itself raises."""
    text = exception_text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _returned_a_coroutine(ex: Execution, mt: ManagedThread) -> None:
    """A thread body that returned a coroutine ran nothing: a usage error, never a pass."""
    from ..errors import InvalidArgument
    from .outcome import Signal

    error = InvalidArgument(
        f"the body of thread {mt.name} returned a coroutine, so it ran nothing; racecheck "
        "explores threads: run the coroutine in the body, e.g. lambda: asyncio.run(fn())")
    ex.fail(Signal.ERROR, str(error), exc=error)


def _park_forever() -> None:
    never = raw.allocate_lock()
    never.acquire()
    never.acquire()  # nobody releases it: the thread waits here until its process exits


def _tid(t: ManagedThread) -> int:
    return t.tid


def _held_by(t: ManagedThread) -> list[Resource]:
    return list(t.held)


def _release(lock: Any) -> None:
    try:
        lock.release()
    except RuntimeError:
        pass


def user_stack(frame: Any) -> list[str]:
    """file:line and source of each frame outside racecheck, innermost last."""
    lines: list[str] = []
    for fs in traceback.extract_stack(frame) if frame is not None else []:
        if fs.filename.startswith(raw.OWN_DIRS):
            continue
        lines.append(f"{_short_path(fs.filename)}:{fs.lineno} in {fs.name}: {fs.line or ''}".rstrip())
    return lines


def _short_path(path: str) -> str:
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _bootstrap(mt: ManagedThread) -> None:
    """The first frame of every managed OS thread."""
    from . import instrument

    ex = mt.ex
    mt.ident = raw.get_ident()
    registry[mt.ident] = mt
    tobj = mt.thread_obj
    if tobj is not None:
        _attach(tobj, mt)
    mt.busy += 1
    instrument.thread_started()
    if ex.timing:
        sys.setprofile(ex.own_profiler(mt))
    mt.ready.release()
    mt.gate.acquire()
    if ex.step_log is not None and not ex.over:
        ex.log_start(mt)
    mt.busy -= 1
    try:
        try:
            if not ex.over:
                returned = mt.body()
                if isinstance(returned, types.CoroutineType):  # no stdlib Python code: no point
                    returned.close()
                    _returned_a_coroutine(ex, mt)
        finally:
            # Before the exception (and the frames its traceback holds) is released:
            # finalizers and weakref callbacks (ThreadPoolExecutor's weakref_cb) run
            # then, and must not reach a scheduling point that raises Abort in them.
            mt.busy += 1
    except Abort:
        pass
    except SystemExit:
        pass  # like threading: SystemExit ends the thread quietly
    except BaseException as exc:
        if not ex.over:
            ex.thread_raised(mt, exc)
    finally:
        if tobj is not None and not ex.over:
            _as_thread_delete(mt)
        instrument.thread_finished()
        try:
            ex.thread_finished(mt)
        finally:
            if tobj is not None:
                detach(tobj)
            registry.pop(mt.ident, None)
            mt.ended.release()


def _as_thread_delete(mt: ManagedThread) -> None:
    """What ``Thread._delete`` does at a thread's end that code can see: it calls
    ``threading.get_ident()``.  pebble's ``waitforthreads`` replaces that function
    with one that sets an Event, to learn that some thread ended; a managed thread
    leaves ``_active`` without it (``detach``), so its waiter waited forever.

    The replacement is user code: it runs as the thread's last step, its locks
    cooperative (not busy), and whatever it raises, an ended schedule's Abort
    included, does not keep the thread from finishing."""
    import threading as _threading

    hook = _threading.get_ident
    if hook is _thread.get_ident or hook is raw.get_ident:
        return
    busy, mt.busy = mt.busy, 0
    try:
        hook()
    except BaseException:  # the thread is ending regardless, as in CPython's _delete
        pass
    finally:
        mt.busy = busy


def _attach(tobj: threading.Thread, mt: ManagedThread) -> None:
    import threading as _threading

    t: Any = tobj
    t._ident = mt.ident
    t._native_id = _threading.get_native_id()
    with raw.active_limbo_lock:
        raw.active_threads[mt.ident] = tobj
    t._started._flag = True  # Event internals: set without taking its (possibly patched) lock
    make_handle = getattr(_thread, "_make_thread_handle", None)
    if make_handle is not None and hasattr(t, "_handle"):  # 3.13+: a handle for this OS thread
        t._handle = make_handle(mt.ident)


def detach(tobj: threading.Thread) -> None:
    t: Any = tobj
    with raw.active_limbo_lock:
        raw.active_threads.pop(t._ident, None)
    if hasattr(t, "_handle"):  # 3.13+: join()/is_alive() read the handle after we restore
        t._handle._set_done()
    else:
        t._is_stopped = True
        t._tstate_lock = None
