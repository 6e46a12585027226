"""The exploration loop: run schedules until one fails or the budget is spent.

Each schedule runs in a forked child of the runner where the platform allows
(see ``isolate.py``: an ended schedule is invisible to the code under test,
and every schedule starts from the same state), otherwise in this process.
Either way ``run_one`` does the work: ``setup()``, one managed thread per
body, the baton to the first choice, and a wait.  The runner is the only
place that waits in real time, so it is also the watchdog: when the running
managed thread makes no progress for ``watchdog`` seconds it is stuck outside
racecheck's control (real I/O, a C call on a lock racecheck cannot see), and
the schedule ends with a ``hang`` verdict naming the blocking call and its
file:line instead of hanging the test suite.

A failure is then replayed once with full recording (values read and
written, source lines), and the report is built from that one run: the
exploration runs fast, the report is rich, and every reported failure is
known to reproduce from its token.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tempfile
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .._settings import debug_checks
from ..errors import (
    InternalError,
    NestedExploration,
    NotExplorable,
    ReplayDiverged,
    UsageError,
)
from ..strategies.base import ChoicePoint, ScheduleSummary, Strategy, count_preemptions
from ..strategies.replay import ReplayStrategy
from . import determinism, instrument, isolate, raw, threads
from . import shrink as shrinking
from . import watchdog as watchdog_
from .events import Observer
from .execution import CheckedExecution, Execution
from .isolate import ChoiceLog
from .outcome import Failure, Result, ScheduleRun, Signal, Verdict, parse_verdict
from .patching import SKIP_MODULES, Patches
from .schedule import PYTHON_TAG, Schedule
from .threads import ManagedThread, describe_exception, detach
from .trace import Recorder, Trace
from .waitfor import Blocked, WaitEdge

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
    replay_hint: str = ""
    eager_timeouts: bool = False
    progress: Callable[[int, int], object] | None = None
    #: True: every schedule in a forked child (an error where impossible);
    #: False: in this process; None: forked where possible.
    isolate: bool | None = None
    #: Run every schedule twice and compare (uncontrolled nondeterminism check).
    check_determinism: bool = False
    #: Scheduling points all the schedules together may take (None: no bound).
    step_budget: int | None = None
    #: Shrink a failing schedule before it is reported (shrink.py).
    shrink: bool = True
    #: Observers of every schedule's events (events.py), besides racecheck's own.
    #: Schedules run in forked children feed the child's copy: pass isolate=False
    #: to keep what an observer gathers.
    observers: Sequence[Observer] = ()
    #: Processes the schedules may be spread over where the strategy allows
    #: (``Strategy.independent``); see ``_search_parallel``.
    jobs: int = 1


@dataclass
class Outcome:
    """What one schedule did (before it becomes a Failure)."""

    verdict: Verdict | Signal | None
    message: str
    exception: BaseException | None
    thread_name: str | None
    choices: list[int]
    cycle: list[WaitEdge]
    blocked: list[Blocked]
    notes: list[str]
    steps: int
    trace: Trace | None = None
    traceback_text: str = ""
    #: ids of real locks a stalled child took over; the parent takes them over too.
    wrap: list[int] = field(default_factory=list)
    #: The verdict rests on a wait racecheck cannot see into (Failure.unseen).
    unseen: bool = False
    #: The thread that reached each choice point (see Execution.currents).
    currents: list[int] = field(default_factory=list)
    #: The options of each choice point, when the strategy keeps them.
    options: list[tuple[int, ...]] = field(default_factory=list)
    #: Every step with its effect, when the strategy wants them (Execution.step_log).
    transitions: list[list[Any]] = field(default_factory=list)
    #: Fairness left a runnable thread out of a choice (Execution.filtered).
    filtered: bool = False
    #: Of a timed schedule (the first): the share of the code's own time spent in
    #: steps longer than execution.LONG_STEP, i.e. in C; None when not timed.
    c_share: float | None = None

    def to_data(self) -> dict[str, Any]:
        exc = self.exception
        return {
            "verdict": self.verdict, "message": self.message,
            "exception": isolate.encode_exception(exc) if exc is not None else None,
            "thread_name": self.thread_name, "choices": self.choices,
            "cycle": [e.to_data() for e in self.cycle],
            "blocked": [b.to_data() for b in self.blocked], "notes": self.notes, "steps": self.steps,
            "trace": self.trace.to_data() if self.trace is not None else None,
            "traceback_text": self.traceback_text or _format(exc), "wrap": self.wrap,
            "unseen": self.unseen, "currents": self.currents,
            "options": [list(o) for o in self.options],
            "transitions": self.transitions, "filtered": self.filtered,
            "c_share": self.c_share,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Outcome:
        exc_data = data.get("exception")
        trace = data.get("trace")
        return cls(
            verdict=parse_verdict(data["verdict"]), message=str(data["message"]),
            exception=isolate.decode_exception(exc_data) if exc_data else None,
            thread_name=data.get("thread_name"), choices=[int(c) for c in data["choices"]],
            cycle=[WaitEdge.from_data(row) for row in data["cycle"]],
            blocked=[Blocked.from_data(row) for row in data["blocked"]], notes=list(data["notes"]),
            steps=int(data["steps"]), trace=Trace.from_data(trace) if trace else None,
            traceback_text=str(data.get("traceback_text") or ""),
            wrap=[int(i) for i in data.get("wrap", [])], unseen=bool(data.get("unseen")),
            currents=[int(c) for c in data.get("currents", [])],
            options=[tuple(int(t) for t in o) for o in data.get("options", [])],
            transitions=list(data.get("transitions") or []),
            filtered=bool(data.get("filtered")),
            c_share=None if data.get("c_share") is None else float(data["c_share"]),
        )


def _format(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


#: Verdicts that are racecheck's own errors or the user's, raised, never reported as races.
RAISED = (Signal.ERROR, Signal.INTERNAL)


def explore(cfg: Config, strategy: Strategy) -> Result:
    if not _active.acquire(False):
        raise NestedExploration(
            "racecheck explorations do not nest: explore()/check() was called from code "
            "that is already being explored"
        )
    try:
        return _explore(cfg, strategy)
    finally:
        _active.release()


def schedule_seed(seed: int | None, index: int) -> int:
    """The seed ``random`` gets at the start of schedule ``index`` (kept in the token)."""
    return zlib.crc32(f"racecheck-random:{seed}:{index}".encode())


def _explore(cfg: Config, strategy: Strategy) -> Result:
    """The pipeline: search for a failing schedule, shrink it, record it for the report.

    Rendering the report is the caller's (``_api`` calls ``_report.render``):
    the kernel hands over data, never text to show.
    """
    start = raw.real_perf_counter()
    notes: list[str] = []
    fork = use_fork(cfg, notes)
    history: list[ScheduleRun] = []
    c_share: list[float | None] = [None]
    # One environment for the whole pipeline: installing it (patching, the module
    # scan) costs as much as a small schedule, and shrinking and recording a
    # failure run in the same one as the search did.
    steps = bool(strategy.wants_steps)  # the environment is installed for a reduction
    with _controlled(cfg, exceptions=steps) as patches:
        runs, failure, found, parallel_from = _search(cfg, strategy, fork, start, notes,
                                                      history, c_share, patches)
        if failure is not None and found is not None:
            if cfg.shrink and not isinstance(strategy, ReplayStrategy):
                proof = strategy.evidence(runs).exhaustive_up_to_preemptions
                _shrink(cfg, failure, found, fork, patches,
                        floor=0 if proof is None else proof + 1, steps=steps)
            _record(cfg, failure, fork, patches)
    return Result(
        ok=failure is None,
        schedules_run=runs,
        elapsed=raw.real_perf_counter() - start,
        seed=cfg.seed,
        strategy=strategy.name,
        failure=failure,
        evidence=strategy.evidence(runs),
        notes=notes,
        runs=history,
        c_share=c_share[0],
        parallel_from=parallel_from,
    )


@dataclass
class _Found:
    """What the search has run so far, and the failure it stopped at."""

    runs: int = 0
    steps: int = 0
    failure: Failure | None = None
    outcome: Outcome | None = None
    #: The first schedule index handed to worker processes (None: none was).
    parallel_from: int | None = None


def _search(cfg: Config, strategy: Strategy, fork: bool, start: float, notes: list[str],
            history: list[ScheduleRun], c_share: list[float | None], patches: Patches,
            ) -> tuple[int, Failure | None, Outcome | None, int | None]:
    """Run schedules until one fails or a budget ends.

    Returns the schedules run, the failure and its run, and the first schedule
    run in parallel (None: none).

    Each schedule run is appended to ``history``; the first schedule is timed,
    its share of time in C goes to ``c_share[0]``.  Where ``cfg.jobs`` asks
    for it, once the strategy's schedules are independent of each other
    (``Strategy.independent``) the rest runs in parallel (``_search_parallel``);
    before that, once part of them is (``Strategy.lanes``), that part runs in
    workers while this process runs the rest (``_search_lanes``).
    """
    found = _Found()
    index = 0
    while index < cfg.schedules:
        if _parallel_from(cfg, strategy, fork, index):
            _search_parallel(cfg, strategy, patches, index, start, notes, history, found)
            break
        if _lanes_from(cfg, strategy, fork, index):
            resume = _search_lanes(cfg, strategy, patches, index, start, notes, history,
                                   found)
            if resume is None:
                break
            index = resume
            continue
        if not fork and index and index % 64 == 0:
            gc.collect()
        begun = _begin(cfg, strategy, index, start, found, notes)
        if begun is None:
            break
        rseed, member = begun
        began = raw.real_perf_counter()
        outcome = run_schedule(cfg, strategy, index, patches, fork=fork, rseed=rseed,
                               record=cfg.check_determinism,
                               timed=index == 0 and TIMING_WORKS)
        if index == 0:
            c_share[0] = outcome.c_share
        if _take(cfg, strategy, index, rseed, member, outcome,
                 raw.real_perf_counter() - began, found, notes, history):
            break
        index += 1
    return found.runs, found.failure, found.outcome, found.parallel_from


def _begin(cfg: Config, strategy: Strategy, index: int, start: float, found: _Found,
           notes: list[str]) -> tuple[int, str] | None:
    """Begin schedule ``index``: its ``random`` seed and member strategy, or None
    when a budget is spent or the strategy has nothing left to try."""
    if (index and cfg.time_budget is not None  # a budget always allows one schedule
            and raw.real_perf_counter() - start > cfg.time_budget):
        notes.append(f"time budget of {cfg.time_budget:g}s reached")
        return None
    if index and cfg.step_budget is not None and found.steps >= cfg.step_budget:
        notes.append(f"step budget of {cfg.step_budget:,} scheduling points spent")
        return None
    if not _strategy_call(strategy, "begin", index):
        return None
    member = (_strategy_call(strategy, "member") if hasattr(strategy, "member")
              else getattr(strategy, "name", ""))
    return _rseed(cfg, strategy, index), str(member)


def _take(cfg: Config, strategy: Strategy, index: int, rseed: int, member: str,
          outcome: Outcome, seconds: float, found: _Found, notes: list[str],
          history: list[ScheduleRun]) -> bool:
    """Book schedule ``index``'s outcome; True when the search stops at it (a failure)."""
    history.append(ScheduleRun(
        index, member, outcome.steps, len(outcome.choices),
        count_preemptions(outcome.choices, outcome.currents),
        None if outcome.verdict is None else str(outcome.verdict), round(seconds, 6)))
    found.runs += 1
    found.steps += outcome.steps
    _raise_errors(outcome, found.runs - 1)
    if outcome.verdict == Signal.TOO_LONG:
        raise _too_long(cfg, outcome, index)
    if isinstance(strategy, ReplayStrategy):
        _check_replay_used(strategy, outcome)
        if outcome.verdict == Signal.DIVERGED:
            raise ReplayDiverged(outcome.message)
    _strategy_call(strategy, "end", ScheduleSummary(index, outcome.verdict, outcome.steps,
                                                    tuple(outcome.choices),
                                                    tuple(outcome.currents),
                                                    tuple(outcome.options),
                                                    tuple(outcome.transitions),
                                                    outcome.filtered))
    if cfg.progress is not None:
        cfg.progress(found.runs, cfg.schedules)
    notes.extend(n for n in outcome.notes if n not in notes)
    if outcome.verdict is not None:
        found.failure = _make_failure(cfg, outcome, index, rseed)
        found.outcome = outcome
        return True
    return False


