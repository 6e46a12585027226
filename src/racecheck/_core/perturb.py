"""Real threads, seeded pauses: the ``perturb`` mode, for what the controller cannot see.

The controlled mode runs one thread at a time and treats a call into C as one
step, so it cannot interleave inside C code that releases the GIL (NumPy on
large arrays, hashing, compression, I/O), nor reproduce what real parallelism
does on a free-threaded CPython.  Here the threads run for real and
unordered, started together behind a barrier, with a short switch interval,
and each thread pauses now and then, at random but seeded: at the same
scheduling points the controlled mode uses (bytecode that touches shared
state, calls into C) and before every synchronisation operation.  A pause
moves a thread's next step past other threads' work, which is what makes a
rare window wide.  The idea is rr's chaos mode (O'Callahan et al., "Engineering
Record And Replay For Deployability", 2017) and the sleep injection of
pytest-run-parallel and Fray's random walk on real threads, with a schedule
of intensities rather than one rate: a race in a window of a few bytecodes
needs many short pauses, one behind a long computation needs a few long ones.
``LEVELS`` escalate every ``PER_LEVEL`` clean runs, and wrap round.

The verdicts are the controlled mode's, from what happened: an exception that
escaped a thread or a failed invariant is a ``violation``; threads that stop
making progress in a wait-for cycle (or all blocked, with no timed wait
pending) are a ``deadlock``, found from racecheck's own bookkeeping of the
locks and joins, within ``DEADLOCK_AFTER`` seconds rather than a join's
timeout; no progress for ``watchdog`` seconds is a ``hang``.  Locks made
during the run (and unlocked module-level locks of the bodies' modules) are
tracked: every ``threading`` primitive built on them (Condition, Event,
Semaphore, Barrier, ``queue.Queue``, thread pools) with them.

Each run happens in a forked child where the platform allows, like a
controlled schedule: a deadlocked child is simply left to ``os._exit``.
A run is identified by its injection seed and level, the token
``rcp1.<seed>.<level>``; the OS still decides the rest, so a replay re-runs
the token ``REPRODUCE`` times and says how often it failed the same way.
Sleeps are real and as long as asked: code that waits "long enough" for
another thread keeps the timing it was written for (shortening sleeps made
such tests fail, which would be racecheck's false alarm, not the test's).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidToken
from . import instrument, isolate, raw
from .outcome import Evidence, Failure, Result, ScheduleRun, Verdict
from .trace import Recorder, Trace
from .waitfor import Blocked, WaitEdge

#: (probability of a pause at a point, longest pause in seconds), escalating.
LEVELS = ((0.002, 20e-6), (0.01, 100e-6), (0.03, 500e-6), (0.1, 2e-3))
#: Clean runs at one level before the next (then round again).
PER_LEVEL = 4
#: A failure's token is re-run this many times to say how often it reproduces.
REPRODUCE = 10
#: Seconds threads may sit in a wait-for cycle (or all blocked) before it is a deadlock.
DEADLOCK_AFTER = 0.2
#: How often the runner looks at the threads.
POLL = 0.005
#: The switch interval while a run is on (CPython's default is 5 ms).
SWITCH_INTERVAL = 1e-5
TOKEN_PREFIX = "rcp1"
#: How runs of this mode are named in evidence and in ``Result.runs``.
NAME = "perturbed"
_WAIT_SLICE = 0.005


def level_of(index: int) -> int:
    """The injection level of run ``index``: escalate every PER_LEVEL clean runs."""
    return (index // PER_LEVEL) % len(LEVELS)


def run_seed(seed: int | None, index: int) -> int:
    return zlib.crc32(f"racecheck-perturb:{seed}:{index}".encode())


@dataclass(frozen=True)
class PerturbToken:
    """``rcp1.<seed>.<level>``: which pauses a run injected (data, parsed strictly)."""

    seed: int
    level: int

    def text(self) -> str:
        return f"{TOKEN_PREFIX}.{self.seed}.{self.level}"

    @classmethod
    def parse(cls, token: object) -> PerturbToken:
        parts = token.strip().split(".") if isinstance(token, str) else []
        if (len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit()
                or not parts[2].isdigit() or int(parts[2]) >= len(LEVELS)):
            shown = token if isinstance(token, str) and len(token) < 60 else type(token).__name__
            raise InvalidToken(f"{shown!r} is not a perturb token: expected "
                               f"'{TOKEN_PREFIX}.<seed>.<level 0-{len(LEVELS) - 1}>', copied "
                               "whole from a racecheck report")
        return cls(int(parts[1]), int(parts[2]))


def is_token(token: object) -> bool:
    return isinstance(token, str) and token.strip().startswith(TOKEN_PREFIX + ".")


class _Abort(BaseException):
    """Raised in a thread waiting on a tracked primitive once the run is over."""


@dataclass
class _Thread:
    """The recorder's view of a real thread (``Recorder`` keys on ``tid`` and ``name``)."""

    tid: int
    name: str


