"""Bad input and hostile-but-legal code: a clear error or the right verdict, and nothing leaks.

Every case below ends, within seconds, either with a racecheck error (or the
user's own exception) whose message names what is wrong, or with the verdict
the code deserves: ``result.ok`` for correct code, the right ``failure.kind``
and a message naming the cause for broken code.  Every case runs through
``test_hostile``, whose fixture ``interpreter_left_as_it_was`` checks afterwards
that racecheck put the interpreter back: its patches, the trace and profile
functions, the sys.monitoring tool ids (3.12+), cyclic GC, the SIGINT handler,
and no thread left running.  A case that shows a racecheck bug keeps asserting
the right behaviour and is marked ``xfail(strict=True)`` with the cause.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import racecheck
from racecheck._core.patching import snapshot
from racecheck._core.schedule import Schedule
from racecheck.errors import (
    InternalError,
    InvalidArgument,
    InvalidToken,
    NestedExploration,
    ReplayDiverged,
    UsageError,
)
from racecheck.strategies import Strategy

T0 = time.monotonic()  # read at import, compared inside managed threads

# --------------------------------------------------------------------- the fixture


def _interpreter_state() -> dict[str, object]:
    state: dict[str, object] = dict(snapshot())
    state["sys.gettrace"] = sys.gettrace()
    state["sys.getprofile"] = sys.getprofile()
    state["threading.gettrace"] = threading.gettrace()
    state["threading.getprofile"] = threading.getprofile()
    state["gc.isenabled"] = gc.isenabled()
    state["recursionlimit"] = sys.getrecursionlimit()
    state["switchinterval"] = sys.getswitchinterval()
    state["SIGINT"] = signal.getsignal(signal.SIGINT)
    state["Lock type"] = type(threading.Lock()).__module__
    if hasattr(os, "sched_getaffinity"):
        state["affinity"] = os.sched_getaffinity(0)
    if hasattr(sys, "monitoring"):
        mon: Any = sys.monitoring
        state["monitoring tools"] = [mon.get_tool(i) for i in range(6)]
    return state


def _settle(limit: int) -> int:
    """threading.active_count(), after giving finishing threads a moment to end."""
    for _ in range(100):
        if threading.active_count() <= limit:
            break
        time.sleep(0.02)
    return threading.active_count()


@pytest.fixture
def interpreter_left_as_it_was(request: pytest.FixtureRequest) -> Any:
    case: Case = request.node.callspec.params["case"]
    before = _interpreter_state()
    threads_before = threading.active_count()
    yield
    after = _interpreter_state()
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not changed, f"racecheck left the interpreter changed: {changed}"
    if hasattr(sys, "monitoring"):
        mon: Any = sys.monitoring
        assert "racecheck" not in [mon.get_tool(i) for i in range(6)]
    limit = threads_before + case.abandons
    assert _settle(limit) <= limit, (
        f"threads left running: {[t.name for t in threading.enumerate()]}")


# ----------------------------------------------------------------- helpers


class Box:
    """Fresh shared state for each schedule."""

    def __init__(self) -> None:
        self.flag = False
        self.n = 0
        self.items: list[object] = []
        self.lock = threading.Lock()
        self.lock2 = threading.Lock()


def failure_of(result: racecheck.Result, kind: str) -> racecheck.Failure:
    assert not result.ok, f"expected a {kind}, but every schedule passed"
    failure = result.failure
    assert failure is not None
    assert failure.kind == kind, f"expected {kind}, got {failure.kind}: {failure.message}"
    return failure


def passes(result: racecheck.Result) -> None:
    assert result.ok, str(result.failure)


class SetupBoom(Exception):
    pass


class TeardownBoom(Exception):
    pass


# ------------------------------------------------------------------- the cases


@dataclass
class Case:
    name: str
    run: Callable[[], None]
    abandons: int = 0  # threads this case deliberately leaves behind
    xfail: str | None = None


CASES: list[Case] = []


def case(name: str | None = None, *, abandons: int = 0,
         xfail: str | None = None) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        CASES.append(Case(name or fn.__name__, fn, abandons, xfail))
        return fn
    return register


# --- virtual time against readings taken outside the schedule


@case()
def reading_the_clock_around_sleeps_adds_no_time() -> None:
    # dogpile.cache times every use of a cache (10 threads x 100 uses, several clock
    # reads each) and asserts the run's length.  Clock reads take virtual time so
    # that a loop spinning on the clock ends; between sleeps they are no spin, and
    # thousands of them made the run 3x longer than its sleeps (a false violation).
    class Waits:
        def __init__(self) -> None:
            self.waits: list[float] = []

    def timed_sleeps(s: Waits) -> None:
        for _ in range(1500):
            start = time.monotonic()
            time.sleep(0.001)
            s.waits.append(time.monotonic() - start)

    passes(racecheck.explore([timed_sleeps, timed_sleeps], setup=Waits,
                             invariant=lambda s: max(s.waits) < 0.0011, schedules=2, seed=5))


@case()
def setup_timestamp_vs_time_time() -> None:
    class Stamp:
        def __init__(self) -> None:
            self.t0 = time.time()
            self.later: list[float] = []

    def body(s: Stamp) -> None:
        now = time.time()
        assert now >= s.t0, f"time went backwards: {now} < {s.t0}"
        s.later.append(now)

    passes(racecheck.explore([body, body], setup=Stamp,
                             invariant=lambda s: all(t >= s.t0 for t in s.later),
                             schedules=20, seed=1))


@case()
def module_level_monotonic_compared_in_threads() -> None:
    def body(s: object) -> None:
        now = time.monotonic()
        assert now >= T0, f"monotonic() ran behind a reading taken at import: {now} < {T0}"

    passes(racecheck.explore([body, body], setup=object, schedules=20, seed=2))


# --- a Snowflake ID generator


class Snowflake:
    """Twitter-style IDs: millisecond timestamp, worker, sequence within the millisecond."""

    def __init__(self, worker: int = 1, lock: bool = False) -> None:
        self.worker = worker
        self.last_ms = int(time.time() * 1000)
        self.seq = 0
        self.lock = threading.Lock() if lock else None

    def __iter__(self) -> Snowflake:
        return self

    def _next(self) -> int | None:
        now = int(time.time() * 1000)
        if now < self.last_ms:
            return None  # the clock went backwards: refuse rather than repeat an ID
        if now == self.last_ms:
            self.seq = (self.seq + 1) & 0xFFF
        else:
            self.seq = 0
        self.last_ms = now
        return (now << 22) | (self.worker << 12) | self.seq

    def __next__(self) -> int | None:
        if self.lock is None:
            return self._next()
        with self.lock:
            return self._next()


class IdState:
    def __init__(self, lock: bool) -> None:
        self.gen = Snowflake(lock=lock)
        self.ids: list[int | None] = []


def take_ids(s: IdState) -> None:
    for _ in range(2):
        s.ids.append(next(s.gen))


def unique_ids(s: IdState) -> bool:
    ids = [i for i in s.ids if i is not None]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate IDs {dupes}"
    return True


@case()
def snowflake_without_lock_gives_duplicate_ids() -> None:
    result = racecheck.explore([take_ids] * 4, setup=lambda: IdState(lock=False),
                               invariant=unique_ids, schedules=50, seed=3)
    failure = failure_of(result, "violation")
    assert "invariant raised AssertionError: duplicate IDs" in failure.message


@case()
def snowflake_with_lock_passes() -> None:
    def never_none(s: IdState) -> bool:
        return unique_ids(s) and None not in s.ids and len(s.ids) == 8

    passes(racecheck.explore([take_ids] * 4, setup=lambda: IdState(lock=True),
                             invariant=never_none, schedules=30, seed=3))


# --- spin loops


def spin_consumer(s: Box) -> None:
    while not s.flag:
        pass
    s.items.append("seen")


def yielding_consumer(s: Box) -> None:
    while not s.flag:
        time.sleep(0)
    s.items.append("seen")


def producer(s: Box) -> None:
    s.n = 42
    s.flag = True


def _spin_case(consumer: Callable[[Box], None], strategy: str) -> Callable[[], None]:
    def run() -> None:
        passes(racecheck.explore([consumer, producer], setup=Box,
                                 invariant=lambda s: s.items == ["seen"] and s.n == 42,
                                 schedules=15, seed=4, strategy=strategy))
    return run


for _strategy in ("random", "pct", "portfolio", "auto"):
    CASES.append(Case(f"spin_wait_with_producer_{_strategy}",
                      _spin_case(spin_consumer, _strategy)))
    CASES.append(Case(f"spin_wait_sleep0_with_producer_{_strategy}",
                      _spin_case(yielding_consumer, _strategy)))


@case()
def lone_spin_nobody_can_end_is_a_hang() -> None:
    result = racecheck.explore([spin_consumer], setup=Box, schedules=5, seed=5)
    failure = failure_of(result, "hang")
    assert "thread T1 spins" in failure.message and "no other thread can run" in failure.message
    assert "test_hostile.py" in failure.message


@case()
def a_long_loop_past_max_steps_is_not_explorable_not_a_hang() -> None:
    def busy(s: Box) -> None:
        for i in range(100_000):
            s.n = i

    with pytest.raises(racecheck.NotExplorable) as info:
        racecheck.explore([busy, busy], setup=Box, schedules=5, seed=5, max_steps=500)
    assert "too long to explore" in info.value.reason
    assert info.value.schedules_run == 0
    assert "did not end within 500 scheduling points" in str(info.value)
    assert "still making progress" in str(info.value) and "max_steps=" in str(info.value)


@case()
def a_stopwatch_stress_loop_ends_in_virtual_time() -> None:
    """readerwriterlock's stress test: hammer a lock until a stopwatch says 30 seconds.
    Clock readings take longer and longer (sync/vtime.py), so the loop ends."""
    def hammer(s: Box) -> None:
        start = time.time()
        while time.time() - start < 30:
            with s.lock:
                s.n += 1

    passes(racecheck.explore([hammer, hammer], setup=Box, schedules=5, seed=5))


@case()
def two_threads_backing_off_forever_are_a_livelock() -> None:
    """Each takes its lock, tries the other's, backs off, forever: nothing changes."""
    def polite(mine: str, theirs: str) -> Callable[[Box], None]:
        def body(s: Box) -> None:
            while True:
                with getattr(s, mine):
                    if getattr(s, theirs).acquire(blocking=False):
                        getattr(s, theirs).release()
        return body

    result = racecheck.explore([polite("lock", "lock2"), polite("lock2", "lock")],
                               setup=Box, schedules=3, seed=5, max_steps=30_000)
    failure = failure_of(result, "hang")
    assert "livelock" in failure.message and "returning to states" in failure.message


