"""Thread start/join/is_alive and ``_thread.start_new_thread`` for managed threads.

Rather than replacing ``threading.Thread`` (subclasses defined at import time
would keep the real base), racecheck patches three methods on the real class
for the duration of an exploration.  Each checks whether the caller (or the
target) is managed and otherwise defers to the original, so threads that
racecheck does not manage are unaffected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._core import raw, threads
from .._core.access import Access
from .._core.threads import FINISHED, ManagedThread, current

orig_start = threading.Thread.start
orig_join = threading.Thread.join
orig_is_alive = threading.Thread.is_alive

_ATTR = "_racecheck_managed"


def managed_of(t: threading.Thread) -> ManagedThread | None:
    mt: ManagedThread | None = getattr(t, _ATTR, None)
    return mt


def start(self: threading.Thread) -> None:
    mt = current()
    if mt is None or mt.busy:
        orig_start(self)
        return
    if mt.ex.over:
        raise mt.ex.halt()  # no new threads once the schedule has ended
    t: Any = self
    if not t._initialized:
        raise RuntimeError("thread.__init__() not called")
    if t._started.is_set() or managed_of(self) is not None:
        raise RuntimeError("threads can only be started once")
    if mt.ex.wants_accesses:
        mt.pending = Access("sync", None, f"T{len(mt.ex.threads)}", "start")
    mt.ex.point(mt)
    mt.busy += 1
    try:
        new = mt.ex.spawn(self.run, self.name, daemon=self.daemon, thread_obj=self)
    finally:
        mt.busy -= 1
    setattr(self, _ATTR, new)


def join(self: threading.Thread, timeout: float | None = None) -> None:
    target = managed_of(self)
    mt = current()
    if target is None or mt is None or mt.busy:
        orig_join(self, timeout)
        return
    if mt.ex.over:
        return  # the schedule has ended: nothing left to wait for
    if target is mt:
        raise RuntimeError("cannot join current thread")
    if mt.ex.wants_accesses:
        mt.pending = Access("sync", None, f"T{target.tid}", "join")
    mt.ex.point(mt)
    if target.status == FINISHED or target.ex is not mt.ex:
        return
    if timeout is not None:
        timeout = max(timeout, 0.0)
    target.joiners.append(mt)
    if not mt.ex.block(mt, target, timeout) and mt in target.joiners:
        target.joiners.remove(mt)


def is_alive(self: threading.Thread) -> bool:
    target = managed_of(self)
    if target is None:
        mt = current()
        if mt is not None and threads.in_child and self.ident is not None:
            from .._core import isolate

            if self.ident in isolate._LEFT_BEHIND:
                # A thread the test's plain run left running (pebble's pool loop):
                # it was alive when this schedule's process forked and does not
                # exist here.  Whatever the schedule concludes rests on it.
                mt.ex.missing_thread = mt.ex.missing_thread or self.name
        return bool(orig_is_alive(self))
    return target.status != FINISHED and target.ex is getattr(current(), "ex", target.ex)


def start_new_thread(
    function: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> int:
    """Stands in for ``_thread.start_new_thread`` (and ``_thread.start_new``)."""
    mt = current()
    if mt is not None and not mt.busy and mt.ex.over:
        raise mt.ex.halt()
    if mt is None or mt.busy:
        if kwargs is None:
            return int(raw.start_new_thread(function, args))
        return int(raw.start_new_thread(function, args, kwargs))
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    kw = kwargs or {}
    if mt.ex.wants_accesses:
        mt.pending = Access("sync", None, f"T{len(mt.ex.threads)}", "start")
    mt.ex.point(mt)
    mt.busy += 1
    try:
        new = mt.ex.spawn(lambda: function(*args, **kw), f"_thread-{len(mt.ex.threads)}")
    finally:
        mt.busy -= 1
    return new.ident


class _InStartOrder(set):  # type: ignore[type-arg]
    """A set of threads that iterates in the order they were started (managed ids)."""

    def __iter__(self) -> Any:
        items = list(set.__iter__(self))
        return iter(sorted(items, key=_start_order))


def _start_order(t: object) -> int:
    mt = getattr(t, _ATTR, None)
    return mt.tid if mt is not None else -1


def ordered_shutdown(original: Callable[..., Any]) -> Callable[..., Any]:
    """``ThreadPoolExecutor.shutdown`` joining its workers in the order they started.

    The executor keeps its workers in a set, and a set of Thread objects
    iterates in address order, which differs from one process to the next:
    the joins, and every choice after them, came out in another order on
    replay ("replaying this schedule gave diverged", issue 10; found by tracing
    two runs of the seed's pool example until they parted at thread.py's
    ``for t in self._threads: t.join()``).
    """

    def shutdown(self: Any, wait: bool = True, **kwargs: Any) -> Any:
        threads = getattr(self, "_threads", None)
        if current() is None or type(threads) is not set:
            return original(self, wait, **kwargs)
        self._threads = _InStartOrder(threads)
        try:
            return original(self, wait, **kwargs)
        finally:
            if isinstance(self._threads, _InStartOrder):
                self._threads = set(self._threads)

    return shutdown


#: Executors made outside the exploration that a schedule gave workers of its own:
#: id -> (executor, its threads, work queue and idle semaphore before).
_ADOPTED: dict[int, tuple[Any, tuple[Any, Any, Any]]] = {}


def adopting_submit(original: Callable[..., Any]) -> Callable[..., Any]:
    """``ThreadPoolExecutor.submit`` that gives an executor made before the
    exploration workers of the schedule's own.

    A module-level executor (asgiref's ``SyncToAsync.single_thread_executor``,
    a library's shared pool) has workers started before the schedule, on a
    work queue made before racecheck's patches: in a forked child those
    workers do not exist (the executor, counting them, starts no other, and
    the task never runs: a false deadlock), and in the exploring process they
    are real threads the schedule cannot see (a managed thread waiting for
    their result looked deadlocked).  Before the first submit of a schedule,
    such an executor gets a fresh work queue, idle semaphore and set of
    workers, so the workers it starts are managed; the old ones stay parked
    on the old queue, and ``restore_adopted`` puts everything back after the
    exploration.
    """

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        mt = current()
        if mt is not None and not mt.busy and not mt.ex.over:
            _adopt(self, mt)
        return original(self, fn, *args, **kwargs)

    submit.__name__ = "submit"
    submit.__qualname__ = getattr(original, "__qualname__", "submit")
    return submit


def _adopt(executor: Any, mt: ManagedThread) -> None:
    import queue

    ex = mt.ex
    pool_threads = getattr(executor, "_threads", None)
    if type(pool_threads) is not set or getattr(executor, "_racecheck_schedule", None) is ex:
        return
    workers = [managed_of(t) for t in pool_threads]
    foreign = any(w is None or w.ex is not ex for w in workers)
    made_outside = not pool_threads and not isinstance(
        getattr(executor, "_work_queue", None), queue._PySimpleQueue)  # type: ignore[attr-defined]
    if not (foreign or made_outside):
        return  # made in this schedule: its workers are managed already
    mt.busy += 1
    try:
        if id(executor) not in _ADOPTED:
            _ADOPTED[id(executor)] = (executor, (pool_threads, executor._work_queue,
                                                 executor._idle_semaphore))
        executor._threads = set()
        executor._work_queue = queue.SimpleQueue()  # racecheck's, under the patches
        executor._idle_semaphore = threading.Semaphore(0)
        executor._racecheck_schedule = ex
    finally:
        mt.busy -= 1


def restore_adopted() -> None:
    """Give the executors ``adopting_submit`` took over their own workers back."""
    while _ADOPTED:
        _, (executor, (threads, work_queue, idle)) = _ADOPTED.popitem()
        executor._threads, executor._work_queue, executor._idle_semaphore = (
            threads, work_queue, idle)
        try:
            del executor._racecheck_schedule
        except AttributeError:
            pass


def unmanaged(original: Callable[..., Any]) -> Callable[..., Any]:
    """A call that runs on real time in a managed thread (no points, real sleeps).

    ``subprocess.Popen.wait(timeout=5)`` polls the child with ``time.sleep``
    and ``time.monotonic``: on the virtual clock its timeout would expire
    before the real process had run at all.  The call keeps the baton while it
    waits (other managed threads are parked); the watchdog bounds it.
    """

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        mt = current()
        if mt is None or mt.busy:
            return original(self, *args, **kwargs)
        mt.pending = None  # real time, real effects: opaque to a reduction
        mt.ex.point(mt)
        mt.busy += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            mt.busy -= 1

    call.__name__ = getattr(original, "__name__", "call")
    call.__qualname__ = getattr(original, "__qualname__", "call")
    return call