@dataclass
class _World:
    """One run's shared state: the pauses, the waits, what went wrong."""

    seed: int
    level: int
    runner: int
    recorder: Recorder | None = None
    probability: float = 0.0
    longest: float = 0.0
    aborted: bool = False
    #: Points reached and lock operations done, by all threads: progress.
    progress: int = 0
    pauses: int = 0
    #: ident -> (what it waits for: a tracked lock or a thread, since when, timed)
    waiting: dict[int, tuple[Any, float, bool]] = field(default_factory=dict)
    rngs: dict[int, random.Random] = field(default_factory=dict)
    views: dict[int, _Thread] = field(default_factory=dict)
    failure: tuple[str, BaseException, str] | None = None
    record_lock: Any = field(default_factory=raw.allocate_lock)
    #: idents of the run's live threads, as the watcher last saw them.
    live: frozenset[int] = frozenset()
    #: A timed wait that timed out while every other live thread was blocked too:
    #: the threads it waited among, as wait-for edges (a deadlock a timeout hid).
    hidden: list[WaitEdge] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.probability, self.longest = LEVELS[self.level]

    def _rng(self, ident: int) -> random.Random:
        rng = self.rngs.get(ident)
        if rng is None:
            # seeded by the thread's name: names are the same in every run (the
            # thread counter is reset), idents are not
            name = _name_of(ident)
            rng = self.rngs[ident] = random.Random(zlib.crc32(f"{self.seed}:{name}".encode()))
        return rng

    def point(self, frame: Any = None, offset: int = -1) -> None:
        """A thread reached a scheduling point: maybe pause it; record it when recording."""
        ident = raw.get_ident()
        if ident == self.runner:
            return
        self.progress += 1
        if self.recorder is not None and frame is not None:
            self._record(ident, frame, offset)
        rng = self._rng(ident)
        if rng.random() < self.probability:
            self.pauses += 1
            raw.real_sleep(rng.random() * self.longest)

    def _record(self, ident: int, frame: Any, offset: int) -> None:
        view = self.views.get(ident)
        if view is None:
            view = self.views[ident] = _Thread(len(self.views), _name_of(ident))
        with self.record_lock:
            assert self.recorder is not None
            self.recorder.step(view, frame, offset, None)  # type: ignore[arg-type]

    def timed_out(self, me: int, what: Any) -> None:
        """A timed wait of thread ``me`` on ``what`` expired: was it a deadlock it hid?"""
        if self.hidden:
            return
        waiting = dict(self.waiting)
        others = self.live - {me}
        if others and all(o in waiting for o in others):
            holder = _holder(what)
            edges = [WaitEdge(_name_of(me), _describe(what),
                              _name_of(holder) if holder is not None and holder != me else None,
                              timed_out=True)]
            edges += [WaitEdge(_name_of(o), _describe(waiting[o][0]),
                               _name_of(h) if (h := _holder(waiting[o][0])) not in (None, o)
                               else None) for o in sorted(others)]
            self.hidden = edges

    def thread_failed(self, name: str, exc: BaseException) -> None:
        if self.failure is None and not isinstance(exc, _Abort):
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.failure = (name, exc, text)


