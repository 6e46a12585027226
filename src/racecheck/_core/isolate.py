"""Every schedule in a forked child: what a schedule does stays in that child.

An ended schedule must be invisible to the code under test (issue 10): no
handler of the code under test (an ``except BaseException`` in a pool worker,
a logging call, an actor registry's cleanup) may act on racecheck stopping
its threads, and no schedule may see what the previous one left behind
(module-level counters, caches, registries).  Python offers no way to stop a
thread without running its handlers, so racecheck stops nothing the user can
observe: each schedule runs in a child made with ``fork`` from the runner,
which reports the outcome as data over a pipe and leaves with ``os._exit``.
The parent's state is never touched by a schedule, so schedule ``i`` always
starts from the same state, and the report's replay reruns exactly the
failing run.  Once a schedule has ended, the child's standard output and
error are closed, so nothing its unwinding threads print is seen.

What crosses the pipe is JSON: verdicts, choices, the trace as data, and an
exception as (type, args, attributes, formatted traceback), rebuilt in the
parent without unpickling anything.  A child that dies without an outcome is
a ``crash`` (racy C code can kill the interpreter); its schedule is then run
once more with every choice streamed unbuffered to a scratch file, so the
crash gets a replay token.

``fork`` is only used where it is safe and meaningful: on POSIX, and when no
other thread is running in the process (a server thread started by a
session fixture would be missing in the child).  Otherwise schedules run in
the process, as ``isolate=False`` asks, and the result says why.
"""

from __future__ import annotations

import builtins
import importlib
import json
import mmap
import os
import select
import signal
import struct
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from . import raw
from .events import Observer

Message = dict[str, Any]
Send = Callable[[Message], None]