class Runtime:
    """pykka's conftest: a sleep function captured in a configuration object."""

    def __init__(self) -> None:
        self.sleep_func = time.sleep


RUNTIME = Runtime()


@case()
def a_sleep_function_captured_in_an_object_sleeps_in_virtual_time() -> None:
    """A real ``time.sleep`` kept on an object slept for real while holding the baton:
    the other thread could not run meanwhile, and a timeout raced that cannot."""
    def body() -> None:
        answered = threading.Event()

        def actor() -> None:
            RUNTIME.sleep_func(0.01)
            answered.set()

        t = threading.Thread(target=actor)
        t.start()
        assert not answered.wait(timeout=0)  # the actor needs 10 ms: never done at once
        t.join()

    passes(racecheck.check(body, schedules=30, seed=5))
    assert RUNTIME.sleep_func is time.sleep  # put back afterwards


def _in_and_out(path: str, take: Callable[[str, Any], None]) -> Callable[[], None]:
    """Two threads log "in" then "out" under ``take(name, file)``; the log must not mix."""
    def body() -> None:
        log: list[str] = []

        def worker(name: str) -> None:
            with open(path, "a") as f:
                take(name, f)
                log.append(name + " in")
                log.append(name + " out")

        ts = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert log in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])

    return body


@case()
def threads_taking_a_file_lock_in_turn_wait_in_the_scheduler() -> None:
    """fcntl.flock blocks in C; two open files of one path exclude each other even in one
    process.  Parked holders must not leave the other thread blocked for real."""
    import fcntl
    import tempfile

    path = tempfile.mktemp(prefix="racecheck-flock-")
    try:
        body = _in_and_out(path, lambda name, f: fcntl.flock(f, fcntl.LOCK_EX))
        passes(racecheck.check(body, schedules=40, seed=3, watchdog=2))
    finally:
        os.unlink(path)
    assert fcntl.flock.__module__ == "fcntl"  # put back