def _name_of(ident: int) -> str:
    thread = raw.active_threads.get(ident)
    return thread.name if thread is not None else f"thread-{ident}"


_world: _World | None = None


# ----------------------------------------------------------- tracked primitives


class _TrackedLock:
    """A real lock whose holder and waiters racecheck knows (the wait-for graph)."""

    def __init__(self) -> None:
        self._lock = raw.allocate_lock()
        self.owner: int | None = None
        self.made_at = _made_at()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        world = _world
        if world is not None:
            world.point()
        if self._lock.acquire(False):
            self.owner = raw.get_ident()
            return True
        if not blocking:
            return False
        if not _wait(self._lock, timeout, self):
            return False
        self.owner = raw.get_ident()
        return True

    def release(self) -> None:
        self.owner = None
        self._lock.release()
        world = _world
        if world is not None:
            world.progress += 1

    def locked(self) -> bool:
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._lock = raw.allocate_lock()
        self.owner = None

    def describe(self) -> str:
        return f"Lock made at {self.made_at}"


class _TrackedRLock(_TrackedLock):
    """Reentrant: the owner may take it again; Condition uses the save/restore trio."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.owner == raw.get_ident():
            self.count += 1
            return True
        if not super().acquire(blocking, timeout):
            return False
        self.count = 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        if self.owner != raw.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self.count -= 1
        if self.count == 0:
            super().release()

    def _is_owned(self) -> bool:
        return self.owner == raw.get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        state = (self.count, self.owner)
        self.count = 0
        super().release()
        return state

    def _acquire_restore(self, state: tuple[int, int | None]) -> None:
        super().acquire()
        self.count, self.owner = state

    def describe(self) -> str:
        return f"RLock made at {self.made_at}"


def _made_at() -> str:
    frame: Any = raw.getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(raw.OWN_DIRS):
        frame = frame.f_back
    while frame is not None and frame.f_code.co_filename == threading.__file__:
        frame = frame.f_back  # a Condition's or Event's own lock: where *that* was made
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"


def _wait(lock: Any, timeout: float, what: Any) -> bool:
    """Block on ``lock`` in slices, as a known waiter; raise _Abort once the run is over."""
    world = _world
    me = raw.get_ident()
    deadline = None if timeout is None or timeout < 0 else raw.real_monotonic() + timeout
    if world is not None:
        world.waiting[me] = (what, raw.real_monotonic(), deadline is not None)
    try:
        while True:
            left = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE,
                                                            deadline - raw.real_monotonic())
            if left <= 0:
                if world is not None:
                    world.timed_out(me, what)
                return False
            if lock.acquire(True, left):
                return True
            if world is not None and world.aborted:
                raise _Abort()
    finally:
        if world is not None:
            world.waiting.pop(me, None)


_real_join = threading.Thread.join


def _tracked_join(self: threading.Thread, timeout: float | None = None) -> None:
    world = _world
    if world is None or self.ident is None or raw.get_ident() == world.runner:
        _real_join(self, timeout)
        return
    world.point()
    me = raw.get_ident()
    deadline = None if timeout is None else raw.real_monotonic() + timeout
    world.waiting[me] = (self, raw.real_monotonic(), deadline is not None)
    try:
        while self.is_alive():
            left = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE,
                                                            deadline - raw.real_monotonic())
            if left <= 0:
                world.timed_out(me, self)
                return
            _real_join(self, left)
            if world.aborted and self.is_alive():
                raise _Abort()
    finally:
        world.waiting.pop(me, None)


class _Sleeping:
    """What a sleeping thread waits for (a timed wait of its own: never a deadlock)."""

    owner = None

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def describe(self) -> str:
        return f"time.sleep({self.seconds:g})"


def _sleep(seconds: float) -> None:
    world = _world
    if world is None:
        raw.real_sleep(seconds)
        return
    world.point()
    me = raw.get_ident()
    world.waiting[me] = (_Sleeping(seconds), raw.real_monotonic(), True)
    try:
        raw.real_sleep(seconds)
    finally:
        world.waiting.pop(me, None)


def _thread_excepthook(args: Any) -> None:
    world = _world
    if world is not None and args.exc_value is not None:
        world.thread_failed(getattr(args.thread, "name", "?"), args.exc_value)


# ---------------------------------------------------------------- injection


class _Injector:
    """Calls ``_world.point`` at the controlled mode's scheduling points of every thread."""

    def __init__(self) -> None:
        self.tool = -1
        self.codes: dict[int, Any] = {}

    def install(self) -> None:
        if hasattr(sys, "monitoring"):
            mon: Any = sys.monitoring
            tool = self.tool = instrument.claim_tool("racecheck-perturb")
            mon.register_callback(tool, mon.events.PY_START, self._on_start)
            mon.register_callback(tool, mon.events.PY_RESUME, self._on_start)
            mon.register_callback(tool, mon.events.INSTRUCTION, self._on_instruction)
            mon.restart_events()
            mon.set_events(tool, mon.events.PY_START | mon.events.PY_RESUME)
        else:
            threading.settrace(self._on_call)

    def uninstall(self) -> None:
        if self.tool >= 0:
            tool, self.tool = self.tool, -1
            instrument.release_tool(tool, self.codes.values(),
                                    ("PY_START", "PY_RESUME", "INSTRUCTION"))
            self.codes.clear()
        else:
            threading.settrace(None)  # type: ignore[arg-type,unused-ignore]

    def thread_started(self) -> None:
        if self.tool < 0:
            sys.settrace(self._on_call)

    # 3.12+: local INSTRUCTION events on the codes that have points
    def _on_start(self, code: Any, offset: int) -> Any:
        mon: Any = sys.monitoring  # type: ignore[attr-defined]
        if id(code) not in self.codes and instrument.analyse(code, raw.getframe(1).f_globals):
            self.codes[id(code)] = code
            mon.set_local_events(self.tool, code, mon.events.INSTRUCTION)
        return mon.DISABLE

    def _on_instruction(self, code: Any, offset: int) -> Any:
        if offset not in instrument.analyse(code, {}):
            return sys.monitoring.DISABLE  # type: ignore[attr-defined]
        world = _world
        if world is not None:
            world.point(raw.getframe(1), offset)
        return None

    # 3.10/3.11: opcode tracing
    def _on_call(self, frame: Any, event: str, arg: object) -> Any:
        if event != "call" or not instrument.analyse(frame.f_code, frame.f_globals):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self._on_opcode

    def _on_opcode(self, frame: Any, event: str, arg: object) -> Any:
        if event == "opcode" and frame.f_lasti in instrument.analyse(frame.f_code, {}):
            world = _world
            if world is not None:
                world.point(frame, frame.f_lasti)
        return self._on_opcode