#: Fewer schedules than this per process left: not worth forking workers for.
PARALLEL_MIN = 4


def _may_spread(cfg: Config, strategy: Strategy, fork: bool, index: int, hook: str) -> bool:
    """Whether schedules from ``index`` on may go to workers at all (``jobs=``, forked
    schedules, nothing that must see every schedule here, enough of them left), and
    the strategy has the ``hook`` that says which of them may."""
    return (cfg.jobs > 1 and fork and index > 0 and not cfg.check_determinism
            and not cfg.observers and not isinstance(strategy, ReplayStrategy)
            and cfg.schedules - index >= PARALLEL_MIN * cfg.jobs
            and hasattr(strategy, hook))


def _parallel_from(cfg: Config, strategy: Strategy, fork: bool, index: int) -> bool:
    """Whether the schedules from ``index`` on run in parallel (checked before each)."""
    return (_may_spread(cfg, strategy, fork, index, "independent")
            and bool(_strategy_call(strategy, "independent")))


def _search_parallel(cfg: Config, strategy: Strategy, patches: Patches, first: int,
                     start: float, notes: list[str], history: list[ScheduleRun],
                     found: _Found) -> None:
    """Schedules ``first``.. spread over ``cfg.jobs`` worker processes, booked in order.

    Each worker claims the next index no worker has taken (``isolate.Pool``)
    and runs it in a forked child of its own as the serial search does, after
    calling the strategy's ``begin`` for every index up to it so its state
    moves as here.  Claiming rather than dealing indices out in turn keeps
    both CPUs busy when one worker is slower (it shares its CPU with this
    process's booking: 6.3 s against 5.0 s for the same number of schedules
    when dealt out).  This process calls ``begin`` for every index too, then
    books the outcome in index order, exactly as a serial search: the budget
    checks, ``end``, the notes, the first failing index.  So verdict, failing
    schedule and token are the serial run's, whatever finishes first.  The
    work a worker did past the first failure or the budget is thrown away.
    A worker that dies or goes silent leaves its schedules to this process.
    """
    jobs = cfg.jobs
    work = _work(cfg, strategy, patches, first,
                 lambda index: bool(_strategy_call(strategy, "begin", index)))
    workers = _Workers(cfg, strategy, patches, work, jobs, first)
    found.parallel_from = first
    try:
        for index in range(first, cfg.schedules):
            begun = _begin(cfg, strategy, index, start, found, notes)
            if begun is None:
                break
            rseed, member = begun
            outcome, seconds = workers.outcome(index, index, rseed)
            if _take(cfg, strategy, index, rseed, member, outcome, seconds, found, notes,
                     history):
                break
    finally:
        workers.stop()