@case()
def a_file_lock_race_is_found() -> None:
    """Only one of the two takes the (lockf) lock: the race is found, nothing hangs."""
    import fcntl
    import tempfile

    def take(name: str, f: Any) -> None:
        if name == "a":
            fcntl.lockf(f, fcntl.LOCK_EX)

    path = tempfile.mktemp(prefix="racecheck-flock-")
    try:
        failure_of(racecheck.explore([_in_and_out(path, take)], schedules=100, seed=3,
                                     watchdog=2), "violation")
    finally:
        os.unlink(path)


def _ledger(path: str, flush: bool) -> Callable[[], None]:
    """Two threads add one to a number in a file under flock; ``flush`` before unlocking."""
    import fcntl

    def add_one() -> None:
        with open(path, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            value = int(f.read())
            f.seek(0)
            f.write(str(value + 1))
            if flush:
                f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)

    def body() -> None:
        with open(path, "w") as f:
            f.write("0")
        ts = [threading.Thread(target=add_one) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        with open(path) as f:
            assert f.read() == "2"

    return body


@case()
def unlocking_a_file_before_flushing_it_loses_an_update() -> None:
    """The write sits in the file object's buffer until ``with`` closes the file, after the
    unlock: the other thread, waiting for the lock, reads the old number.  Its wait is for
    the world outside, so it used to be polled only when nothing else could run, never in
    that one-instruction window (found in 20-250 schedules; now in under 10)."""
    import tempfile

    path = tempfile.mktemp(prefix="racecheck-ledger-")
    try:
        failure_of(racecheck.explore([_ledger(path, flush=False)], schedules=15, seed=1,
                                     watchdog=2), "violation")
        passes(racecheck.check(_ledger(path, flush=True), schedules=100, seed=1, watchdog=2))
    finally:
        os.unlink(path)


# --- asyncio, processes, subprocesses


async def short_nap() -> int:
    await asyncio.sleep(0.01)
    return 7


@case()
def asyncio_run_in_two_threads() -> None:
    def body(s: Box) -> None:
        s.items.append(asyncio.run(short_nap()))

    passes(racecheck.explore([body, body], setup=Box, invariant=lambda s: s.items == [7, 7],
                             schedules=10, seed=6, watchdog=5))


@case()
def asyncio_run_in_the_checked_functions_own_thread() -> None:
    def main() -> None:
        box = Box()
        t = threading.Thread(target=producer, args=(box,))
        t.start()
        t.join()
        assert asyncio.run(short_nap()) == 7
        assert box.flag

    racecheck.check(main, schedules=10, seed=7, watchdog=5)


def square(x: int) -> int:
    return x * x


@case()
def process_pool_inside_check() -> None:
    def main() -> None:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
            assert pool.submit(square, 7).result() == 49

    racecheck.check(main, schedules=5, seed=8, watchdog=10)


@case()
def subprocess_run_true_in_a_thread() -> None:
    def body(s: Box) -> None:
        s.n = subprocess.run(["true"], check=False).returncode + 1

    passes(racecheck.explore([body, producer], setup=Box, invariant=lambda s: s.n in (1, 42),
                             schedules=5, seed=9, watchdog=5))


@case()
def subprocess_run_sleep_with_timeout_in_a_thread() -> None:
    def body(s: Box) -> None:
        s.items.append(subprocess.run(["sleep", "0.2"], timeout=5, check=False).returncode)

    passes(racecheck.explore([body], setup=Box, invariant=lambda s: s.items == [0],
                             schedules=3, seed=9, watchdog=5))


# --- real I/O nobody completes: hang verdicts naming the call


@case()
def os_read_of_a_pipe_nobody_writes_is_a_hang() -> None:
    r, w = os.pipe()
    try:
        def reader(s: object) -> None:
            os.read(r, 1)

        result = racecheck.explore([reader], setup=object, schedules=1, seed=10, watchdog=0.5)
    finally:
        os.write(w, b"x")  # frees a reader left blocked, if any
        os.close(r)
        os.close(w)
    failure = failure_of(result, "hang")
    assert "os.read" in failure.message
    assert "test_hostile.py" in failure.message


@case()
def socket_recv_nobody_answers_is_a_hang() -> None:
    a, b = socket.socketpair()
    try:
        def receiver(s: object) -> None:
            a.recv(1)

        result = racecheck.explore([receiver], setup=object, schedules=1, seed=11,
                                   watchdog=0.5)
    finally:
        b.send(b"x")
        a.close()
        b.close()
    failure = failure_of(result, "hang")
    assert "socket.recv" in failure.message


@case()
def socketpair_between_two_threads() -> None:
    class Pair:
        def __init__(self) -> None:
            self.a, self.b = socket.socketpair()
            self.got = b""

    def sender(p: Pair) -> None:
        p.a.sendall(b"hello")

    def receiver(p: Pair) -> None:
        data = b""
        while len(data) < 5:
            chunk = p.b.recv(5 - len(data))
            if not chunk:
                break
            data += chunk
        p.got = data

    def close(p: Pair) -> None:
        p.a.close()
        p.b.close()

    passes(racecheck.explore([receiver, sender], setup=Pair, invariant=lambda p: p.got == b"hello",
                             teardown=close, schedules=15, seed=12, watchdog=2))


@case()
def ping_pong_on_a_socketpair_with_timed_recvs_on_either_side() -> None:
    # Found on boltons' test_socketutils_netstring_timeout: both threads block in
    # recv(), one with a timeout, while the other's data is already in its socket.
    # The ready one must run; firing the timed one's timeout was a false deadlock.
    class Pair:
        def __init__(self) -> None:
            self.a, self.b = socket.socketpair()
            self.got: list[bytes] = []

    def close(p: Pair) -> None:
        p.a.close()
        p.b.close()

    for server_timeout, client_timeout in ((1.0, 10.0), (None, 10.0), (1.0, None)):
        def server(p: Pair, timeout: float | None = server_timeout) -> None:
            p.a.settimeout(timeout)
            p.got.append(p.a.recv(4))
            p.a.sendall(b"pong")
            p.got.append(p.a.recv(3))

        def client(p: Pair, timeout: float | None = client_timeout) -> None:
            p.b.settimeout(timeout)
            p.b.sendall(b"ping")
            p.got.append(p.b.recv(4))
            p.b.sendall(b"bye")

        for seed in (1, 2, 3):
            passes(racecheck.explore(
                [server, client], setup=Pair, teardown=close, schedules=12, seed=seed,
                invariant=lambda p: sorted(p.got) == [b"bye", b"ping", b"pong"], watchdog=2))


def _submit_and_wait(pool: concurrent.futures.ThreadPoolExecutor) -> Callable[[object], None]:
    def body(s: object) -> None:
        assert pool.submit(lambda: 41 + 1).result() == 42

    return body


def _helper(s: object) -> None:
    threading.Thread(target=lambda: None).start()  # a second managed thread beside it


@case()
def an_executor_made_and_warmed_before_the_exploration_runs_its_tasks() -> None:
    # A module-level pool (asgiref's single_thread_executor): its worker exists before
    # the exploration, on a queue made before the patches.  In the process it is a real
    # thread the schedule cannot see; in a forked child it does not exist at all.  Both
    # were false deadlocks; the schedule now gives the pool workers of its own.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        assert pool.submit(lambda: None).result() is None  # its worker starts now
        worker = next(iter(pool._threads))  # type: ignore[attr-defined]
        for isolate in (False, True):
            passes(racecheck.explore([_submit_and_wait(pool), _helper], setup=object,
                                     schedules=10, seed=3, isolate=isolate, watchdog=2))
        # and put back as it was: its own worker, which still runs tasks
        assert pool._threads == {worker}  # type: ignore[attr-defined]
        assert pool.submit(lambda: 7).result(timeout=5) == 7
    finally:
        pool.shutdown()


@case()
def a_thread_end_calls_a_replaced_threading_get_ident() -> None:
    # pebble.waitforthreads learns that a thread ended by replacing
    # threading.get_ident with a function that sets an Event: CPython's
    # Thread._delete calls it as the thread ends.  A managed thread did not.
    def wait_for_a_thread_end(s: object) -> None:
        ended = threading.Event()
        real = threading.get_ident

        def hook() -> int:
            ended.set()
            return real()

        t = threading.Thread(target=time.sleep, args=(0.01,), daemon=True)
        t.start()
        threading.get_ident = hook
        try:
            while t.is_alive():  # as pebble does: once set, a spin until the thread is gone
                ended.wait()
        finally:
            threading.get_ident = real

    passes(racecheck.explore([wait_for_a_thread_end], setup=object, schedules=10, seed=6))


@case()
def a_thread_left_running_before_the_exploration_is_no_race() -> None:
    # pebble's pool: a module-level pool's loop thread, started by the test's plain
    # run, which the plugin then leaves behind; a forked schedule's process does not
    # have it, and the pool, asking loop.is_alive(), fails.  That failure rests on
    # racecheck's fork, not on a schedule: it is marked unseen (the plugin then says
    # "not explored" when the plain run passed), never a race of its own.
    from racecheck._core import isolate

    stop = threading.Event()
    loop = threading.Thread(target=stop.wait, name="pool loop", daemon=True)
    loop.start()
    isolate.leave_behind([loop])
    try:
        def use_pool(s: object) -> None:
            if not loop.is_alive():
                raise RuntimeError("Unexpected error within the Pool")

        failure = failure_of(racecheck.explore([use_pool, _helper], setup=object,
                                               schedules=3, seed=7, isolate=True), "violation")
        assert failure.unseen
        assert "'pool loop', started before the exploration" in failure.message
    finally:
        stop.set()
        loop.join()
        isolate._LEFT_BEHIND.discard(loop.ident)


@case()
def a_pool_left_running_by_the_test_is_no_deadlock() -> None:
    # Workers of a pool nobody shuts down wait for work after the test's own threads
    # finished: the interpreter's exit would stop them, so the schedule ends.  A
    # worker stuck in a task is still a deadlock (the exit would wait for it forever).
    kept: list[concurrent.futures.ThreadPoolExecutor] = []

    def idle(s: object) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        kept.append(pool)  # never collected, never shut down
        assert pool.submit(lambda: 1).result() == 1

    def stuck(s: object) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        kept.append(pool)
        pool.submit(threading.Event().wait)

    passes(racecheck.explore([idle, _helper], setup=object, schedules=10, seed=4))
    failure_of(racecheck.explore([stuck, _helper], setup=object, schedules=3, seed=4),
               "deadlock")
    kept.clear()


@case()
def a_timed_wait_beside_a_thread_reading_a_process_pipe() -> None:
    # Found on APScheduler's process-pool tests: a thread reads a pipe a child
    # process writes (untimed), the main thread waits for it with event.wait(5).
    # The clock jumped to the 5 s at once, before the process could write, and
    # the timeout was called a deadlock hidden by a timeout.  The world now gets
    # real time to answer other threads' I/O before a timed wait times out.
    class Child:
        def __init__(self) -> None:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(0.1); print('hi')"],
                stdout=subprocess.PIPE)
            self.got: list[bytes] = []
            self.in_time = False

    def reader(c: Child) -> None:
        assert c.proc.stdout is not None
        c.got.append(os.read(c.proc.stdout.fileno(), 100))

    def waiter(c: Child) -> None:
        t = threading.Thread(target=reader, args=(c,))
        t.start()
        t.join(5)
        c.in_time = not t.is_alive()

    def close(c: Child) -> None:
        c.proc.wait()
        assert c.proc.stdout is not None
        c.proc.stdout.close()

    passes(racecheck.explore([waiter], setup=Child, teardown=close, schedules=3, seed=8,
                             invariant=lambda c: c.in_time and c.got == [b"hi\n"]))