_injector = _Injector()


@contextmanager
def _perturbed(world: _World, bodies: list[Callable[..., object]]) -> Iterator[None]:
    """Patch the primitives, turn the injection on; undo it all, whatever happens."""
    global _world
    import _thread

    saved: list[tuple[Any, str, Any]] = []

    def put(owner: Any, name: str, value: Any) -> None:
        """Set an attribute, or a key of a namespace dict, remembering the old value."""
        if isinstance(owner, dict):
            saved.append((owner, name, owner[name]))
            owner[name] = value
        else:
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    switch = sys.getswitchinterval()
    try:
        put(threading, "Lock", _TrackedLock)
        put(threading, "RLock", _TrackedRLock)
        put(threading, "_allocate_lock", _TrackedLock)
        put(threading.Thread, "join", _tracked_join)
        put(threading, "excepthook", _thread_excepthook)
        put(time, "sleep", _sleep)
        lock_type = type(_thread.allocate_lock())
        for module_globals in {id(g): g for g in (getattr(b, "__globals__", None)
                                                  for b in bodies) if g is not None}.values():
            for name, value in list(module_globals.items()):
                if type(value) is lock_type and not value.locked():
                    put(module_globals, name, _TrackedLock())
        _world = world
        sys.setswitchinterval(SWITCH_INTERVAL)
        _injector.install()
        yield
    finally:
        _injector.uninstall()
        sys.setswitchinterval(switch)
        _world = None
        for owner, name, value in reversed(saved):
            if isinstance(owner, dict):
                owner[name] = value
            else:
                setattr(owner, name, value)


