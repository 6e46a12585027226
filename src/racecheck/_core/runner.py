"""The exploration loop: run schedules until one fails or the budget is spent.

For each schedule the runner (the caller's thread, never managed) calls
``setup()``, spawns one managed thread per body, hands the baton to the first
choice, and waits.  It is the only place that waits in real time, so it is
also the watchdog: when the running managed thread makes no progress for
``watchdog`` seconds it is stuck outside racecheck's control (real I/O, a C
call on a lock racecheck cannot see), and the schedule ends with a ``hang``
verdict naming its file:line instead of hanging the test suite.

A failure is then replayed once with full recording (values read and written,
source lines): the exploration runs fast, the report is rich, and every
reported failure is known to reproduce from its token.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import NestedExploration
from ..strategies.base import Strategy
from ..strategies.replay import ReplayStrategy
from . import instrument, raw
from .execution import Execution, ManagedThread, user_stack
from .isolate import ChoiceLog
from .outcome import Failure, Result
from .patching import SKIP_MODULES, Patches
from .schedule import PYTHON_TAG, Schedule
from .trace import Recorder

_active = raw.allocate_lock()


@dataclass(frozen=True)
class Config:
    """Everything that shapes one exploration (built and validated in ``_api``)."""

    threads: Sequence[Callable[..., object]]
    setup: Callable[[], object] | None
    invariant: Callable[..., object] | None
    teardown: Callable[..., object] | None
    schedules: int
    seed: int | None
    time_budget: float | None
    max_steps: int
    max_threads: int
    watchdog: float
    names: Sequence[str]
    daemons: Sequence[bool] = ()
    replay_hint: str = ""
    eager_timeouts: bool = False
    progress: Callable[[int, int], object] | None = None


@dataclass
class Outcome:
    """What one schedule did (before it becomes a Failure)."""

    verdict: str | None
    message: str
    exception: BaseException | None
    thread_name: str | None
    choices: list[int]
    cycle: list[str]
    blocked: list[str]
    notes: list[str]
    steps: int
    recorder: Recorder | None = None


def explore(cfg: Config, strategy: Strategy, log: ChoiceLog | None = None) -> Result:
    if not _active.acquire(False):
        raise NestedExploration(
            "racecheck explorations do not nest: explore()/check() was called from code "
            "that is already being explored"
        )
    try:
        return _explore(cfg, strategy, log)
    finally:
        _active.release()


def _explore(cfg: Config, strategy: Strategy, log: ChoiceLog | None) -> Result:
    start = time.perf_counter()
    failure: Failure | None = None
    runs = 0
    notes: list[str] = []
    with _controlled(cfg) as patches:
        for index in range(cfg.schedules):
            if index and index % 64 == 0:
                gc.collect()
            if (index and cfg.time_budget is not None  # a budget always allows one schedule
                    and time.perf_counter() - start > cfg.time_budget):
                notes.append(f"time budget of {cfg.time_budget:g}s reached")
                break
            if not strategy.begin(index):
                break
            outcome = run_with_retries(cfg, strategy, index, record=False, log=log,
                                       patches=patches)
            runs += 1
            strategy.end(outcome.verdict is not None)
            if cfg.progress is not None:
                cfg.progress(runs, cfg.schedules)
            notes.extend(n for n in outcome.notes if n not in notes)
            if outcome.verdict is not None:
                failure = _make_failure(cfg, outcome, index)
                break
    if failure is not None:
        # Replay the failing schedule with full recording, for the report.
        from .._report import render

        detail = replay_outcome(cfg, failure.token)
        render(failure, detail, cfg)
    elapsed = time.perf_counter() - start
    result = Result(
        ok=failure is None,
        schedules_run=runs,
        elapsed=elapsed,
        seed=cfg.seed,
        strategy=strategy.name,
        failure=failure,
        evidence=strategy.evidence(runs),
        notes=notes,
    )
    return result


@contextmanager
def _controlled(cfg: Config) -> Iterator[Patches]:
    """The environment schedules run in; everything is put back, also on errors.

    Shims patched in, instrumentation on, cyclic GC off (finalizers and weakref
    callbacks running at GC time would run user code at points no schedule
    controls), racecheck's own Abort kept out of the unraisable hook, and the
    runner pinned to one CPU.
    """
    patches = Patches()
    affinity = _pin_to_one_cpu()
    gc_was_enabled = gc.isenabled()
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_abort(previous_hook)
    gc.disable()
    try:
        patches.install()
        patches.scan_roots([*cfg.threads, cfg.setup, cfg.invariant, cfg.teardown])
        instrument.install()
        yield patches
    finally:
        instrument.uninstall()
        patches.restore()
        if gc_was_enabled:
            gc.enable()
        sys.unraisablehook = previous_hook
        _restore_affinity(affinity)


def _pin_to_one_cpu() -> set[int] | None:
    """Keep the runner and the managed threads it starts on one CPU.

    Only one managed thread runs at a time, so a second CPU buys nothing, and a
    baton handed between threads on different CPUs costs a cross-CPU wakeup:
    bench/overhead.py measured a switch at ~20 us across CPUs and ~6 us on one.
    Threads inherit the affinity of the thread that starts them; only the
    runner thread's own affinity changes, and it is restored afterwards.  The
    CPU is picked from the process id, so pytest-xdist workers spread out.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        allowed = os.sched_getaffinity(0)
        if len(allowed) < 2:
            return None
        cpu = sorted(allowed)[os.getpid() % len(allowed)]
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return None
    return allowed


