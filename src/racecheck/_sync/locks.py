"""Cooperative Lock and RLock: the only blocking primitives racecheck re-implements.

Every other primitive (Condition, Semaphore, Event, Barrier, queue.Queue,
Timer...) is CPython's own pure-Python code from ``threading`` and ``queue``,
which builds on ``Lock``/``RLock``/``_allocate_lock``: with these two patched,
they keep their exact semantics and their internals become explorable.

Each cooperative lock wraps a *real* lock, which stays the single source of
truth: a managed thread only ever tries it without blocking, and when that
fails it blocks in the scheduler instead of in C.  Threads racecheck does not
manage (the runner, a foreign thread) use the real lock directly, so a lock
made during an exploration keeps working after it, and a pre-existing lock
wrapped for the duration of an exploration stays one lock.
"""

from __future__ import annotations

import _thread
import collections
import queue
import sys
import threading
from typing import Any

from .._core import raw
from .._core.access import sync as sync_access
from .._core.effects import queue_items
from .._core.threads import ManagedThread, Resource, registry

# current(), without its call: a lock-heavy body takes a lock at every other point
_managed = registry.get
_get_ident = raw.get_ident

_RealRLock: Any = _thread.RLock


def _creation_site() -> str:
    """file:line of the user code that made a lock (skipping racecheck and threading)."""
    f: Any = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not (name.startswith(raw.OWN_DIRS) or name.endswith(("threading.py", "queue.py"))):
            return f"{name.rsplit('/', 1)[-1]}:{f.f_lineno}"
        f = f.f_back
    return "?"


_QUEUE_FILE = queue.__file__
_THREADING_FILE = threading.__file__


def _from_queue(frame: Any) -> Any:
    """``frame``, or the first frame above it past threading's and racecheck's own, if
    that is ``queue``'s code; else None.

    queue's methods (Queue.put, get, task_done, join...; SimpleQueue's) take
    their queue's locks and Conditions only inside themselves, and hold the
    lock for every access to the queue's state.  So their lock operations are
    no scheduling points while they succeed: a queue operation runs as one
    step (a point inside it, the lock held, could only let others run code
    that does not touch the queue, or block on its lock), and what the step
    did is the operation (``effects.queue_atom``).  An operation that must
    wait (a get on an empty queue, a join with tasks left) still blocks at a
    point, as any wait; code of the user's inside one (a subclass's ``_put``,
    a PriorityQueue item's ``__lt__``) keeps its own points.
    """
    while frame is not None:
        name = frame.f_code.co_filename
        if name == _QUEUE_FILE:
            return frame
        if name != _THREADING_FILE and not name.startswith(raw.OWN_DIRS):
            return None
        frame = frame.f_back
    return None


def _get_on_empty(mt: ManagedThread, frame: Any) -> None:
    """A get that takes its queue's lock finds what it will do: on an empty queue it
    only gets in line to wait (``effects``: "wait" commutes with more than "get")."""
    owner = frame.f_locals.get("self")
    items = queue_items(owner)
    if isinstance(items, (list, collections.deque)) and not items:
        mt.ex.requeue(mt, id(owner), "get", "wait")


def _owner_name(real: Any) -> str:
    """The name of the thread owning a real RLock (its repr says its ident); '' if unknown."""
    text = repr(real)
    marker = "owner="
    if marker not in text:
        return ""
    digits = text.split(marker, 1)[1].split()[0].rstrip(">")
    if not digits.isdigit() or digits == "0":
        return ""
    thread = raw.active_threads.get(int(digits))
    return f"thread {thread.name!r}" if thread is not None else f"OS thread {digits}"


def _check_args(blocking: object, timeout: float) -> None:
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")


def _note_held(mt: ManagedThread, lock: Resource) -> None:
    mt.held.append(lock)
    if mt.ex.locks_watched:
        mt.ex.emit("acquired", mt, lock)


def _note_released(mt: ManagedThread | None, lock: Resource) -> None:
    if mt is not None and lock in mt.held:
        mt.held.remove(lock)
        if mt.ex.locks_watched:
            mt.ex.emit("released", mt, lock)