# ---------------------------------------------------------------- one run


@dataclass
class RunOutcome:
    """What one real-threads run did (crosses from a child as data)."""

    verdict: str | None = None
    message: str = ""
    thread: str | None = None
    exception: BaseException | None = None
    traceback: str = ""
    cycle: list[WaitEdge] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    points: int = 0
    pauses: int = 0
    seconds: float = 0.0
    trace: Trace | None = None

    def as_run(self, index: int) -> ScheduleRun:
        """This run as ``Result.runs`` lists it: steps are points, choices are pauses."""
        return ScheduleRun(index, NAME, self.points, self.pauses, 0,
                           None if self.verdict is None else str(self.verdict),
                           round(self.seconds, 6))

    def to_data(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "message": self.message, "thread": self.thread,
                "exception": None if self.exception is None
                else isolate.encode_exception(self.exception),
                "traceback": self.traceback, "cycle": [e.to_data() for e in self.cycle],
                "blocked": [b.to_data() for b in self.blocked], "points": self.points,
                "pauses": self.pauses, "seconds": self.seconds,
                "trace": None if self.trace is None else self.trace.to_data()}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RunOutcome:
        return cls(data["verdict"], str(data["message"]), data["thread"],
                   None if data["exception"] is None
                   else isolate.decode_exception(data["exception"]),
                   str(data["traceback"]), [WaitEdge.from_data(e) for e in data["cycle"]],
                   [Blocked.from_data(b) for b in data["blocked"]], int(data["points"]),
                   int(data["pauses"]), float(data["seconds"]),
                   None if data["trace"] is None else Trace.from_data(data["trace"]))


def run_once(cfg: Any, seed: int, level: int, record: bool = False) -> RunOutcome:
    """Run the bodies once on real threads under the injection of (seed, level)."""
    recorder = Recorder() if record else None
    world = _World(seed, level, raw.get_ident(), recorder)
    saved_counter = getattr(threading, "_counter", None)
    threading._counter = _counter()  # type: ignore[attr-defined]  # the same names every run
    started = raw.real_perf_counter()
    state: Any = None
    out = RunOutcome()
    try:
        with _perturbed(world, list(cfg.threads)):
            # setup inside: the locks it makes are tracked ones
            state = cfg.setup() if cfg.setup is not None else None
            _run_bodies(cfg, world, state, out)
        if out.verdict is None and world.failure is not None:
            _failed(out, *world.failure)
        if out.verdict is None and cfg.invariant is not None:
            _invariant(cfg, state, out)
        if out.verdict == Verdict.VIOLATION and world.hidden:
            # the controlled mode's rule: a timeout that papered over a deadlock, and
            # the code failed after it, is a deadlock (runner.run_one)
            out.verdict = Verdict.DEADLOCK
            out.cycle = world.hidden
            out.message = ("a timed wait timed out while every other thread was blocked too "
                           "(a deadlock hidden by a timeout), then: " + out.message)
    finally:
        try:
            if cfg.teardown is not None:
                cfg.teardown(state) if cfg.setup is not None else cfg.teardown()
        finally:
            if saved_counter is not None:
                threading._counter = saved_counter  # type: ignore[attr-defined]
    out.points, out.pauses = world.progress, world.pauses
    out.seconds = raw.real_perf_counter() - started
    if recorder is not None:
        recorder.finish(out.thread if out.verdict == Verdict.VIOLATION else None)
        out.trace = recorder.trace
    return out