@case()
def select_on_a_pipe_another_thread_writes() -> None:
    class Pipe:
        def __init__(self) -> None:
            self.r, self.w = os.pipe()
            self.got = b""

    def waiter(p: Pipe) -> None:
        ready, _, _ = select.select([p.r], [], [], 30)
        assert ready == [p.r], "select() returned without the pipe being readable"
        p.got = os.read(p.r, 10)

    def writer(p: Pipe) -> None:
        os.write(p.w, b"ping")

    def close(p: Pipe) -> None:
        os.close(p.r)
        os.close(p.w)

    passes(racecheck.explore([waiter, writer], setup=Pipe, invariant=lambda p: p.got == b"ping",
                             teardown=close, schedules=15, seed=13, watchdog=2))


# --- many threads


@case()
def a_body_starting_1000_threads_is_a_usage_error() -> None:
    def flood() -> None:
        threads = [threading.Thread(target=producer, args=(Box(),)) for _ in range(1000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    with pytest.raises(UsageError) as info:
        racecheck.check(flood, schedules=2, seed=14)
    assert "more than 64 threads" in str(info.value)
    assert "max_threads" in str(info.value)


@case()
def max_threads_200_lets_100_threads_run() -> None:
    def main() -> None:
        box = Box()

        def bump() -> None:
            with box.lock:
                box.n += 1

        threads = [threading.Thread(target=bump) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert box.n == 100

    racecheck.check(main, schedules=3, seed=15, max_threads=200)


# --- timers and daemons


@case()
def timer_fires_and_a_cancelled_one_does_not() -> None:
    def main() -> None:
        fired: list[str] = []
        t1 = threading.Timer(1.0, fired.append, args=("a",))
        t2 = threading.Timer(60.0, fired.append, args=("b",))
        t1.start()
        t2.start()
        t2.cancel()
        t1.join()
        t2.join()
        assert fired == ["a"], fired

    racecheck.check(main, schedules=15, seed=16)


@case()
def daemon_thread_looping_forever_with_sleep() -> None:
    def main() -> None:
        box = Box()

        def heartbeat() -> None:
            while True:
                time.sleep(0.1)
                box.n += 1

        threading.Thread(target=heartbeat, daemon=True).start()
        time.sleep(0.35)
        assert box.n >= 0

    racecheck.check(main, schedules=10, seed=17)


@case()
def time_sleep_3600_passes() -> None:
    def body(s: Box) -> None:
        time.sleep(3600)
        s.n += 1

    passes(racecheck.explore([body], setup=Box, invariant=lambda s: s.n == 1,
                             schedules=3, seed=18))


@case()
def stopwatch_loop_for_five_seconds() -> None:
    def body(s: Box) -> None:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            s.n += 1

    passes(racecheck.explore([body], setup=Box, invariant=lambda s: s.n > 0,
                             schedules=3, seed=19))


# --- exceptions and exits in threads


@case()
def thread_raising_value_error_is_a_violation() -> None:
    def body(s: object) -> None:
        raise ValueError("bad reading 17")

    failure = failure_of(racecheck.explore([body, producer], setup=Box, schedules=5, seed=20),
                         "violation")
    assert "ValueError" in failure.message
    assert isinstance(failure.exception, ValueError)
    assert "bad reading 17" in str(failure.exception)


@case()
def system_exit_in_a_thread_passes() -> None:
    def body(s: Box) -> None:
        s.n = 1
        raise SystemExit(0)

    passes(racecheck.explore([body, producer], setup=Box, schedules=5, seed=21))


@case()
def os_exit_in_a_thread_is_a_crash() -> None:
    def body(s: object) -> None:
        os._exit(3)

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=22),
                         "crash")
    assert "the interpreter crashed" in failure.message
    assert "exited with status 3" in failure.message


@case()
def os_abort_in_a_thread_is_a_crash() -> None:
    def body(s: object) -> None:
        os.abort()

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=23),
                         "crash")
    assert "the interpreter crashed" in failure.message and "SIGABRT" in failure.message