def _restore_affinity(allowed: set[int] | None) -> None:
    if allowed is not None:
        try:
            os.sched_setaffinity(0, allowed)
        except OSError:
            pass


def _quiet_abort(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """An unraisablehook that drops racecheck's own Abort.

    When a schedule ends, parked threads unwind with Abort; one that is inside a
    weakref callback or ``__del__`` (ThreadPoolExecutor's ``weakref_cb``) can
    only report it as "unraisable", which pytest turns into an error.
    """
    from .execution import Abort

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Abort):
            return
        previous(unraisable)

    return hook


def replay_outcome(cfg: Config, token: str) -> Outcome:
    """Run the schedule of ``token`` once, recording everything."""
    schedule = Schedule.from_token(token)
    strategy = ReplayStrategy(schedule.choices)
    strategy.begin(0)
    gc.collect()  # start from the heap a fresh exploration would see
    with _controlled(cfg) as patches:
        outcome = run_with_retries(cfg, strategy, 0, record=True, log=None, patches=patches)
    if outcome.verdict != "diverged" and strategy.unused():
        outcome.verdict = "diverged"
        outcome.message = (
            f"the execution ended with {strategy.unused()} recorded choices unused: "
            "the code no longer follows the schedule"
        )
    return outcome


def _make_failure(cfg: Config, outcome: Outcome, index: int) -> Failure:
    token = Schedule(tuple(outcome.choices), PYTHON_TAG).to_token()
    exc = outcome.exception
    tb = ""
    if exc is not None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Failure(
        kind=outcome.verdict or "violation",
        message=outcome.message,
        token=token,
        schedule_index=index,
        seed=cfg.seed,
        exception=exc,
        thread_name=outcome.thread_name,
        traceback_text=tb,
        cycle=list(outcome.cycle),
        blocked=list(outcome.blocked),
        notes=list(outcome.notes),
    )


#: A schedule that makes no progress for this long is checked for a real lock
#: racecheck had not found (see ``_wrap_locks_near``); the full watchdog is longer.
STALL = 0.2
MAX_RETRIES = 3


def run_with_retries(cfg: Config, strategy: Strategy, index: int, *, record: bool,
                     log: ChoiceLog | None, patches: Patches) -> Outcome:
    """Run schedule ``index``; rerun it when it stalled on a lock found only then.

    A lock made before the exploration and out of the scan's reach (a local of
    a library frame, an object held by another object) is a real C lock: a
    managed thread blocks on it in C while the holder is parked, and nothing
    moves.  The runner then wraps the real locks reachable from the stuck
    thread's frames and runs the same schedule again from the start, now with
    the lock under control.  The attempt that stalled is discarded.
    """
    for _attempt in range(MAX_RETRIES + 1):
        if log is not None:
            log.schedule(index)
        outcome = run_one(cfg, strategy, Recorder() if record else None, log, patches)
        if outcome.verdict != "retry":
            return outcome
        strategy.begin(index)
    outcome.verdict = "hang"
    outcome.message = (f"the schedule kept stalling on locks racecheck could not take over "
                       f"({MAX_RETRIES} retries): {outcome.message}")
    return outcome


def run_one(cfg: Config, strategy: Strategy, recorder: Recorder | None,
            log: ChoiceLog | None = None, patches: Patches | None = None) -> Outcome:
    """Run one schedule under ``strategy``; patches and instrumentation are already on."""
    saved_counter = getattr(threading, "_counter", None)
    threading._counter = _fresh_counter()  # type: ignore[attr-defined]  # same names each schedule
    try:
        state = cfg.setup() if cfg.setup is not None else None
        ex = Execution(strategy, max_steps=cfg.max_steps, max_threads=cfg.max_threads,
                       recorder=recorder, eager_timeouts=cfg.eager_timeouts, choice_log=log)
        try:
            for i, body in enumerate(cfg.threads):
                call = _bind(body, state, cfg.setup is not None)
                daemon = cfg.daemons[i] if i < len(cfg.daemons) else False
                ex.spawn(call, cfg.names[i], daemon=daemon, thread_obj=_thread_object(cfg.names[i]))
            ex.begin()
            try:
                _wait(ex, cfg.watchdog, patches)
            finally:
                _release_leftovers(ex)
            verdict, message = ex.verdict, ex.message
            exc = ex.exception
            thread_name = ex.failed_thread.name if ex.failed_thread is not None else None
            if verdict is None and cfg.invariant is not None:
                verdict, message, exc = _check_invariant(cfg.invariant, state, cfg.setup is not None)
                thread_name = None
            if verdict == "violation" and ex.hidden_cycle:
                verdict = "deadlock"
                message = (
                    "a timed wait timed out while its threads formed a wait-for cycle "
                    f"(a deadlock hidden by a timeout), then: {message}"
                )
            notes = []
            if verdict is None and ex.hidden_cycle:
                notes.append("a timed wait timed out inside a wait-for cycle and the code "
                             "recovered: " + "; ".join(ex.hidden_cycle))
            return Outcome(verdict, message, exc, thread_name, list(ex.choices),
                           ex.cycle or list(ex.hidden_cycle), ex.blocked_report, notes,
                           ex.steps, recorder)
        finally:
            if cfg.teardown is not None:
                if cfg.setup is not None:
                    cfg.teardown(state)
                else:
                    cfg.teardown()
    finally:
        if saved_counter is not None:
            threading._counter = saved_counter  # type: ignore[attr-defined]