def _counter() -> Callable[[], int]:
    import itertools

    return itertools.count(1).__next__


def _run_bodies(cfg: Any, world: _World, state: Any, out: RunOutcome) -> None:
    gate = threading.Barrier(len(cfg.threads))  # built on tracked locks: fine
    threads = []
    for name, body in zip(cfg.names, cfg.threads, strict=True):
        def run(body: Callable[..., object] = body, name: str = name) -> None:
            _injector.thread_started()
            try:
                gate.wait()
                body(state) if cfg.setup is not None else body()
            except _Abort:
                pass
            except BaseException as exc:  # the body's failure is the verdict
                world.thread_failed(name, exc)

        # not daemons: the threads a body starts inherit it, and a Timer or worker
        # the test expects to be waited for must count as the run's
        threads.append(threading.Thread(target=run, name=name, daemon=False))
    before = {t.ident for t in threading.enumerate() if t.ident is not None}
    for t in threads:
        t.start()
    _watch(cfg, world, threads, out, before)


def _watch(cfg: Any, world: _World, bodies: list[threading.Thread], out: RunOutcome,
           before: set[int]) -> None:
    """Wait for the run to end; name a deadlock or a hang when it will not.

    The run is its bodies and the non-daemon threads they started (``before``:
    the threads that were already running, which are not the run's).
    """
    try:
        _watch_loop(cfg, world, bodies, out, before)
    finally:
        # the run is over (or interrupted): threads still waiting on a tracked lock
        # or a join unwind; a thread stuck in C stays a daemon of this process
        world.aborted = True
        for t in bodies:
            _real_join(t, 1.0)
        for t in threading.enumerate():
            if t.ident not in before and t.is_alive() and not t.daemon:
                # stuck in C past the end: it must not keep the interpreter from exiting
                t._daemonic = True  # type: ignore[attr-defined]


def _watch_loop(cfg: Any, world: _World, bodies: list[threading.Thread], out: RunOutcome,
                before: set[int]) -> None:
    last_progress, since = -1, raw.real_monotonic()
    stuck_since: float | None = None
    limit = max(60.0, 12 * cfg.watchdog)
    begun = raw.real_monotonic()
    while True:
        live = [t for t in threading.enumerate()
                if t.is_alive() and t.ident not in before
                and (t in bodies or not t.daemon)]
        world.live = frozenset(t.ident for t in live if t.ident is not None)
        if not live or world.failure is not None:
            break
        now = raw.real_monotonic()
        cycle = _cycle(world)
        # Every thread of the run, daemons included (a daemon worker still processing
        # will wake the others): all of them in untimed waits is a deadlock.  (The
        # waiting threads change the dict under us: one read per thread.)
        run = [t for t in threading.enumerate() if t.is_alive() and t.ident not in before]
        waits = [world.waiting.get(t.ident or -1) for t in run]
        all_blocked = all(w is not None and not w[2] for w in waits)
        timed_pending = any(w is not None and w[2] for w in waits)
        if cycle or all_blocked:
            stuck_since = stuck_since if stuck_since is not None else now
            if now - stuck_since >= DEADLOCK_AFTER:
                out.verdict = Verdict.DEADLOCK
                out.cycle = cycle
                out.blocked = [_blocked(world, t) for t in live if t.ident in world.waiting]
                out.message = (
                    "threads are blocked in a wait-for cycle: " + " -> ".join(map(str, cycle))
                    if cycle else "every live thread is blocked, and none holds what another "
                                  "waits for")
                break
        else:
            stuck_since = None
        if world.progress != last_progress or timed_pending:
            # a sleep or a timed wait will end by itself: not a hang
            last_progress, since = world.progress, now
        elif now - since > cfg.watchdog:
            out.verdict = Verdict.HANG
            out.message = (f"no thread made progress for {cfg.watchdog:g}s (blocked in a call "
                           "racecheck cannot see into, or waiting for the world)")
            out.blocked = [_blocked(world, t) for t in live]
            break
        if now - begun > limit:
            out.verdict = Verdict.HANG
            out.message = f"the threads were still running after {limit:g}s"
            break
        raw.real_sleep(POLL)