@case()
def recursion_error_in_a_thread_is_a_violation() -> None:
    def dive(n: int) -> int:
        return dive(n + 1) + 1

    def body(s: object) -> None:
        dive(0)

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=24),
                         "violation")
    assert "RecursionError" in failure.message


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ of the exception is broken")


@case()
def exception_whose_str_raises_is_a_violation() -> None:
    def body(s: object) -> None:
        raise Unprintable

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=25),
                         "violation")
    assert "Unprintable" in failure.message
    str(failure)  # the report renders


@case()
def unpicklable_exception_from_a_forked_schedule() -> None:
    class LocalError(Exception):  # a local class: pickle cannot find it
        def __init__(self, msg: str) -> None:
            super().__init__(msg)
            self.callback = lambda: None

    def body(s: object) -> None:
        raise LocalError("local trouble")

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=26),
                         "violation")
    assert "LocalError" in failure.message


@case()
def joining_the_current_thread_is_a_violation() -> None:
    def body(s: object) -> None:
        threading.current_thread().join()

    failure = failure_of(racecheck.explore([body], setup=object, schedules=2, seed=27),
                         "violation")
    assert "RuntimeError" in failure.message and "join" in failure.message


@case()
def releasing_an_unlocked_lock_is_a_violation() -> None:
    def body(s: Box) -> None:
        s.lock.release()

    failure = failure_of(racecheck.explore([body], setup=Box, schedules=2, seed=28),
                         "violation")
    assert "RuntimeError" in failure.message and "release" in failure.message


# --- user callbacks that fail


@case()
def invariant_raising_is_a_violation() -> None:
    def invariant(s: Box) -> bool:
        raise KeyError("no such account")

    failure = failure_of(racecheck.explore([producer], setup=Box, invariant=invariant,
                                           schedules=3, seed=29), "violation")
    assert "invariant raised KeyError" in failure.message
    assert "no such account" in failure.message


@case()
def invariant_raising_an_exception_whose_str_raises() -> None:
    def invariant(s: Box) -> bool:
        raise Unprintable

    failure = failure_of(racecheck.explore([producer], setup=Box, invariant=invariant,
                                           schedules=2, seed=29), "violation")
    assert "invariant raised Unprintable" in failure.message