def _bind(body: Callable[..., object], state: Any, with_state: bool) -> Callable[[], object]:
    if with_state:
        return lambda: body(state)
    return body


def _fresh_counter() -> Callable[[], int]:
    import itertools

    return itertools.count(1).__next__


def _thread_object(name: str) -> threading.Thread:
    """A Thread object standing for a body, so current_thread() answers inside it."""
    return threading.Thread(name=name, daemon=True)


def _check_invariant(inv: Callable[..., object], state: Any, with_state: bool
                     ) -> tuple[str | None, str, BaseException | None]:
    try:
        ok = inv(state) if with_state else inv()
    except Exception as exc:
        return "violation", f"invariant raised {type(exc).__name__}: {exc}", exc
    if ok is False:
        return "violation", "invariant returned False", None
    return None, "", None


def _wait(ex: Execution, watchdog: float, patches: Patches | None = None) -> None:
    """Wait for the execution to end; the runner doubles as watchdog and Ctrl-C handler."""
    last_steps = -1
    last_change = time.perf_counter()
    checked_stall = -1
    try:
        while not ex.done.acquire(True, 0.02):
            now = time.perf_counter()
            if ex.steps != last_steps:
                last_steps, last_change = ex.steps, now
            elif (patches is not None and checked_stall != last_steps
                  and now - last_change > min(STALL, watchdog / 2)):
                checked_stall = last_steps
                if _wrap_locks_near(ex, patches):
                    ex.fail("retry", "stalled on a real lock made before the exploration")
                    break
            elif now - last_change > watchdog:
                _stuck(ex, watchdog)
                break
    except BaseException:
        ex.fail("aborted", "interrupted")
        _join_threads(ex, 1.0)
        raise
    _join_threads(ex, max(watchdog, 1.0))


def _wrap_locks_near(ex: Execution, patches: Patches) -> bool:
    """Wrap real locks reachable from the stuck thread's innermost frames; True if any."""
    cur = ex.current
    frame = sys._current_frames().get(cur.ident) if cur is not None else None
    roots: list[Any] = []
    depth = 0
    while frame is not None and depth < 6:
        module = str(frame.f_globals.get("__name__", ""))
        if not frame.f_code.co_filename.startswith(raw.PACKAGE_DIR) and not module.startswith(
                SKIP_MODULES):
            roots.extend(frame.f_locals.values())
            roots.append(frame.f_globals)
            depth += 1
        frame = frame.f_back
    # Only a lock that is held can be what the thread waits for.
    return any(not lock.poll() for lock in patches.scan_roots(roots))


def _release_leftovers(ex: Execution) -> None:
    """Release what threads still held when the schedule ended.

    A thread unwound by the end of a schedule (or one that exited holding a
    lock) would leave a lock that outlives the schedule locked for every later
    one; schedules must start from the same state.
    """
    for t in ex.threads:
        for lock in list(t.held):
            force = getattr(lock, "force_release", None)
            if force is not None:
                force()
        t.held.clear()


def _stuck(ex: Execution, watchdog: float) -> None:
    cur = ex.current
    where: list[str] = []
    if cur is not None:
        where = user_stack(sys._current_frames().get(cur.ident))
    site = where[-1] if where else "an unknown place"
    ex.blocked_report = [f"{cur.name if cur else '?'} is stuck at {site}"] + [
        f"    {line}" for line in where[-5:]
    ]
    ex.fail(
        "hang",
        f"thread {cur.name if cur else '?'} blocked outside racecheck's control for more than "
        f"{watchdog:g}s at {site} (real I/O, a C call, or a lock racecheck cannot see)",
        thread=cur,
    )


def _join_threads(ex: Execution, limit: float) -> None:
    deadline = time.perf_counter() + limit
    for t in ex.threads:
        remaining = deadline - time.perf_counter()
        if not t.ended.acquire(True, max(remaining, 0.0)):
            _abandon(ex, t)


def _abandon(ex: Execution, t: ManagedThread) -> None:
    """A managed thread that did not unwind (stuck in C): leave it, it is a daemon OS thread."""
    ex.notes.append(f"thread {t.name} could not be stopped and was abandoned")