class ChoiceLog(Observer):
    """Unbuffered log of schedule starts and choices, readable after a crash."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def schedule(self, index: int) -> None:
        os.write(self.fd, f"\nS{index}:".encode())

    def choice(self, current: int, chosen: int) -> None:
        os.write(self.fd, f"{chosen},".encode())


def fork_unavailable(*, insist: bool = False) -> str:
    """Why schedules cannot run in forked children here ('' when they can).

    Other running threads keep schedules in this process, since a child would
    not have them (a server thread started by a session fixture), unless
    ``insist`` (``isolate=True``) or they are known to be left behind: threads
    racecheck abandoned, and threads a test's plain run left running.
    """
    if not hasattr(os, "fork"):
        return "os.fork is not available on this platform"
    if insist:
        return ""
    me = threading.current_thread()
    others = [t.name for t in threading.enumerate() if t is not me and _alive(t)
              and t.ident not in _LEFT_BEHIND]
    if not others:
        _let_leftovers_settle()
    if others:
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        return (f"other threads were running in this process ({shown}); a forked child "
                "would not have them")
    return ""


#: idents of threads racecheck gave up on (stuck in C), or that a test's plain run
#: left running; they do not count as "other threads".
_LEFT_BEHIND: set[int] = set()


#: Calls a parked thread waits in (the innermost frame's call, or its function's name).
_WAITING = frozenset({"sleep", "wait", "acquire", "get", "select", "poll", "join", "recv",
                      "recv_into", "accept", "read", "readline", "wait_for", "_wait_for_tstate_lock",
                      "__enter__"})


def _alive(thread: threading.Thread) -> bool:
    try:
        return thread.is_alive()
    except Exception:  # a Thread object some code left half-stopped
        return False


#: Seconds a thread left running by a plain run may take to settle into a wait.
SETTLE = 2.0


def _let_leftovers_settle() -> None:
    """Wait (briefly) until the threads left behind are parked in a wait.

    One that is busy at the fork (writing to a buffered stream, logging) may hold
    a lock of the interpreter's that the child then waits for forever (pykka's
    logging tests).  Running the schedules in this process instead was worse:
    there racecheck must unwind threads, and libraries that catch
    BaseException act on it (the same suite then hung).  A thread still busy
    after SETTLE seconds is forked past; the watchdog bounds what may follow.
    """

    deadline = raw.real_monotonic() + SETTLE
    while raw.real_monotonic() < deadline:
        busy = [t for t in threading.enumerate() if t.ident in _LEFT_BEHIND and _alive(t)
                and not _waiting(t)]
        if not busy:
            return
        raw.real_sleep(0.01)


def _waiting(thread: threading.Thread) -> bool:
    """Whether a thread is parked in a wait (safe to fork past), judged from its frames."""
    import sys

    from .watchdog import blocking_call

    frame = sys._current_frames().get(thread.ident or 0)
    if frame is None:
        return True  # finished meanwhile
    call = blocking_call(frame).split(" = ")[0].rstrip("()").rsplit(".", 1)[-1]
    return call in _WAITING or frame.f_code.co_name in _WAITING


def leave_behind(threads: Iterable[threading.Thread]) -> None:
    """Threads no schedule depends on (a plain run's leftovers): fork anyway."""
    _LEFT_BEHIND.update(t.ident for t in threads if t.ident is not None)


def abandoned(ident: int) -> None:
    """A managed thread racecheck gave up on (stuck in C): later schedules fork anyway."""
    _LEFT_BEHIND.add(ident)


# ------------------------------------------------------------------- running


class ChildResult:
    """What the parent saw of one child: its messages and how it ended."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 0
        self.silent_for = 0.0  # > 0: killed after this many seconds without a message
        self.phase = ""

    def first(self, key: str) -> Any:
        for m in self.messages:
            if key in m:
                return m[key]
        return None

    def how_it_ended(self) -> str:
        if os.WIFSIGNALED(self.status):
            return f"killed by {signal.Signals(os.WTERMSIG(self.status)).name}"
        return f"exited with status {os.WEXITSTATUS(self.status)}"


def run_in_child(body: Callable[[Send], None], silence_limit: float,
                 after_outcome: float | None = None) -> ChildResult:
    """Run ``body(send)`` in a forked child; collect what it sends until it exits.

    A child that sends nothing for ``silence_limit`` seconds is killed (its
    runner is stuck outside any managed thread: setup, teardown, an
    invariant); once it sent its outcome, ``after_outcome`` seconds (its
    teardown may wait for threads racecheck parked for good).  The child must never return into the caller's stack: it
    leaves with ``os._exit`` whatever happens.
    """
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns that forking a multi-threaded process may deadlock the child;
        # we fork only when no other thread runs (fork_unavailable).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        code = 0
        try:
            os.close(read_end)
            _in_child(write_end)
            body(_sender(write_end))
        except BaseException as exc:
            try:
                _sender(write_end)({"error": encode_exception(exc)})
            except BaseException:
                code = 3
        finally:
            os._exit(code)
    result = ChildResult()
    try:
        os.close(write_end)
        _collect(read_end, pid, result, silence_limit, after_outcome or silence_limit)
    except BaseException:
        _kill(pid)  # Ctrl-C, or an error of ours: no child outlives the exploration
        raise
    finally:
        os.close(read_end)
        _, result.status = os.waitpid(pid, 0)
        _kill_group(pid)  # what the schedule started and left (a Manager's server process)
    return result


#: In a schedule's child: the write end of the pipe to the parent.
_pipe_fd: int | None = None
#: In a worker of a Pool: its pipe to the exploring process, which the
#: schedules' children it forks must not hold open.
_worker_fd: int | None = None
#: In a worker of a Pool: the pipe whose byte is the claim lock (Pool.claims).
_worker_token: tuple[int, ...] = ()


def _in_child(pipe_fd: int) -> None:
    import faulthandler

    from . import threads

    global _pipe_fd, _worker_fd, _worker_token
    for fd in (*((_worker_fd,) if _worker_fd is not None else ()), *_worker_token):
        try:
            os.close(fd)
        except OSError:
            pass
    _worker_fd, _worker_token = None, ()
    _pipe_fd = pipe_fd
    try:
        os.setpgid(0, 0)  # its own process group: whatever it leaves is killed with it
    except OSError:
        pass
    faulthandler.disable()  # a crash is reported by the parent; no stack dump noise
    threads.in_child = True


def forked_from_child() -> None:
    """In a process a schedule forked (a process pool's worker, a Manager's server).

    It must not hold the pipe to the parent open: the parent reads until the
    pipe closes, and a Manager's server process outlives the schedule (its
    shutdown runs at exit, which a child skips), so every schedule waited for
    the silence limit.
    """
    global _pipe_fd
    if _pipe_fd is not None:
        try:
            os.close(_pipe_fd)
        except OSError:
            pass
        _pipe_fd = None


class Pool:
    """Worker processes forked from the exploring process, each running ``work``.

    ``work(claim, send)`` runs in each worker: ``claim()`` hands it the next
    key no worker has taken yet (``first``, then one more each call, across
    all workers), and ``send`` its messages, which carry an ``"index"``.
    Keys are claimed, not dealt out in turn, so a worker that gets less CPU
    (the one beside the exploring process, which books the outcomes) takes
    fewer of them instead of holding the others back.  :meth:`result` hands
    the message for a key to the caller, whichever worker sent it and in
    whatever order they arrived.  Each worker has its own process group and
    CPU (``cpus``: the CPUs to spread over, the first one the exploring
    process's own), and is stopped with SIGTERM, then SIGKILL, by
    :meth:`stop`: the schedule child it is waiting for is killed with it
    (``run_in_child`` kills its child on any exception, the SIGTERM handler's
    SystemExit included).
    """

    def __init__(self, jobs: int, work: Callable[[Callable[[], int], Send], None],
                 cpus: list[int] | None = None, first: int = 0) -> None:
        self.pids: list[int] = []
        self.fds: list[int] = []
        self.closed: set[int] = set()  # workers whose pipe reached its end
        self.buffer: dict[int, Message] = {}
        self.pending: list[bytes] = []
        # Shared with the workers (an anonymous mmap is MAP_SHARED across fork):
        # the next key to claim, then each worker's last claimed key.  A one-byte
        # token in a pipe is the lock around a claim.
        self.claims = mmap.mmap(-1, 8 * (jobs + 1))
        struct.pack_into(f"{jobs + 1}q", self.claims, 0, first, *([-1] * jobs))
        self.token: tuple[int, ...] = os.pipe()
        os.write(self.token[1], b".")
        try:
            for number in range(jobs):
                self._start(number, work, cpus)
        except BaseException:
            self.stop()
            raise
        self.pending = [b""] * len(self.fds)

    def _start(self, number: int, work: Callable[[Callable[[], int], Send], None],
               cpus: list[int] | None) -> None:
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see run_in_child
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker, reported through the pipe
            global _worker_fd, _worker_token
            try:
                os.close(read_end)
                for fd in self.fds:  # the earlier workers' read ends
                    os.close(fd)
                _worker_fd = write_end
                _worker_token = self.token
                os.setpgid(0, 0)
                if cpus:
                    os.sched_setaffinity(0, {cpus[number % len(cpus)]})
                signal.signal(signal.SIGTERM, _stop_worker)
                work(_claimer(number, self.claims, self.token), _sender(write_end))
            finally:
                os._exit(0)
        os.close(write_end)
        self.pids.append(pid)
        self.fds.append(read_end)

    def claimed(self, number: int) -> int:
        """The last key worker ``number`` claimed (-1: none yet)."""
        return int(struct.unpack_from("q", self.claims, 8 * (number + 1))[0])

    def result(self, index: int, silence_limit: float) -> Message | None:
        """The message about ``index``; None when the worker that claimed it ended
        without sending it, when every worker ended, or when none sent anything
        for ``silence_limit`` seconds."""
        last = raw.real_monotonic()
        while index not in self.buffer:
            # A closed worker's pipe was read to its end: all it sent is buffered.
            if len(self.closed) == len(self.fds) or any(
                    self.claimed(n) == index for n in self.closed):
                return None
            open_fds = [fd for n, fd in enumerate(self.fds) if n not in self.closed]
            ready, _, _ = select.select(open_fds, [], [], 0.05)
            for fd in ready:
                n = self.fds.index(fd)
                chunk = os.read(fd, 1 << 16)
                last = raw.real_monotonic()
                if not chunk:
                    self.closed.add(n)
                    continue
                *lines, self.pending[n] = (self.pending[n] + chunk).split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    self.buffer[int(message["index"])] = message
            if raw.real_monotonic() - last > silence_limit:
                return None
        return self.buffer.pop(index)

    def stop(self) -> None:
        """Stop every worker and what it runs; reap them."""
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = raw.real_monotonic() + 2.0
        waiting = list(self.pids)
        while waiting and raw.real_monotonic() < deadline:
            for pid in list(waiting):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    waiting.remove(pid)
            if waiting:
                raw.real_sleep(0.01)
        for pid in waiting:
            _kill(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for pid in self.pids:
            _kill_group(pid)
        for fd in (*self.fds, *self.token):
            try:
                os.close(fd)
            except OSError:
                pass
        self.pids, self.fds, self.token = [], [], ()
        self.claims.close()


def _claimer(number: int, claims: mmap.mmap, token: tuple[int, ...]) -> Callable[[], int]:
    """A worker's ``claim()``: the next key, taken under the pipe token."""

    def claim() -> int:  # pragma: no cover - in a worker
        os.read(token[0], 1)  # blocks while another worker claims
        try:
            key = struct.unpack_from("q", claims, 0)[0]
            struct.pack_into("q", claims, 0, key + 1)
            struct.pack_into("q", claims, 8 * (number + 1), key)
        finally:
            os.write(token[1], b".")
        return int(key)

    return claim


def _stop_worker(signum: int, frame: object) -> None:  # pragma: no cover - in a worker
    raise SystemExit(0)


def _sender(fd: int) -> Send:
    def send(message: Message) -> None:
        data = (json.dumps(message, default=repr) + "\n").encode()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    return send


def _collect(fd: int, pid: int, result: ChildResult, limit: float, after: float) -> None:
    buffer = b""
    last = raw.real_monotonic()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        now = raw.real_monotonic()
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "phase" in message:
                    result.phase = message["phase"]
                else:
                    result.messages.append(message)
                    if "outcome" in message:
                        limit = min(limit, after)
            last = now
        elif now - last > limit:
            result.silent_for = now - last
            _kill(pid)
            return


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_group(pid: int) -> None:
    """Kill what is left of a schedule child's process group (it made its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def silence_output() -> None:
    """In a child whose schedule ended: nothing printed from now on is seen."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the child


# ---------------------------------------------------------------- exceptions


_SCALARS = (int, float, str, bool, type(None))


def encode_exception(exc: BaseException) -> Message:
    """An exception as data: enough to rebuild an object of the same type."""
    from .threads import exception_text

    kind = type(exc)
    return {
        "type_id": id(kind),
        "module": kind.__module__,
        "qualname": kind.__qualname__,
        "args": [a if isinstance(a, _SCALARS) else repr(a) for a in exc.args],
        "attrs": {k: v for k, v in vars(exc).items()
                  if isinstance(k, str) and isinstance(v, _SCALARS)} if hasattr(exc, "__dict__")
        else {},
        "text": exception_text(exc),
        "traceback": "".join(traceback.format_exception(kind, exc, exc.__traceback__)),
    }


def _same_class(type_id: object, qualname: str) -> type | None:
    """The exception class a forked child named by id (it shares our addresses).

    Found by walking the subclasses of BaseException, so an id only ever
    selects a live class object; classes made inside the child are not found.
    Needed where ``__module__`` lies (pytest's ``Skipped`` says "builtins").
    """
    if not isinstance(type_id, int):
        return None
    todo: list[type] = [BaseException]
    seen: set[int] = set()
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        if id(cls) == type_id and cls.__qualname__ == qualname:
            return cls
        todo.extend(cls.__subclasses__())
    return None


class ChildException(Exception):
    """Stands in for an exception from a schedule whose type cannot be rebuilt here."""


def decode_exception(data: Message) -> BaseException:
    """Rebuild an exception from :func:`encode_exception` data (no unpickling)."""
    args = tuple(data.get("args") or ())
    try:
        obj: Any = _same_class(data.get("type_id"), str(data["qualname"]))
        if obj is None:
            module = importlib.import_module(str(data["module"])) if data["module"] != "builtins" \
                else builtins
            obj = module
            for part in str(data["qualname"]).split("."):
                obj = getattr(obj, part)
        if not (isinstance(obj, type) and issubclass(obj, BaseException)):
            raise TypeError(obj)
        exc: BaseException = obj.__new__(obj, *args)
        exc.args = args
        attrs = data.get("attrs") or {}
        if attrs and hasattr(exc, "__dict__"):
            exc.__dict__.update(attrs)
    except Exception:
        exc = ChildException(f"{data.get('qualname')}: {data.get('text')}")
    return exc