@case()
def invariant_returning_numpy_false() -> None:
    np = pytest.importorskip("numpy")

    def invariant(s: Box) -> object:
        return (np.array([s.n]) == np.array([-1])).all()  # numpy.bool_(False)

    failure = failure_of(racecheck.explore([producer], setup=Box, invariant=invariant,
                                           schedules=2, seed=29), "violation")
    assert "invariant returned False" in failure.message


class UnreprState:
    def __repr__(self) -> str:
        raise RuntimeError("repr of the state is broken")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq of the state is broken")

    __hash__ = object.__hash__


@case()
def state_whose_repr_and_eq_raise() -> None:
    def body(s: UnreprState) -> None:
        s.x = 1  # type: ignore[attr-defined]

    failure = failure_of(racecheck.explore([body, body], setup=UnreprState,
                                           invariant=lambda s: False, schedules=3, seed=30),
                         "violation")
    assert "invariant returned False" in failure.message
    assert "replay" in str(failure)


@case()
def setup_raising_propagates() -> None:
    def setup() -> Box:
        raise SetupBoom("database not reachable")

    with pytest.raises(SetupBoom, match="database not reachable"):
        racecheck.explore([producer], setup=setup, schedules=3, seed=31)


@case()
def teardown_raising_propagates() -> None:
    def teardown(s: Box) -> None:
        raise TeardownBoom("could not drop the table")

    with pytest.raises(TeardownBoom, match="could not drop the table"):
        racecheck.explore([producer], setup=Box, teardown=teardown, schedules=3, seed=32)


# --- strategies that misbehave


class RaisingStrategy(Strategy):
    name = "raising"

    def begin(self, index: int) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        raise ZeroDivisionError("strategy arithmetic failed")


class OutOfRangeStrategy(Strategy):
    name = "out-of-range"

    def begin(self, index: int) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        return 999


def two_racers() -> list[Callable[[Box], None]]:
    def bump(s: Box) -> None:
        s.n += 1
    return [bump, bump]


@case()
def strategy_whose_choose_raises_is_an_internal_error() -> None:
    with pytest.raises(InternalError) as info:
        racecheck.explore(two_racers(), setup=Box, schedules=5, seed=33,
                          strategy=RaisingStrategy())
    text = str(info.value)
    assert "strategy 'raising' raised ZeroDivisionError" in text
    assert "strategy arithmetic failed" in text


@case()
def strategy_returning_an_unknown_thread_is_an_internal_error() -> None:
    with pytest.raises(InternalError) as info:
        racecheck.explore(two_racers(), setup=Box, schedules=5, seed=34,
                          strategy=OutOfRangeStrategy())
    assert "chose thread 999" in str(info.value)
    assert "not one of the runnable threads" in str(info.value)


class BeginRaisesStrategy(Strategy):
    name = "begin-raises"

    def begin(self, index: int) -> bool:
        raise OSError("strategy could not load its corpus")

    def choose(self, options: Sequence[int], current: int) -> int:
        return options[0]


@case()
def strategy_whose_begin_raises_is_an_internal_error() -> None:
    with pytest.raises(InternalError) as info:
        racecheck.explore(two_racers(), setup=Box, schedules=5, seed=34,
                          strategy=BeginRaisesStrategy())
    assert "begin-raises" in str(info.value)
    assert "strategy could not load its corpus" in str(info.value)


# --- bad bodies and nesting


@case()
def nested_explore_is_refused() -> None:
    def inner(s: object) -> None:
        racecheck.explore([producer], setup=Box, schedules=1, seed=1)

    failure = failure_of(racecheck.explore([inner], setup=object, schedules=1, seed=35),
                         "violation")
    assert isinstance(failure.exception, NestedExploration)
    assert "NestedExploration" in failure.message and "do not nest" in failure.message


@case()
def generator_function_as_thread_body() -> None:
    def gen(s: object) -> Any:
        yield 1

    with pytest.raises(InvalidArgument) as info:
        racecheck.explore([producer, gen], setup=Box, schedules=2, seed=36)
    assert "threads[1]" in str(info.value) and "generator function" in str(info.value)


@case()
def async_function_as_thread_body() -> None:
    async def work(s: object) -> None:
        await asyncio.sleep(0)

    with pytest.raises(InvalidArgument) as info:
        racecheck.explore([work], setup=Box, schedules=2, seed=37)
    assert "async function" in str(info.value) and "asyncio.run" in str(info.value)


@case()
def callable_object_and_partial_as_bodies() -> None:
    import functools

    class Bumper:
        def __call__(self, s: Box) -> None:
            with s.lock:
                s.n += 1

    def add(k: int, s: Box) -> None:
        with s.lock:
            s.n += k

    passes(racecheck.explore([Bumper(), functools.partial(add, 10)], setup=Box,
                             invariant=lambda s: s.n == 11, schedules=15, seed=38))


class AsyncCallable:
    """A callable object whose __call__ is a coroutine function."""

    async def __call__(self, s: Box) -> None:
        await asyncio.sleep(0)
        s.n += 1


@case()
def object_with_async_call_as_thread_body() -> None:
    with pytest.raises(InvalidArgument) as info:
        racecheck.explore([AsyncCallable()], setup=Box, schedules=2, seed=37)
    assert "async" in str(info.value)


@case()
def body_with_the_wrong_number_of_parameters() -> None:
    def takes_nothing() -> None:
        pass

    failure = failure_of(racecheck.explore([takes_nothing], setup=Box, schedules=2, seed=39),
                         "violation")
    assert "TypeError" in failure.message
    assert "takes 0 positional arguments but 1 was given" in failure.message


class Fatal(BaseException):
    """Not an Exception: escapes `except Exception` in user code and in racecheck."""


@case()
def base_exception_subclass_in_a_thread() -> None:
    def body(s: Box) -> None:
        raise Fatal("reactor meltdown")

    failure = failure_of(racecheck.explore([body, producer], setup=Box, schedules=3, seed=39),
                         "violation")
    assert "Fatal: reactor meltdown" in failure.message


