"""Selector waits made cooperative: event loops and process pools inside a schedule.

An asyncio loop in a managed thread asks its selector to wait ``timeout``
seconds, then reads the clock.  A real wait takes real time while the loop
reads the virtual clock, which does not move: the loop spun to the step limit
(issue 9).  Here a selector wait in a managed thread first polls without
waiting; if nothing is ready it blocks in the scheduler on an ``IOWait``: with
a timeout, a timed wait in virtual time (the clock jumps when nobody else can
run, as for ``time.sleep``); without one, a wait on the world outside, which
the scheduler waits for in real time when nothing else can run, up to the
watchdog (``Execution._wait_external``).  Another managed thread that makes
the selector ready (``call_soon_threadsafe`` writes the loop's self-pipe) is
seen at once, by polling before the scheduler declares anything.

``multiprocessing.connection.wait``, which a ``ProcessPoolExecutor``'s
manager thread waits in, goes through ``selectors`` too.
"""

from __future__ import annotations

import os as _os
import select as _select
import selectors
import socket as _socket
from collections.abc import Callable
from typing import Any

from .._core.threads import ManagedThread, Resource, current

_real_select = _select.select
_real_os_read = _os.read


def _defining_classes() -> tuple[type, ...]:
    """The classes that define ``select`` for this platform's selectors (patched there)."""
    found: list[type] = []
    for name in ("SelectSelector", "PollSelector", "EpollSelector", "DevpollSelector",
                 "KqueueSelector"):
        cls = getattr(selectors, name, None)
        if not isinstance(cls, type):
            continue
        owner = next(c for c in cls.__mro__ if "select" in c.__dict__)
        if owner not in found:
            found.append(owner)
    return tuple(found)


#: The selector classes whose ``select`` is patched during an exploration.
SELECTOR_CLASSES = _defining_classes()


class IOWait(Resource):
    """A managed thread waiting for a selector: ready when a poll without waiting says so."""

    external = True

    def __init__(self, label: str, ready: Callable[[], bool]) -> None:
        self.label = label
        self.ready = ready

    def describe(self) -> str:
        return self.label

    def poll(self) -> bool:
        try:
            return self.ready()
        except Exception:
            return True  # a closed selector: let its waiter see the error itself


def _cooperative_wait(mt: ManagedThread, poll: Callable[[], Any], ready: Callable[[Any], bool],
                      timeout: float | None, label: str, kind: type[IOWait] = IOWait) -> Any:
    """The one shape of every wait here: a point, a poll that does not wait, then a wait.

    ``poll()`` asks without waiting (run as racecheck's own work: no points);
    when ``ready`` says nothing is there and the timeout allows, the thread
    blocks in the scheduler on an ``IOWait`` and polls again when woken or
    timed out.  Returns the last poll.
    """
    ex = mt.ex
    mt.pending = None  # real I/O: opaque to a reduction
    ex.point(mt)

    def poll_now() -> Any:
        mt.busy += 1
        try:
            return poll()
        finally:
            mt.busy -= 1

    result = poll_now()
    if ready(result) or (timeout is not None and timeout <= 0):
        return result
    ex.block(mt, kind(label, lambda: ready(poll())),
             None if timeout is None else max(float(timeout), 0.0))
    return poll_now()


def cooperative_select(original: Callable[..., Any]) -> Callable[..., Any]:
    """A ``select`` method that waits in the scheduler when called from a managed thread."""

    def select(self: Any, timeout: float | None = None) -> Any:
        mt = current()
        if mt is None or mt.busy:
            return original(self, timeout)
        if mt.ex.over:
            return original(self, 0)  # unwinding: never wait for real
        return _cooperative_wait(mt, lambda: original(self, 0), bool, timeout,
                                 f"{type(self).__name__}.select(timeout={timeout!r})")

    select.__wrapped__ = original  # type: ignore[attr-defined]
    return select


# ------------------------------------------------------- blocking reads, made cooperative


def _wait_readable(fd: Any, timeout: float | None, label: str) -> bool:
    """In a managed thread: wait in the scheduler until ``fd`` is readable; False on timeout."""
    mt = current()
    assert mt is not None

    def readable() -> bool:
        r, _, x = _real_select([fd], [], [fd], 0)
        return bool(r or x)

    return bool(_cooperative_wait(mt, readable, bool, timeout, label))