def _holder(what: Any) -> int | None:
    if isinstance(what, threading.Thread):
        return what.ident
    return getattr(what, "owner", None)


def _cycle(world: _World) -> list[WaitEdge]:
    """A cycle of threads each waiting (untimed) for what the next one holds, or []."""
    waiting = dict(world.waiting)  # the waiting threads change it under us
    edges: dict[int, int] = {}
    for ident, (what, _, timed) in waiting.items():
        holder = _holder(what)
        if not timed and holder is not None and holder != ident:
            edges[ident] = holder
    for start in edges:
        path, node = [start], edges.get(start)
        while node is not None and node not in path:
            path.append(node)
            node = edges.get(node)
        if node is not None:
            loop = path[path.index(node):]
            return [WaitEdge(_name_of(a), _describe(waiting[a][0]), _name_of(edges[a]))
                    for a in loop]
    return []


def _describe(what: Any) -> str:
    if isinstance(what, threading.Thread):
        return f"thread {what.name} to finish (join)"
    describe = getattr(what, "describe", None)
    return describe() if callable(describe) else type(what).__name__


def _blocked(world: _World, t: threading.Thread) -> Blocked:
    entry = world.waiting.get(t.ident or -1)
    holder = _holder(entry[0]) if entry is not None else None
    frame = sys._current_frames().get(t.ident or -1)
    stack: list[str] = []
    while frame is not None and len(stack) < 4:
        name = frame.f_code.co_filename
        if not name.startswith(raw.OWN_DIRS) and name != threading.__file__:
            stack.append(f"{name.rsplit('/', 1)[-1]}:{frame.f_lineno} in {frame.f_code.co_name}")
        frame = frame.f_back
    what = _describe(entry[0]) if entry is not None else "a call racecheck cannot see into"
    holders = (_name_of(holder),) if holder is not None and holder != t.ident else ()
    return Blocked(t.name, what, holders, "", (), tuple(reversed(stack)), entry is None)


def _failed(out: RunOutcome, name: str, exc: BaseException, text: str) -> None:
    out.verdict = Verdict.VIOLATION
    out.thread, out.exception, out.traceback = name, exc, text
    out.message = f"exception in thread {name}: {type(exc).__name__}: {exc}".rstrip(": ")


def _invariant(cfg: Any, state: Any, out: RunOutcome) -> None:
    try:
        ok = cfg.invariant(state) if cfg.setup is not None else cfg.invariant()
    except Exception as exc:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        out.verdict, out.exception, out.traceback = Verdict.VIOLATION, exc, text
        out.message = f"invariant raised {type(exc).__name__}: {exc}"
        return
    if ok is False or (ok is not None and ok is not True and not bool(ok)):
        out.verdict, out.message = Verdict.VIOLATION, "invariant returned False"


# ------------------------------------------------------------- exploration


def _run(cfg: Any, seed: int, level: int, fork: bool, record: bool = False) -> RunOutcome:
    if not fork:
        return run_once(cfg, seed, level, record)

    def body(send: isolate.Send) -> None:
        send({"outcome": run_once(cfg, seed, level, record).to_data()})

    limit = max(60.0, 12 * cfg.watchdog) + 10
    child = isolate.run_in_child(body, limit, after_outcome=1.0)
    data = child.first("outcome")
    if data is not None:
        return RunOutcome.from_data(data)
    error = child.first("error")
    if error is not None:
        raise isolate.decode_exception(error)
    if child.silent_for:
        return RunOutcome(Verdict.HANG, f"the run did not end within {child.silent_for:.0f}s; "
                          "racecheck stopped it")
    return RunOutcome(Verdict.CRASH, f"the interpreter crashed ({child.how_it_ended()})")