@case()
def starting_a_thread_twice() -> None:
    def body(s: Box) -> None:
        t = threading.Thread(target=producer, args=(s,))
        t.start()
        t.start()

    failure = failure_of(racecheck.explore([body], setup=Box, schedules=3, seed=39),
                         "violation")
    assert "RuntimeError" in failure.message and "started once" in failure.message


@case()
def negative_sleep_in_a_thread() -> None:
    def body(s: Box) -> None:
        time.sleep(-1)

    failure = failure_of(racecheck.explore([body], setup=Box, schedules=2, seed=39),
                         "violation")
    assert "ValueError" in failure.message and "non-negative" in failure.message


@case()
def unseeded_randomness_under_check_determinism() -> None:
    def coin(s: Box) -> None:
        if os.urandom(1)[0] % 2:
            s.n += 1
        else:
            s.items.append(1)

    result = racecheck.explore([coin, producer], setup=Box, schedules=10, seed=39,
                               check_determinism=True)
    failure = failure_of(result, "nondeterminism")
    assert "parted at step" in failure.message and "unseeded randomness" in failure.message


@case()
def setup_raising_a_local_exception_class() -> None:
    def setup() -> Box:
        class LocalSetupError(Exception):  # pickle cannot bring this class back from a child
            pass
        raise LocalSetupError("fixture file missing")

    with pytest.raises(Exception) as info:
        racecheck.explore([producer], setup=setup, schedules=2, seed=39)
    assert "LocalSetupError" in str(info.value) or type(info.value).__name__ == "LocalSetupError"
    assert "fixture file missing" in str(info.value)


# --- deadlocks


def _deadlock(body_a: Callable[[Any], None], body_b: Callable[[Any], None] | None = None,
              setup: Callable[[], object] = Box, seed: int = 40) -> racecheck.Failure:
    threads = [body_a] if body_b is None else [body_a, body_b]
    return failure_of(racecheck.explore(threads, setup=setup, schedules=20, seed=seed),
                      "deadlock")


def assert_blocked(failure: racecheck.Failure, thread: str, what: str) -> None:
    """A deadlock with no owner to blame: the report lists who waits for what."""
    assert "every live thread is blocked" in failure.message
    hits = [b for b in failure.blocked if b.thread == thread and what in b.resource]
    assert hits, failure.blocked


@case()
def condition_wait_never_notified() -> None:
    class S:
        def __init__(self) -> None:
            self.cond = threading.Condition()

    def waiter(s: S) -> None:
        with s.cond:
            s.cond.wait()

    failure = _deadlock(waiter, setup=S, seed=41)
    assert_blocked(failure, "T1", "Condition")
    # Its own wake-up lock is only where it parks: not a lock it holds against others.
    (blocked,) = failure.blocked
    assert blocked.resource.startswith("notify on") and blocked.holds == ()


@case()
def event_wait_never_set() -> None:
    def waiter(s: threading.Event) -> None:
        s.wait()

    failure = _deadlock(waiter, setup=threading.Event, seed=42)
    assert_blocked(failure, "T1", "Condition")


@case()
def queue_get_forever() -> None:
    def getter(s: queue.Queue[int]) -> None:
        s.get()

    failure = _deadlock(getter, setup=queue.Queue, seed=43)
    assert_blocked(failure, "T1", "Condition")


@case()
def lock_acquired_twice() -> None:
    def twice(s: Box) -> None:
        s.lock.acquire()
        s.lock.acquire()

    failure = _deadlock(twice, seed=44)
    assert "T1 waits for Lock" in failure.message and "held by T1" in failure.message


@case()
def abba_locks() -> None:
    def ab(s: Box) -> None:
        with s.lock, s.lock2:
            s.n += 1

    def ba(s: Box) -> None:
        with s.lock2, s.lock:
            s.n += 1

    failure = _deadlock(ab, ba, seed=45)
    assert len(failure.cycle) == 2, failure.cycle
    assert {edge.waiter for edge in failure.cycle} == {"T1", "T2"}, failure.cycle
    assert "held by T1" in failure.message and "held by T2" in failure.message


@case()
def threads_joining_each_other() -> None:
    def main() -> None:
        holder: dict[str, threading.Thread] = {}
        go = threading.Event()

        def a() -> None:
            go.wait()
            holder["b"].join()

        def b() -> None:
            go.wait()
            holder["a"].join()

        holder["a"] = threading.Thread(target=a, name="A")
        holder["b"] = threading.Thread(target=b, name="B")
        holder["a"].start()
        holder["b"].start()
        go.set()
        holder["a"].join()

    with pytest.raises(racecheck.DeadlockFound) as info:
        racecheck.check(main, schedules=10, seed=46)
    assert info.value.failure.kind == "deadlock"
    assert "A" in info.value.failure.message and "B" in info.value.failure.message


@case()
def barrier_with_a_missing_party() -> None:
    def party(s: threading.Barrier) -> None:
        s.wait()

    failure = _deadlock(party, party, setup=lambda: threading.Barrier(3), seed=47)
    assert_blocked(failure, "T1", "Condition")
    assert_blocked(failure, "T2", "Condition")


@case()
def future_that_never_completes() -> None:
    def body(s: concurrent.futures.Future[int]) -> None:
        s.result()

    failure = _deadlock(body, setup=concurrent.futures.Future, seed=47)
    assert_blocked(failure, "T1", "Condition")


@case()
def non_daemon_thread_never_joined_still_runs_to_the_end() -> None:
    def starter(s: Box) -> None:
        def late() -> None:
            time.sleep(1)
            s.items.append("late")
        threading.Thread(target=late).start()

    passes(racecheck.explore([starter, producer], setup=Box,
                             invariant=lambda s: s.items == ["late"], schedules=10, seed=47))