def _work(cfg: Config, strategy: Strategy, patches: Patches, first: int,
          begin: Callable[[int], bool]) -> Callable[[Callable[[], int], isolate.Send], None]:
    """What a worker runs: claim keys from ``first`` on, ``begin`` every key up to
    the claimed one, in order (False: nothing left), run it, send its outcome."""

    def work(claim: Callable[[], int], send: isolate.Send) -> None:  # pragma: no cover
        begun = first  # the next key to begin
        while True:
            try:
                key = claim()
                if key >= cfg.schedules:
                    return
                while begun <= key:
                    if not begin(begun):
                        return
                    begun += 1
                rseed = _rseed(cfg, strategy, key)
                began = raw.real_perf_counter()
                outcome = run_schedule(cfg, strategy, key, patches, fork=True, rseed=rseed,
                                       record=False)
            except (SystemExit, KeyboardInterrupt):
                return
            except BaseException as exc:
                send({"index": key, "error": isolate.encode_exception(exc)})
                return
            send({"index": key, "outcome": outcome.to_data(),
                  "seconds": raw.real_perf_counter() - began})
            if outcome.verdict is not None:
                return  # nothing after a failure (or an error) is booked

    return work


class _Workers:
    """A Pool whose workers claim keys from ``first`` on and send their outcomes;
    when a worker dies or hangs, the pool is stopped and schedules run here."""

    def __init__(self, cfg: Config, strategy: Strategy, patches: Patches,
                 work: Callable[[Callable[[], int], isolate.Send], None], jobs: int,
                 first: int, *, beside: bool = False) -> None:
        self.cfg, self.strategy, self.patches = cfg, strategy, patches
        cpus = _spread_cpus()
        if beside and cpus and len(cpus) > 1:
            # this process runs schedules too: the workers take the other CPUs first
            cpus = cpus[1:] + cpus[:1]
        self.pool: isolate.Pool | None = isolate.Pool(jobs, work, cpus, first)

    def outcome(self, key: int | None, index: int, rseed: int) -> tuple[Outcome, float]:
        """Schedule ``index``'s outcome and seconds: the workers' for ``key``, else run here."""
        message = None
        if key is not None and self.pool is not None:
            message = self.pool.result(key, 4 * _silence_limit(self.cfg))
            if message is None:  # the worker died or hung: the rest runs here
                self.stop()
        if message is None:
            began = raw.real_perf_counter()
            outcome = run_schedule(self.cfg, self.strategy, index, self.patches, fork=True,
                                   rseed=rseed, record=False)
            return outcome, raw.real_perf_counter() - began
        if "error" in message:
            raise _from_child(message["error"])
        return Outcome.from_data(message["outcome"]), float(message["seconds"])

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()
            self.pool = None


def _lanes_from(cfg: Config, strategy: Strategy, fork: bool, index: int) -> bool:
    """Whether part of the schedules from ``index`` on run in workers (``Strategy.lanes``)."""
    return (_may_spread(cfg, strategy, fork, index, "lanes")
            and _strategy_call(strategy, "lanes") is not None)