def _managed_caller() -> bool:
    mt = current()
    return mt is not None and not mt.busy and not mt.ex.over


def select_select(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
    """``select.select`` that waits in the scheduler in a managed thread."""
    if not _managed_caller():
        return _real_select(rlist, wlist, xlist, timeout)
    mt = current()
    assert mt is not None
    return _cooperative_wait(mt, lambda: _real_select(rlist, wlist, xlist, 0), any, timeout,
                             f"select.select(timeout={timeout!r})")


def os_read(fd: int, n: int) -> bytes:
    """``os.read`` that waits in the scheduler for a pipe or socket in a managed thread."""
    if _managed_caller():
        try:
            blocking = _os.get_blocking(fd)
        except OSError:
            blocking = False
        if blocking:
            _wait_readable(fd, None, f"os.read({fd}, {n})")
    return _real_os_read(fd, n)


def _socket_reader(name: str) -> Callable[..., Any]:
    original = getattr(_socket.socket, name)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _managed_caller():
            timeout = self.gettimeout()
            waits = timeout is None or timeout > 0
            if waits and not _wait_readable(self, timeout, f"socket.{name}()"):
                raise TimeoutError("timed out")
        return original(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"socket.{name}"
    return method


#: socket methods that wait for the peer (made cooperative on ``socket.socket``).
SOCKET_READERS = ("recv", "recv_into", "recvfrom", "recvfrom_into", "accept")


def socket_patches() -> dict[str, Callable[..., Any]]:
    return {name: _socket_reader(name) for name in SOCKET_READERS}


# ------------------------------------------------------------- file locks, made cooperative

_fcntl: Any
try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - not POSIX
    _fcntl = None

_real_flock: Any = getattr(_fcntl, "flock", None)
_real_lockf: Any = getattr(_fcntl, "lockf", None)


def _file_lock(real: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fcntl.flock``/``lockf`` that waits in the scheduler while another holds the lock.

    A blocking request in a managed thread is tried without blocking
    (``LOCK_NB``); while the lock is held elsewhere (a managed thread the
    scheduler parked, or another process), the thread blocks in the scheduler
    and the lock is tried again when the scheduler polls.  Requests that do not
    wait (``LOCK_NB``, ``LOCK_UN``) are passed through.
    """
    assert _fcntl is not None
    nb, un = _fcntl.LOCK_NB, _fcntl.LOCK_UN

    def lock(fd: Any, operation: int, *args: Any) -> Any:
        if not _managed_caller() or operation & nb:
            return real(fd, operation, *args)
        mt = current()
        assert mt is not None
        if operation == un:
            result = real(fd, operation, *args)
            _wake_file_lock_waiters(mt)
            return result

        def attempt() -> bool:
            try:
                real(fd, operation | nb, *args)
            except (BlockingIOError, PermissionError):  # EWOULDBLOCK, or EACCES for lockf
                return False
            return True

        _cooperative_wait(mt, attempt, bool, None, f"fcntl.{name}({fd}, {operation})",
                          kind=FileLockWait)
        return None

    lock.__name__ = name
    lock.__qualname__ = f"fcntl.{name}"
    return lock


class FileLockWait(IOWait):
    """A managed thread waiting for a file lock (polled again when a managed thread unlocks)."""


def _wake_file_lock_waiters(mt: ManagedThread) -> None:
    """A managed thread unlocked a file: its waiters may run from the next point on.

    External waits are otherwise polled only when nothing else can run, so a
    waiter could never take the lock in the window between an unlock and what
    the unlocker does next (closing the file, flushing its buffer): the
    interleaving of a lost update through an unflushed write.
    """
    mt.busy += 1
    try:
        mt.ex.poll_blocked(FileLockWait)
    finally:
        mt.busy -= 1


def file_lock_patches() -> dict[str, tuple[Any, Callable[..., Any]]]:
    """name -> (real, cooperative) for the fcntl functions that wait for a file lock."""
    if _fcntl is None:
        return {}
    return {"flock": (_real_flock, _file_lock(_real_flock, "flock")),
            "lockf": (_real_lockf, _file_lock(_real_lockf, "lockf"))}