def explore(cfg: Any, seed: int, fork: bool, notes: list[str]) -> Result:
    """Run up to ``cfg.schedules`` perturbed runs; stop at the first failure."""
    start = raw.real_perf_counter()
    runs: list[ScheduleRun] = []
    failure: Failure | None = None
    for index in range(cfg.schedules):
        if index and cfg.time_budget is not None and \
                raw.real_perf_counter() - start > cfg.time_budget:
            notes.append(f"time budget of {cfg.time_budget:g}s reached")
            break
        rseed, level = run_seed(seed, index), level_of(index)
        out = _run(cfg, rseed, level, fork)
        runs.append(out.as_run(index))
        if cfg.progress is not None:
            cfg.progress(index + 1, cfg.schedules)
        if out.verdict is not None:
            failure = _failure(cfg, out, PerturbToken(rseed, level), index, fork)
            break
    return Result(ok=failure is None, schedules_run=len(runs),
                  elapsed=raw.real_perf_counter() - start, seed=seed, strategy=NAME,
                  failure=failure, evidence=evidence(len(runs)), notes=notes, runs=runs)


def replay(cfg: Any, token: str, fork: bool) -> Result:
    """Re-run a perturb token; fail when any of REPRODUCE runs fails."""
    start = raw.real_perf_counter()
    parsed = PerturbToken.parse(token)
    runs: list[ScheduleRun] = []
    for index in range(REPRODUCE):
        out = _run(cfg, parsed.seed, parsed.level, fork)
        runs.append(out.as_run(index))
        if out.verdict is not None:
            failure = _failure(cfg, out, parsed, index, fork, tried=index + 1)
            return Result(False, len(runs), raw.real_perf_counter() - start, None, NAME,
                          failure, evidence(len(runs)), runs=runs)
    return Result(True, len(runs), raw.real_perf_counter() - start, None, NAME,
                  evidence=evidence(len(runs)),
                  notes=[f"the perturb token {token} did not fail in {REPRODUCE} runs "
                         "(real threads: a replay reproduces a failure only now and then)"],
                  runs=runs)


def evidence(runs: int) -> Evidence:
    """"40 perturbed schedules": runs on real threads, never a proof of anything."""
    return Evidence(runs, ((NAME, runs, ""),))


def _failure(cfg: Any, out: RunOutcome, token: PerturbToken, index: int, fork: bool,
             tried: int = 0) -> Failure:
    """The failure of a run, with how often its token fails the same way, and a trace."""
    verdict = Verdict(out.verdict)
    same = 0
    recorded: RunOutcome | None = None
    for _ in range(REPRODUCE):
        again = _run(cfg, token.seed, token.level, fork, record=recorded is None)
        if again.verdict == out.verdict:
            same += 1
            if recorded is None and again.trace is not None:
                recorded = again
    failure = Failure(
        kind=verdict, message=out.message, token=token.text(), schedule_index=index,
        seed=token.seed, exception=out.exception, thread_name=out.thread,
        traceback_text=out.traceback, cycle=out.cycle, blocked=out.blocked,
        trace=recorded.trace if recorded is not None else None,
        replayed=verdict if recorded is not None else None,
        replay_message="" if recorded is not None else "no re-run failed the same way")
    where = f"run {index + 1}" if not tried else f"replay run {tried}"
    failure.notes.append(
        f"perturb mode: real threads with seeded pauses (level {token.level}: probability "
        f"{LEVELS[token.level][0]:g} per point, up to {LEVELS[token.level][1] * 1e6:g} us); "
        f"failed at {where}; the token reproduced it {same}/{REPRODUCE} times"
        + ("" if recorded is not None else "; no re-run reproduced it, so no interleaving "
           "is shown"))
    if recorded is not None:
        failure.notes.append("the interleaving is the one recorded in a re-run that failed "
                             "the same way; the OS, not racecheck, decided the order")
    return failure