def _search_lanes(cfg: Config, strategy: Strategy, patches: Patches, first: int,
                  start: float, notes: list[str], history: list[ScheduleRun],
                  found: _Found) -> int | None:
    """Schedules ``first``.. with the strategy's independent part in workers.

    The default alternates a dpor search, whose next schedule needs the last
    one's trace, with sampling, whose schedules are independent once PCT has
    learned (``Strategy.lanes``).  The search runs here, as in a serial run;
    ``cfg.jobs - 1`` workers run the sampled schedules by their number in the
    sampled sequence (numbers, not indices: which index a sampled schedule
    gets depends on the search, but not its choices or its ``random`` seed),
    each calling ``begin_lane`` for every number so their strategy moves as
    here.  Outcomes are booked in index order, as in ``_search_parallel``.
    Returns the index to go on from once the whole strategy is independent
    (then ``_search_parallel`` takes over), or None when the search ended.
    """
    lane0 = int(_strategy_call(strategy, "lanes"))
    workers = max(1, cfg.jobs - 1)

    def begin_lane(lane: int) -> bool:
        _strategy_call(strategy, "begin_lane", lane)
        return True

    work = _work(cfg, strategy, patches, lane0, begin_lane)
    pool = _Workers(cfg, strategy, patches, work, workers, lane0, beside=True)
    if found.parallel_from is None:
        found.parallel_from = first
    try:
        for index in range(first, cfg.schedules):
            if _parallel_from(cfg, strategy, True, index):
                return index
            begun = _begin(cfg, strategy, index, start, found, notes)
            if begun is None:
                return None
            rseed, member = begun
            lane = _strategy_call(strategy, "lane")  # None: the search's, run here
            outcome, seconds = pool.outcome(lane, index, rseed)
            if _take(cfg, strategy, index, rseed, member, outcome, seconds, found, notes,
                     history):
                return None
        return None
    finally:
        pool.stop()


def _spread_cpus() -> list[int] | None:
    """The CPUs workers are pinned to, the exploring thread's own first."""
    if _allowed_cpus is None or not hasattr(os, "sched_getaffinity"):
        return None
    try:
        own = sorted(os.sched_getaffinity(0))
    except OSError:
        return None
    rest = [c for c in sorted(_allowed_cpus) if c not in own]
    return own[:1] + rest


def _shrink(cfg: Config, failure: Failure, found: Outcome, fork: bool,
            patches: Patches, *, floor: int = 0, steps: bool = False) -> None:
    """Replace the failure's schedule with the simplest one that fails the same way.

    ``floor``: the fewest preemptions a failing schedule can have, by the
    search's own proof (its ``random`` seed is the search's, not always the
    failure's: where the code draws random numbers, the shrunk schedule may
    keep a preemption more than it needs).
    """
    best = _as_run(found)
    if best.preemptions <= floor:
        return
    rseed = Schedule.from_token(failure.token).rseed

    def run(strategy: Strategy) -> shrinking.Run | None:
        out = run_schedule(cfg, strategy, 0, patches, fork=fork, rseed=rseed, record=False)
        if out.verdict is not None and not isinstance(out.verdict, Verdict):
            return None
        return _as_run(out)

    shrunk, failure.shrink_runs = shrinking.shrink(best, run, floor=floor, steps=steps)
    if shrunk is not best:
        failure.token = Schedule(shrunk.choices, PYTHON_TAG, rseed).to_token()
        failure.preemptions = shrunk.preemptions


def _as_run(outcome: Outcome) -> shrinking.Run:
    """What a schedule did, as shrinking compares it."""
    signature = shrinking.signature(outcome.verdict, outcome.exception,
                                    outcome.traceback_text or _format(outcome.exception))
    return shrinking.Run(tuple(outcome.choices), tuple(outcome.currents), outcome.steps,
                         signature, tuple(outcome.options), tuple(outcome.transitions),
                         outcome.filtered)


def _record(cfg: Config, failure: Failure, fork: bool, patches: Patches) -> None:
    """Replay the failing schedule with full recording: the report describes that run."""
    detail = replay_outcome(cfg, failure.token, fork=fork, patches=patches)
    _adopt(failure, detail)


def _strategy_call(strategy: Strategy, method: str, *args: Any) -> Any:
    """Call a strategy hook; its exception is an InternalError, never the user's."""
    try:
        return getattr(strategy, method)(*args)
    except Exception as exc:
        name = getattr(strategy, "name", "") or type(strategy).__name__
        raise InternalError(f"strategy {name!r} raised in {method}(): "
                            f"{describe_exception(exc)}") from exc


def use_fork(cfg: Config, notes: list[str]) -> bool:
    if cfg.isolate is False:
        return False
    why = isolate.fork_unavailable(insist=bool(cfg.isolate))
    if why and cfg.isolate:
        raise UsageError(f"isolate=True needs every schedule in a forked child, but {why}")
    if why:
        notes.append(f"schedules ran in this process: {why}")
    return not why


def _rseed(cfg: Config, strategy: Strategy, index: int) -> int:
    """The seed ``random`` gets in schedule ``index``: the strategy's own when it has one
    (a replay's; a systematic search's, the same in every schedule)."""
    fixed = getattr(strategy, "rseed", None)
    if isinstance(fixed, int):
        return fixed
    return schedule_seed(cfg.seed, index)


def _check_replay_used(strategy: ReplayStrategy, outcome: Outcome) -> None:
    """A replay that stops short of its recorded choices did not follow them."""
    unused = len(strategy.choices) - len(outcome.choices)
    if outcome.verdict != Signal.DIVERGED and unused > 0:
        # Also when it failed: the recorded run made every one of its choices before
        # its verdict, so a run that fails sooner is another run.
        outcome.verdict = Signal.DIVERGED
        outcome.message = (f"the schedule finished with {unused} recorded choices unused: "
                           "the code no longer follows it")


def _raise_errors(outcome: Outcome, completed: int) -> None:
    """Usage limits and racecheck's own failures are errors, never verdicts."""
    if outcome.verdict not in RAISED:
        return
    exc = outcome.exception
    if isinstance(exc, NotExplorable):
        exc.schedules_run = completed
    if isinstance(exc, (UsageError, InternalError)):
        raise exc
    raise InternalError(outcome.message)