@case()
def thread_subclass_overriding_run_inside_check() -> None:
    class Adder(threading.Thread):
        def __init__(self, box: Box) -> None:
            super().__init__()
            self.box = box

        def run(self) -> None:
            with self.box.lock:
                self.box.n += 1

    def main() -> None:
        box = Box()
        threads = [Adder(box) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert box.n == 3

    racecheck.check(main, schedules=10, seed=47)


PRE_EXISTING_SIMPLE_QUEUE: queue.SimpleQueue[object] = queue.SimpleQueue()  # C, made at import


@case()
def c_simple_queue_made_before_exploring_blocks_in_c() -> None:
    def body(s: Box) -> None:
        PRE_EXISTING_SIMPLE_QUEUE.get()

    # isolate=True: the thread blocked inside C is left behind in the child, not here.
    result = racecheck.explore([body], setup=Box, schedules=1, seed=47, watchdog=0.5,
                               isolate=True)
    failure = failure_of(result, "hang")
    assert "PRE_EXISTING_SIMPLE_QUEUE.get()" in failure.message
    assert "test_hostile.py" in failure.message


@case()
def rlock_acquired_twice_passes() -> None:
    class S:
        def __init__(self) -> None:
            self.lock = threading.RLock()
            self.n = 0

    def twice(s: S) -> None:
        with s.lock, s.lock:
            s.n += 1

    passes(racecheck.explore([twice, twice], setup=S, invariant=lambda s: s.n == 2,
                             schedules=15, seed=48))


@case()
def timed_waits_that_time_out_and_recover() -> None:
    class S:
        def __init__(self) -> None:
            self.cond = threading.Condition()
            self.q: queue.Queue[int] = queue.Queue()
            self.outcomes: list[object] = []

    def body(s: S) -> None:
        with s.cond:
            s.outcomes.append(s.cond.wait(timeout=1.0))
        try:
            s.q.get(timeout=1.0)
        except queue.Empty:
            s.outcomes.append("empty")

    passes(racecheck.explore([body], setup=S, invariant=lambda s: s.outcomes == [False, "empty"],
                             schedules=5, seed=49))


# --- thread-local and hostile interpreter fiddling


@case()
def thread_local_values_stay_per_thread() -> None:
    class S:
        def __init__(self) -> None:
            self.local = threading.local()
            self.seen: list[bool] = []

    def body(s: S) -> None:
        me = threading.get_ident()
        s.local.me = me
        time.sleep(0.01)
        s.seen.append(s.local.me == me)

    passes(racecheck.explore([body, body, body], setup=S,
                             invariant=lambda s: s.seen == [True] * 3, schedules=20, seed=50))


@case()
def thread_that_turns_gc_on_and_collects() -> None:
    def body(s: Box) -> None:
        gc.enable()
        gc.collect()
        with s.lock:
            s.n += 1

    passes(racecheck.explore([body, body], setup=Box, invariant=lambda s: s.n == 2,
                             schedules=10, seed=51, isolate=False))


@case()
def thread_that_clears_the_trace_function() -> None:
    def body(s: Box) -> None:
        sys.settrace(None)
        with s.lock:
            s.n += 1

    passes(racecheck.explore([body, body], setup=Box, invariant=lambda s: s.n == 2,
                             schedules=10, seed=52, isolate=False))


@case()
def thread_pool_map_inside_check() -> None:
    def main() -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            assert list(pool.map(square, range(6))) == [0, 1, 4, 9, 16, 25]

    racecheck.check(main, schedules=10, seed=53)


def _kill_forked_leftovers(pid_file: str) -> None:
    """Kill the processes os_fork_inside_a_thread forked, if any is still stuck."""
    with open(pid_file) as f:
        pids = [int(x) for x in f.read().split()]
    with open("/proc/self/cmdline", "rb") as f:
        ours = f.read()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() != ours:  # gone and the pid reused: not ours to kill
                    continue
            os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


@case()
def os_fork_inside_a_thread() -> None:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".pids", delete=False) as f:
        pid_file = f.name

    def forker(s: Box) -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        fd = os.open(pid_file, os.O_WRONLY | os.O_APPEND)
        os.write(fd, f"{pid}\n".encode())
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        s.exit_code = os.waitstatus_to_exitcode(status)  # type: ignore[attr-defined]

    try:
        passes(racecheck.explore([forker, producer], setup=Box, invariant=lambda s: s.exit_code == 7,
                                 schedules=5, seed=55, watchdog=0.5))
    finally:
        _kill_forked_leftovers(pid_file)
        os.unlink(pid_file)


# --- replay tokens


@case()
def bad_replay_token() -> None:
    with pytest.raises(InvalidToken) as info:
        racecheck.replay("not-a-token", [producer], setup=Box)
    assert "not a racecheck replay token" in str(info.value)


@case()
def pickled_looking_token() -> None:
    import base64
    import pickle

    blob = base64.b64encode(pickle.dumps({"choices": [1, 2, 1]})).decode()
    for token in (blob, "rc2.311.0." + blob, pickle.dumps([1, 2]).decode("latin-1")):
        with pytest.raises(InvalidToken) as info:
            racecheck.replay(token, [producer], setup=Box)
        assert "token" in str(info.value)


@case()
def token_with_a_future_format_version() -> None:
    with pytest.raises(InvalidToken) as info:
        racecheck.replay("rc9.311.0.eNpjZGRgZARjAAA1AAk", [producer], setup=Box)
    assert "'rc9'" in str(info.value) and "not supported" in str(info.value)


@case()
def token_from_another_python_version() -> None:
    bodies = two_racers()
    foreign = Schedule((5, 7, 5, 7, 9) * 20, python="27", rseed=0).to_token()
    with pytest.raises((ReplayDiverged, InvalidToken)) as info:
        racecheck.replay(foreign, bodies, setup=Box, invariant=lambda s: s.n == 2)
    text = str(info.value)
    assert "2.7" in text, text


@case()
def token_of_a_real_failure_replays_it() -> None:
    bodies = two_racers()
    result = racecheck.explore(bodies, setup=Box, invariant=lambda s: s.n == 2,
                               schedules=50, seed=54)
    failure = failure_of(result, "violation")
    again = racecheck.replay(failure.token, bodies, setup=Box, invariant=lambda s: s.n == 2)
    assert again.failure is not None and again.failure.kind == "violation"
    assert again.failure.token == failure.token


# ----------------------------------------------------------------------- the test


def _params() -> list[Any]:
    params = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        params.append(pytest.param(c, id=c.name, marks=marks))
    return params


def test_case_count() -> None:
    assert len(CASES) >= 32
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_hostile(case: Case, interpreter_left_as_it_was: None) -> None:
    case.run()