class _CoopBase(Resource):
    _kind = "Lock"

    def __init__(self, real: Any, label: str | None) -> None:
        self._real = real
        self._owner: ManagedThread | None = None
        self._waiters: list[ManagedThread] = []
        self._label = label or f"{self._kind} made at {_creation_site()}"
        #: Made by queue's code (a Queue's mutex, the waiter lock of its Conditions):
        #: taken and released without a point from there (``_from_queue``).
        self._queue = _from_queue(sys._getframe(1)) is not None

    # Resource interface, for the scheduler's deadlock reports
    def holders(self) -> list[ManagedThread]:
        if self.parking:
            return []  # a Condition waiter: whoever notifies releases it, not its holder
        return [self._owner] if self._owner is not None else []

    def describe(self) -> str:
        return self._label

    def unowned(self) -> str:
        if self._owner is not None or self._free_for_others():
            return ""
        if self.parking:
            return "released by the thread that calls notify()"
        who = _owner_name(self._real)
        if who:
            return f"held by {who}, a thread racecheck does not manage"
        return ("held, but by no managed thread: it was taken before racecheck took the lock "
                "over, or by a thread racecheck does not manage")

    def poll(self) -> bool:
        return self._free_for_others()

    def _free_for_others(self) -> bool:
        return not self._real.locked()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        mt = _managed(_get_ident())
        if mt is None or mt.busy:
            return bool(self._real.acquire(blocking, timeout))
        if timeout != -1 or not blocking:
            _check_args(blocking, timeout)
        if mt.ex.over:
            return self._acquire_unwinding(mt, bool(blocking))
        if self._queue and (inside := _from_queue(sys._getframe(1))) is not None:
            if self._take(mt):  # free: no point inside a queue operation
                if inside.f_code.co_name == "get" and mt.ex.step_log is not None:
                    _get_on_empty(mt, inside)
                return True
            if not blocking:
                return False
            # it must wait: a point, then the wait, as for any lock
        return self._acquire_managed(mt, bool(blocking), timeout)

    def _take(self, mt: ManagedThread) -> bool:
        """Try the real lock without blocking; on success ``mt`` owns it."""
        if self._real.acquire(False):
            self._owner = mt
            _note_held(mt, self)
            return True
        return False

    def _acquire_managed(self, mt: ManagedThread, blocking: bool, timeout: float) -> bool:
        ex = mt.ex
        if ex.wants_accesses:
            mt.pending = sync_access(self._real, "acquire")
        ex.point(mt)
        if self._real.acquire(False):  # free: _take, inline (a lock-heavy body's common case)
            self._owner = mt
            mt.held.append(self)
            if ex.locks_watched:
                ex.emit("acquired", mt, self)
            return True
        deadline = None if timeout < 0 else ex.clock + timeout
        while True:
            if not blocking:
                if self._owner is mt:
                    ex.retag(mt, "acquire", "own")  # Condition._is_owned: nobody else can see
                return False
            remaining = None if deadline is None else deadline - ex.clock
            if remaining is not None and remaining <= 0:
                return False
            self._waiters.append(mt)
            try:
                woken = ex.block(mt, self, remaining)
            finally:
                if mt in self._waiters:
                    self._waiters.remove(mt)
            if not woken:
                return False
            if self._take(mt):
                return True

    def _acquire_unwinding(self, mt: ManagedThread, blocking: bool) -> bool:
        """Acquire in a thread unwinding from an ended schedule: never wait for real."""
        if self._take(mt):
            return True
        if not blocking:
            return False
        raise mt.ex.halt()

    def _wake_waiters(self) -> None:
        if self._waiters:
            owner_ex = self._waiters[0].ex
            for w in list(self._waiters):
                owner_ex.wake(w)

    def release(self) -> None:
        """A scheduling point, then the release (``_release``, the kind's own)."""
        mt = _managed(_get_ident())
        if mt is not None and not mt.busy:
            if mt.ex.over:
                if not self._held_by(mt):
                    # Unwinding from an ended schedule, this thread releases a lock it
                    # does not hold: Abort reached it while it waited to take the lock
                    # back (Condition.wait's _acquire_restore), and the ``with`` around
                    # it now exits.  Releasing would raise "release unlocked lock", or
                    # free another thread's lock.
                    return
            elif self._queue and _from_queue(sys._getframe(1)) is not None:
                if self.parking:
                    # a notify inside a queue operation wakes a waiter: the step it runs in
                    # is what the waiter's next step waited for (dpor's release->acquire)
                    mt.ex.note(mt, ["s", id(self._real), "release"])
            else:
                try:
                    if mt.ex.wants_accesses:
                        mt.pending = sync_access(self._real, "release")
                    mt.ex.point(mt)
                except BaseException:
                    # The schedule ended while this thread was parked here: release
                    # anyway, or a lock that outlives the run would stay locked.
                    if self._still_held():
                        self._release()
                    raise
        self._release()

    def _held_by(self, mt: ManagedThread) -> bool:
        """Whether ``mt`` holds the lock (Lock: its owner; RLock: the real lock's owner)."""
        raise NotImplementedError

    def _still_held(self) -> bool:
        """Whether the lock is still taken (to release it after an interrupted release)."""
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def _at_fork_reinit(self) -> None:
        self._real._at_fork_reinit()
        self._owner = None

    # ``with lock:`` calls acquire() itself: one frame less on every lock taken
    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()