def _too_long(cfg: Config, outcome: Outcome, index: int) -> NotExplorable:
    """A schedule that was still making progress at max_steps: not a race, not a pass."""
    done = f"{index} schedule{'s' if index != 1 else ''} completed before it" if index \
        else "no schedule completed"
    return NotExplorable(
        f"racecheck cannot explore this body: schedule {index + 1} {outcome.message}; {done}. "
        "Exploring many interleavings needs a short body: under racecheck, run it with fewer "
        "threads, iterations or seconds (a stress loop of 2-3 threads and a few operations "
        "each finds the same races), or raise max_steps= (pytest: --racecheck-max-steps, or "
        "@pytest.mark.racecheck(max_steps=N))",
        reason=f"too long to explore (more than {cfg.max_steps} scheduling points or "
               f"{_schedule_seconds(cfg.watchdog):g}s per schedule, still progressing)",
        schedules_run=index,
    )


def _adopt(failure: Failure, detail: Outcome) -> None:
    """The report is built from one run: the recorded replay, when it reproduced."""
    failure.replayed = detail.verdict
    failure.replay_message = detail.message if detail.verdict != failure.kind else ""
    if detail.verdict == failure.kind:
        failure.message = detail.message
        failure.cycle = list(detail.cycle)
        failure.blocked = list(detail.blocked)
        failure.thread_name = detail.thread_name
        if detail.exception is not None:
            failure.exception = detail.exception
            failure.traceback_text = detail.traceback_text or _format(detail.exception)
        failure.trace = detail.trace
    else:
        failure.trace = None  # never the interleaving of another run than the one reported


@contextmanager
def _controlled(cfg: Config, exceptions: bool = False) -> Iterator[Patches]:
    """The environment schedules run in; everything is put back, also on errors.

    Shims patched in, instrumentation on, cyclic GC off (finalizers and weakref
    callbacks running at GC time would run user code at points no schedule
    controls), racecheck's own Abort kept out of the unraisable hook, the
    global random generators saved, and the runner pinned to one CPU.
    """
    global _allowed_cpus
    patches = Patches()
    affinity = _allowed_cpus = _pin_to_one_cpu()
    gc_was_enabled = gc.isenabled()
    previous_hook = sys.unraisablehook
    saved_random = _random_state()
    sys.unraisablehook = _quiet_abort(previous_hook)
    gc.disable()
    try:
        patches.install()
        patches.scan_roots([*cfg.threads, cfg.setup, cfg.invariant, cfg.teardown])
        patches.scan_globals([*cfg.threads, cfg.setup, cfg.invariant, cfg.teardown])
        instrument.install(exceptions=exceptions)
        yield patches
    finally:
        instrument.uninstall()
        patches.restore()
        if gc_was_enabled:
            gc.enable()
        sys.unraisablehook = previous_hook
        _restore_random(saved_random)
        _restore_affinity(affinity)
        _allowed_cpus = None


def _random_state() -> tuple[Any, Any]:
    np = sys.modules.get("numpy")
    np_state = None
    if np is not None:
        try:
            np_state = np.random.get_state()
        except Exception:
            np_state = None
    return random.getstate(), np_state


def _restore_random(saved: tuple[Any, Any]) -> None:
    random.setstate(saved[0])
    np = sys.modules.get("numpy")
    if np is not None and saved[1] is not None:
        try:
            np.random.set_state(saved[1])
        except Exception:
            pass


def _reseed(rseed: int) -> None:
    """Seed ``random`` and NumPy's global generator for one schedule (pytest-randomly's way)."""
    random.seed(rseed)
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed(rseed)
        except Exception:
            pass


#: While an exploration runs: the CPUs the process had before it was pinned
#: (None: not pinned), for parallel workers to spread over.
_allowed_cpus: set[int] | None = None


def _pin_to_one_cpu() -> set[int] | None:
    """Keep the runner and the managed threads it starts on one CPU.

    Only one managed thread runs at a time, so a second CPU buys nothing, and a
    baton handed between threads on different CPUs costs a cross-CPU wakeup:
    bench/overhead.py measured a switch at ~20 us across CPUs and ~6 us on one.
    Threads inherit the affinity of the thread that starts them; only the
    runner thread's own affinity changes, and it is restored afterwards.  The
    CPU is picked from the pytest-xdist worker's number (gw0, gw1...) where
    there is one, so workers land on different CPUs; else it is the CPU the
    kernel runs this process on, which its balancer chose: by process id, two
    explorations running at once shared one CPU half the time, while the
    other idled (bench/run.py runs two measurements at once).
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        allowed = os.sched_getaffinity(0)
        if len(allowed) < 2:
            return None
        number = _worker_number()
        ordered = sorted(allowed)
        cpu = ordered[number % len(allowed)] if number is not None else _current_cpu(ordered)
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return None
    return allowed


def _worker_number() -> int | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:])
    return None


def _current_cpu(allowed: list[int]) -> int:
    """The CPU this process last ran on (Linux), if allowed; else one by process id."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            # the fields after the command's closing parenthesis start at the 3rd;
            # the 39th is the CPU last run on (proc(5))
            cpu = int(stat.read().rsplit(b")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        cpu = -1
    return cpu if cpu in allowed else allowed[os.getpid() % len(allowed)]


def _restore_affinity(allowed: set[int] | None) -> None:
    if allowed is not None:
        try:
            os.sched_setaffinity(0, allowed)
        except OSError:
            pass


def _quiet_abort(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """An unraisablehook that drops racecheck's own Abort (in-process schedules).

    When a schedule ends, parked threads unwind with Abort; one that is inside a
    weakref callback or ``__del__`` (ThreadPoolExecutor's ``weakref_cb``) can
    only report it as "unraisable", which pytest turns into an error.
    """
    from .threads import Abort

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Abort):
            return
        previous(unraisable)

    return hook


def replay_outcome(cfg: Config, token: str, *, fork: bool,
                   patches: Patches | None = None) -> Outcome:
    """Run the schedule of ``token`` once, recording everything; in ``patches``'
    environment when the caller has one on, else in one of its own."""
    schedule = Schedule.from_token(token)
    strategy = ReplayStrategy(schedule.choices, schedule.rseed)
    strategy.begin(0)
    if not fork:
        gc.collect()  # start from the heap a fresh exploration would see
    env: AbstractContextManager[Patches] = (
        nullcontext(patches) if patches is not None else _controlled(cfg))
    with env as patches:
        outcome = run_schedule(cfg, strategy, 0, patches, fork=fork, rseed=schedule.rseed,
                               record=True)
    if outcome.verdict != Signal.DIVERGED and len(outcome.choices) < len(schedule.choices):
        outcome.verdict = Signal.DIVERGED
        outcome.message = (
            f"the execution ended with {len(schedule.choices) - len(outcome.choices)} "
            "recorded choices unused: the code no longer follows the schedule"
        )
    return outcome


def _finding(outcome: Outcome) -> Verdict:
    """The verdict of a schedule that failed (its signals were handled before)."""
    if isinstance(outcome.verdict, Verdict):
        return outcome.verdict
    raise InternalError(f"a schedule stopped with {outcome.verdict!r} ({outcome.message}), "
                        "which the runner should have handled before reporting it")


def _make_failure(cfg: Config, outcome: Outcome, index: int, rseed: int) -> Failure:
    token = Schedule(tuple(outcome.choices), PYTHON_TAG, rseed).to_token()
    preempted = count_preemptions(outcome.choices, outcome.currents)
    return Failure(
        kind=_finding(outcome),
        message=outcome.message,
        token=token,
        schedule_index=index,
        seed=cfg.seed,
        exception=outcome.exception,
        thread_name=outcome.thread_name,
        traceback_text=outcome.traceback_text or _format(outcome.exception),
        cycle=list(outcome.cycle),
        blocked=list(outcome.blocked),
        notes=list(outcome.notes),
        unseen=outcome.unseen,
        preemptions=preempted,
        found_preemptions=preempted,
    )


# --------------------------------------------------------------- one schedule


#: A schedule that makes no progress for this long is checked for a real lock
#: racecheck had not found (see ``_wrap_locks_near``); the full watchdog is longer.
STALL = 0.2
MAX_RETRIES = 3
#: Whether the first schedule can be timed (Result.c_share).  Not on 3.12: the
#: timing leaves racecheck's own code out with a profile hook, and 3.12's profile
#: trampoline writes f_locals back into the frame after every call, which with the
#: dpor decoder reading f_locals assigned None to a comprehension's variable
#: (multiprocessing's import broke); without the hook, pytest's fixture code
#: counted as C.  3.12 explores in controlled mode unless perturb is asked for.
TIMING_WORKS = sys.version_info[:2] != (3, 12)
#: CPU seconds of long steps (work in C) below which a timed schedule's c_share is
#: 0: a first call into a library, or a collection, makes a step of 0.1-0.5 ms now
#: and then; four NumPy adds of 400,000 elements take 0.9-3 ms of CPU, by machine.
MIN_C_SECONDS = 0.001


def run_schedule(cfg: Config, strategy: Strategy, index: int, patches: Patches, *,
                 fork: bool, rseed: int, record: bool, timed: bool = False) -> Outcome:
    """Run schedule ``index``; rerun it when it stalled on a lock found only then.

    A lock made before the exploration and out of the scan's reach (a local of
    a library frame, an object held by another object) is a real C lock: a
    managed thread blocks on it in C while the holder is parked, and nothing
    moves.  The runner then wraps the real locks reachable from the stuck
    thread's frames and runs the same schedule again from the start, now with
    the lock under control.  The attempt that stalled is discarded.
    """
    outcome: Outcome | None = None
    attempt: Strategy = strategy
    for _attempt in range(MAX_RETRIES + 1):
        if fork:
            outcome = _run_forked(cfg, attempt, index, patches, rseed, record, timed=timed)
        else:
            outcome = determinism.run_twice(cfg, attempt, patches, rseed, record) \
                if cfg.check_determinism else run_one(cfg, attempt, _recorder(record), None,
                                                      patches, rseed=rseed, timed=timed)
        if outcome.verdict != Signal.RETRY:
            return outcome
        if fork:
            # The child's choices never reached this process's strategy: it is still
            # where begin(index) left it, and makes the same choices again.  A
            # strategy's begin() runs once per schedule (a search stack moves once).
            patches.take_over(set(outcome.wrap))
        else:
            attempt = _Continue(outcome.choices, strategy)  # what ran, then the strategy
    assert outcome is not None
    outcome.verdict = Verdict.HANG
    outcome.unseen = True
    outcome.message = (f"the schedule kept stalling on locks racecheck could not take over "
                       f"({MAX_RETRIES} retries): {outcome.message}")
    return outcome


class _Continue(Strategy):
    """A retried in-process schedule: the choices it made, then its strategy's.

    In this process the strategy already made those choices (its state moved
    on); calling its ``begin`` again to repeat them would move a search stack
    twice.
    """

    def __init__(self, prefix: Sequence[int], strategy: Strategy) -> None:
        self.prefix = prefix
        self.next = 0  # index of the next prefix choice; past the end, the strategy's
        self.strategy = strategy
        self.name = strategy.name
        self.wants_accesses = strategy.wants_accesses
        self.wants_options = strategy.wants_options
        self.wants_steps = strategy.wants_steps

    def begin(self, index: int) -> bool:
        return True

    def _next(self, options: Sequence[int]) -> int | None:
        # The lock taken over adds points: once the prefix no longer fits, drop it.
        if self.next < len(self.prefix) and self.prefix[self.next] in options:
            self.next += 1
            return self.prefix[self.next - 1]
        self.next = len(self.prefix)
        return None

    def choose(self, options: Sequence[int], current: int) -> int:
        choice = self._next(options)
        return self.strategy.choose(options, current) if choice is None else choice

    def choose_point(self, point: ChoicePoint) -> int:
        choice = self._next(point.options)
        return self.strategy.choose_point(point) if choice is None else choice


def _recorder(record: bool) -> Recorder | None:
    return Recorder() if record else None


def _silence_limit(cfg: Config) -> float:
    """Seconds a schedule's child may send nothing (its runner stuck in setup/teardown)."""
    return max(30.0, 6 * cfg.watchdog)


def _run_forked(cfg: Config, strategy: Strategy, index: int, patches: Patches, rseed: int,
                record: bool, log: ChoiceLog | None = None, timed: bool = False) -> Outcome:
    def body(send: isolate.Send) -> None:
        def report(outcome: Outcome) -> None:
            send({"outcome": outcome.to_data()})

        if cfg.check_determinism:
            report(determinism.run_twice(cfg, strategy, patches, rseed, record, send=send))
        else:
            run_one(cfg, strategy, _recorder(record), log, patches, rseed=rseed,
                    on_outcome=report, send=send, timed=timed)
        send({"learned": instrument.new_analyses()})
        send({"done": True})

    child = isolate.run_in_child(body, _silence_limit(cfg), after_outcome=max(cfg.watchdog, 1.0))
    instrument.learn(child.first("learned") or [])
    data = child.first("outcome")
    error = child.first("error")
    if data is None:
        if error is not None:
            raise _from_child(error)
        if child.silent_for:
            return _silent_child(child, cfg)
        if log is not None:
            return _crash(child, log)
        return _crashed(cfg, strategy, index, patches, rseed, record, child)
    outcome = Outcome.from_data(data)
    if error is not None:  # teardown raised after the outcome was known
        raise _from_child(error)
    if child.first("done") is None:
        outcome.notes.append(
            f"the schedule's teardown did not finish ({child.how_it_ended()}"
            + (f" after {child.silent_for:.0f}s without progress" if child.silent_for else "")
            + ")")
    return outcome


def _from_child(error: dict[str, Any]) -> BaseException:
    exc = isolate.decode_exception(error)
    text = str(error.get("traceback") or "")
    if text and hasattr(exc, "add_note"):
        exc.add_note("raised in the schedule's process:\n" + text.rstrip())
    return exc


def _silent_child(child: isolate.ChildResult, cfg: Config) -> Outcome:
    phase = child.phase or "setup"
    message = (f"the schedule's {phase} (run by the runner, outside the managed threads) "
               f"did not return for {child.silent_for:.0f}s; racecheck stopped it")
    return Outcome(Verdict.HANG, message, None, None, [], [], [], [], 0, unseen=True)


def _crashed(cfg: Config, strategy: Strategy, index: int, patches: Patches, rseed: int,
             record: bool, child: isolate.ChildResult) -> Outcome:
    """The child died without an outcome: run the schedule again, logging every choice."""
    with tempfile.TemporaryFile() as scratch:
        log = ChoiceLog(scratch.fileno())
        # No second begin(): the crashed child's choices never reached this strategy.
        again = _run_forked(cfg, strategy, index, patches, rseed, record, log)
    if again.verdict != Verdict.CRASH:
        again.notes.append(f"a first run of this schedule crashed ({child.how_it_ended()})")
    return again


def _crash(child: isolate.ChildResult, log: ChoiceLog) -> Outcome:
    os.lseek(log.fd, 0, os.SEEK_SET)
    text = b""
    while chunk := os.read(log.fd, 1 << 16):
        text += chunk
    lines = [ln for ln in text.decode().split("\n") if ln.startswith("S")]
    choices: list[int] = []
    if lines:
        choices = [int(x) for x in lines[-1].partition(":")[2].split(",") if x]
    message = f"the interpreter crashed ({child.how_it_ended()})"
    return Outcome(Verdict.CRASH, message, None, None, choices, [], [], [], 0)


def run_one(cfg: Config, strategy: Strategy, recorder: Recorder | None,
            log: ChoiceLog | None = None, patches: Patches | None = None, *, rseed: int = 0,
            on_outcome: Callable[[Outcome], None] | None = None,
            send: isolate.Send | None = None, clock_shift: float = 0.0,
            timed: bool = False) -> Outcome:
    """Run one schedule under ``strategy``; patches and instrumentation are already on.

    ``timed``: measure the share of the run spent in calls into C (``c_share``).
    """
    saved_counter = getattr(threading, "_counter", None)
    threading._counter = _fresh_counter()  # type: ignore[attr-defined]  # same names each schedule
    from .._sync import vtime

    base_time, base_mono = vtime.bases()
    kind = CheckedExecution if "baton" in debug_checks() else Execution
    ex = kind(strategy, max_steps=cfg.max_steps, max_threads=cfg.max_threads,
                   recorder=recorder, eager_timeouts=cfg.eager_timeouts, choice_log=log,
                   observers=cfg.observers,
                   base_time=base_time + clock_shift, base_mono=base_mono + clock_shift,
                   watchdog=cfg.watchdog,
                   on_end=isolate.silence_output if threads.in_child else None)
    if timed:
        ex.timing = ex.watched = True  # watched: every point goes through instrument._reach
    state: Any = None
    if log is not None:
        log.schedule(0)
    _reseed(rseed)
    threads.runner_view = (raw.get_ident(), ex)
    try:
        _phase(send, "setup")
        state = cfg.setup() if cfg.setup is not None else None
        _phase(send, "run")
        outcome = _run_threads(cfg, ex, state, patches,
                               beat=(lambda: send({"phase": "run"})) if send is not None else None)
        if timed:
            # a millisecond or so in C is no reason to run the threads for real
            outcome.c_share = 0.0 if ex.long_seconds < MIN_C_SECONDS else round(
                ex.long_seconds / max(ex.code_seconds, 1e-9), 4)
        if outcome.verdict is None and cfg.invariant is not None:
            _phase(send, "invariant")
            outcome.verdict, outcome.message, outcome.exception = _check_invariant(
                cfg.invariant, state, cfg.setup is not None)
            outcome.thread_name = None
        if outcome.verdict == Verdict.VIOLATION and ex.hidden_cycle:
            outcome.verdict = Verdict.DEADLOCK
            outcome.message = (
                "a timed wait timed out while its threads formed a wait-for cycle "
                f"(a deadlock hidden by a timeout), then: {outcome.message}"
            )
        if outcome.verdict is None and ex.hidden_cycle:
            outcome.notes.append("a timed wait timed out inside a wait-for cycle and the "
                                 "code recovered: " + "; ".join(map(str, ex.hidden_cycle)))
        if recorder is not None:
            recorder.finish(outcome.thread_name if outcome.verdict == Verdict.VIOLATION else None)
            outcome.trace = recorder.trace
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome
    finally:
        try:
            if cfg.teardown is not None:
                _phase(send, "teardown")
                if cfg.setup is not None:
                    cfg.teardown(state)
                else:
                    cfg.teardown()
        finally:
            threads.runner_view = None
            if saved_counter is not None:
                threading._counter = saved_counter  # type: ignore[attr-defined]


def _phase(send: isolate.Send | None, name: str) -> None:
    if send is not None:
        send({"phase": name})


def _run_threads(cfg: Config, ex: Execution, state: Any, patches: Patches | None,
                 beat: Callable[[], object] | None = None) -> Outcome:
    try:
        for i, body in enumerate(cfg.threads):
            call = _bind(body, state, cfg.setup is not None)
            ex.spawn(call, cfg.names[i], thread_obj=_thread_object(cfg.names[i]))
        ex.begin()
    except BaseException:
        ex.fail(Signal.ABORTED, "interrupted")
        _join_threads(ex, 1.0)
        raise
    try:
        _wait(ex, cfg.watchdog, patches, beat)
    finally:
        _release_leftovers(ex)
    return Outcome(ex.verdict, ex.message, ex.exception,
                   ex.failed_thread.name if ex.failed_thread is not None else None,
                   list(ex.choices), ex.cycle or list(ex.hidden_cycle), ex.blocked_report,
                   list(ex.notes), ex.steps, wrap=list(ex.took_over), unseen=ex.unseen,
                   currents=list(ex.currents), options=list(ex.option_log or ()),
                   transitions=ex.step_log or [], filtered=ex.filtered)


def _bind(body: Callable[..., object], state: Any, with_state: bool) -> Callable[[], object]:
    if with_state:
        return lambda: body(state)
    return body


def _fresh_counter() -> Callable[[], int]:
    import itertools

    return itertools.count(1).__next__


def _thread_object(name: str) -> threading.Thread:
    """A Thread object standing for a body, so current_thread() answers inside it.

    Not a daemon, like a program's main thread: threads it starts inherit the
    flag, and non-daemon threads keep the schedule going after the body returns.
    """
    return threading.Thread(name=name, daemon=False)


def _check_invariant(inv: Callable[..., object], state: Any, with_state: bool
                     ) -> tuple[Verdict | None, str, BaseException | None]:
    try:
        ok = inv(state) if with_state else inv()
    except Exception as exc:
        return Verdict.VIOLATION, f"invariant raised {describe_exception(exc)}", exc
    if ok is False or (_numpy_bool(ok) and not ok):  # (a == b).all() returns numpy's False
        return Verdict.VIOLATION, "invariant returned False", None
    return None, "", None


def _numpy_bool(value: object) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


#: Real seconds one schedule may take while making progress before it is too long
#: to explore (at least; four watchdogs when that is more).
SCHEDULE_SECONDS = 20.0


def _schedule_seconds(watchdog: float) -> float:
    return max(SCHEDULE_SECONDS, 4 * watchdog)


def _wait(ex: Execution, watchdog: float, patches: Patches | None = None,
          beat: Callable[[], object] | None = None) -> None:
    """Wait for the execution to end; the runner doubles as watchdog and Ctrl-C handler.

    ``beat`` tells a parent process that the schedule is alive and progressing
    (a long schedule is not a silent one).
    """
    last_steps = -1
    start = last_change = last_beat = raw.real_perf_counter()
    checked_stall = -1
    limit = _schedule_seconds(watchdog)
    try:
        while not ex.done.acquire(True, 0.02):
            now = raw.real_perf_counter()
            if beat is not None and now - last_beat > 1.0 and ex.steps != last_steps:
                last_beat = now
                beat()
            if now - start > limit and ex.steps != last_steps:
                per_point = (now - start) / max(ex.steps, 1)
                slow = (f", {per_point * 1000:.1f} ms each: most of it inside calls racecheck "
                        "cannot see into, such as a database's own locks held by a parked "
                        "thread" if per_point > 0.0005 else "")
                ex.fail(Signal.TOO_LONG, f"ran for {limit:g}s of real time ({ex.steps} scheduling "
                                    f"points{slow}) without ending and was still making progress")
                break
            if ex.steps != last_steps or ex.external_wait:
                # Progress, or the scheduler itself waits for real I/O (with its own limit).
                last_steps, last_change = ex.steps, now
            elif (patches is not None and checked_stall != last_steps
                  and now - last_change > min(STALL, watchdog / 2)):
                checked_stall = last_steps
                if watchdog_.stalled_on_lock(ex) and _wrap_locks_near(ex, patches):
                    ex.fail(Signal.RETRY, "stalled on a real lock made before the exploration")
                    break
            elif now - last_change > watchdog:
                watchdog_.report_stuck(ex, watchdog)
                break
    except BaseException:
        ex.fail(Signal.ABORTED, "interrupted")
        _join_threads(ex, 1.0)
        raise
    if ex.unwind:
        _join_threads(ex, max(watchdog, 1.0))


def _wrap_locks_near(ex: Execution, patches: Patches) -> bool:
    """Wrap real locks reachable from the stuck thread's innermost frames; True if any."""
    frame = watchdog_.stuck_frame(ex)
    roots: list[Any] = []
    labels: list[str] = []
    depth = 0
    while frame is not None and depth < 6:
        module = str(frame.f_globals.get("__name__", ""))
        if not frame.f_code.co_filename.startswith(raw.OWN_DIRS) and not module.startswith(
                SKIP_MODULES):
            for name, value in frame.f_locals.items():  # "self.lock", as the code spells it
                roots.append(value)
                labels.append(name)
            roots.append(frame.f_globals)
            labels.append(module)
            depth += 1
        frame = frame.f_back
    # Only a lock that is held can be what the thread waits for.
    held = [lock for lock in patches.scan_roots(roots, labels=labels) if not lock.poll()]
    ex.took_over.extend(id(lock._real) for lock in held)
    return bool(held)


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


def _join_threads(ex: Execution, limit: float) -> None:
    deadline = raw.real_perf_counter() + limit
    for t in ex.threads:
        remaining = deadline - raw.real_perf_counter()
        if not t.ended.acquire(True, max(remaining, 0.0)):
            _abandon(ex, t)


def _abandon(ex: Execution, t: ManagedThread) -> None:
    """A managed thread that did not unwind (stuck in C): leave it, it is a daemon OS thread.

    Its Thread object is marked stopped and leaves ``threading.enumerate()``:
    half-started, it made ``is_alive()`` fail an assertion in later code.
    """
    isolate.abandoned(t.ident)
    if t.thread_obj is not None:
        detach(t.thread_obj)
    ex.notes.append(f"thread {t.name} could not be stopped and was abandoned "
                    "(stuck in a call racecheck cannot interrupt)")