class Lock(_CoopBase):
    """Drop-in for ``_thread.lock`` (``threading.Lock()`` / ``_thread.allocate_lock()``)."""

    _kind = "Lock"

    def __init__(self, real: Any = None, label: str | None = None) -> None:
        super().__init__(real if real is not None else raw.allocate_lock(), label)

    def _held_by(self, mt: ManagedThread) -> bool:
        return self._owner is mt

    def _still_held(self) -> bool:
        return bool(self._real.locked())

    def _release(self) -> None:
        self._real.release()  # RuntimeError("release unlocked lock") as the real one
        owner = self._owner
        if owner is not None and self in owner.held:  # _note_released, inline
            owner.held.remove(self)
            if owner.ex.locks_watched:
                owner.ex.emit("released", owner, self)
        self._owner = None
        if self._waiters:
            self._wake_waiters()

    def locked(self) -> bool:
        return bool(self._real.locked())

    def force_release(self) -> None:
        """Unlock after the schedule that held it ended (runner only)."""
        if self._real.locked():
            self._real.release()
        self._owner = None

    acquire_lock = _CoopBase.acquire
    release_lock = _CoopBase.release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<{state} racecheck Lock ({self._label}) at {id(self):#x}>"


class RLock(_CoopBase):
    """Drop-in for ``_thread.RLock``: reentrant, owned, with Condition's private hooks."""

    _kind = "RLock"

    def __init__(self, real: Any = None, label: str | None = None) -> None:
        super().__init__(real if real is not None else _RealRLock(), label)

    def _free_for_others(self) -> bool:
        # A real RLock has no public "locked()" before 3.14; its repr says.
        return repr(self._real).startswith("<unlocked")

    def _held_by(self, mt: ManagedThread) -> bool:
        return bool(self._real._is_owned())

    def _still_held(self) -> bool:
        return bool(self._real._is_owned())

    def _release(self) -> None:
        self._real.release()  # RuntimeError("cannot release un-acquired lock")
        if not self._real._is_owned():
            _note_released(self._owner, self)
            self._owner = None
            self._wake_waiters()

    def _is_owned(self) -> bool:
        return bool(self._real._is_owned())

    def force_release(self) -> None:
        """Unlock after the schedule that held it ended (runner only)."""
        while not self._free_for_others():
            try:
                self._real._release_save()
            except RuntimeError:
                break
        self._owner = None

    def _release_save(self) -> Any:
        state = self._real._release_save()
        _note_released(self._owner, self)
        self._owner = None
        self._wake_waiters()
        return state

    def _acquire_restore(self, state: Any) -> None:
        mt = _managed(_get_ident())
        if mt is None or mt.busy:
            self._real._acquire_restore(state)
            return
        if mt.ex.over:
            self._acquire_unwinding(mt, True)
            self._real.release()
            self._real._acquire_restore(state)
            return
        self._acquire_managed(mt, True, -1)
        self._real.release()
        self._real._acquire_restore(state)  # free now, and only we run: never blocks

    def _recursion_count(self) -> int:
        return int(self._real._recursion_count())

    def __repr__(self) -> str:
        return repr(self._real).replace("_thread.RLock", f"racecheck RLock ({self._label})")


_CONDITION_WAIT = (threading.Condition.wait.__code__,)


def allocate_lock() -> Lock:
    """Stands in for ``_thread.allocate_lock`` and ``threading.Lock``."""
    caller = sys._getframe(1)
    if caller.f_code in _CONDITION_WAIT:
        # The per-waiter lock of Condition.wait: its holder waits for a notify.
        cond = caller.f_locals.get("self")
        inner = getattr(cond, "_lock", None)
        whose = (f"the Condition over {inner._label}" if isinstance(inner, _CoopBase)
                 else "a Condition")
        waiter = Lock(label=f"notify on {whose}")
        waiter.parking = True
        return waiter
    return Lock()


def make_rlock(*args: object, **kwargs: object) -> RLock:
    """Stands in for ``threading.RLock`` / ``threading._CRLock``."""
    if args or kwargs:
        raise TypeError("RLock does not take arguments")
    return RLock()
