"""One execution: managed threads passing a baton, one schedule.

Every managed thread is a real OS thread with a *gate*, a raw lock it sleeps
on while another thread runs.  Exactly one managed thread holds the baton at a
time.  At a scheduling point the running thread asks the strategy who runs
next; if that is another thread it opens that thread's gate and closes its own
(CHESS, OSDI'08, and the "baton" of ANCHORS.md lesson 1).  Because only the
strategy's answers decide who runs, recording the answers at choice points
(points with more than one candidate) is enough to replay the execution.

Blocking is modelled, never real: a thread that would block (a lock held by
another managed thread, a join, a sleep) is marked blocked on a *resource* and
hands the baton on.  A blocked thread with a deadline (timed wait, sleep) wakes
when no thread can run: the virtual clock jumps to the earliest deadline (with
``eager_timeouts`` it is a candidate at every point instead).  When no thread can run and none has a deadline, the
execution is deadlocked, and the wait-for graph (thread -> resource -> holders)
gives the cycle.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ReplayDiverged
from ..strategies.base import ChoicePoint
from . import effects, instrument, raw, threads, waitfor
from .events import EVENTS, Observer, overriding
from .outcome import Signal, Verdict
from .spin import JUDGE, SPIN_LIMIT, LengthJudge, SpinProbe, user_frames
from .threads import (
    BLOCKED,
    FINISHED,
    RUNNABLE,
    Abort,
    ManagedThread,
    Resource,
    Sleep,
    _bootstrap,
    _park_forever,
    _release,
    _short_path,
    _tid,
    describe_exception,
    registry,
    user_stack,
)
from .waitfor import Blocked, WaitEdge

if TYPE_CHECKING:
    import threading

    from ..strategies.base import Strategy
    from .isolate import ChoiceLog
    from .trace import Recorder

#: Virtual seconds one scheduling point of work takes (see ``Execution._time_passes``).
POINT_TIME = 1e-6


def _own_code(fn: Callable[..., object]) -> bool:
    """Whether ``fn`` (a function or bound method) is racecheck's own code."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and code.co_filename.startswith(raw.OWN_DIRS)


#: A step of the code's own that took longer than this (seconds) ran in C (a
#: NumPy operation on a large array, hashing, compression), which may release the GIL.
LONG_STEP = 100e-6


class Execution:
    """Runs one schedule: owns the managed threads, the virtual clock and the choices."""

    #: Steps before a second thread starts get no effect and no decoded access
    #: (``_logged_point``): nothing can race with them.  A switch for the test that
    #: checks a reduction runs the same schedules either way.
    PREFIX_FREE = True

    def __init__(
        self,
        strategy: Strategy,
        *,
        max_steps: int,
        max_threads: int,
        recorder: Recorder | None = None,
        eager_timeouts: bool = False,
        choice_log: ChoiceLog | None = None,
        observers: Sequence[Observer] = (),
        base_time: float = 0.0,
        base_mono: float = 0.0,
        on_end: Callable[[], object] | None = None,
        watchdog: float = 5.0,
    ) -> None:
        self.strategy = strategy
        #: The strategy decides from pending accesses (``ChoicePoint.pending``).
        self.strategy_wants_accesses = bool(getattr(strategy, "wants_accesses", False))
        #: What makes this schedule's choices (``Strategy.chooser``: past any delegation).
        self._pick = (strategy.chooser() if hasattr(strategy, "chooser")
                      else strategy.choose)
        #: ``_pick`` is racecheck's own code: it reaches no point and answers one of
        #: the options, so ``point``'s fast path neither marks the thread busy around
        #: it nor checks a choice that keeps the running thread.
        self._own_pick = _own_code(self._pick)
        #: The options of every choice point, for strategies that search the space of
        #: schedules (``Strategy.wants_options``); None: not kept.
        self.option_log: list[tuple[int, ...]] | None = (
            [] if getattr(strategy, "wants_options", False) else None)
        self.wants_accesses = self.strategy_wants_accesses
        #: Every step run, in order, with its effect (``effects.py``), for strategies that
        #: reason about independent steps (``Strategy.wants_steps``): [thread, choice
        #: index that started it or -1, atoms].  None: not kept.
        self.step_log: list[list[Any]] | None = None
        if getattr(strategy, "wants_steps", False):
            self.step_log = []
            self.wants_accesses = True
            self.point = self._logged_point  # type: ignore[method-assign]
        self._fresh_choice = -1
        #: Fairness left a runnable thread out of a choice (a search cannot branch there).
        self.filtered = False
        self.on_end = on_end
        # In a schedule's forked child, an ended schedule's threads are never
        # unwound: they stay parked, the child reports and exits, and no handler
        # of the code under test ever sees racecheck stopping them (issue 10).
        self.unwind = not threads.in_child
        self.watchdog = watchdog
        self.external_wait = False  # the scheduler waits in real time for real I/O
        self.took_over: list[int] = []  # ids of real locks wrapped after a stall
        # Timed waits and sleeps end when every thread waits (the clock jumps to the
        # earliest deadline): threads are infinitely fast next to their timeouts, so
        # a timeout never fires while its holder could still run.  eager_timeouts makes
        # every timed waiter a candidate at every point, to find code that only works
        # because something is fast enough (Fray's "time out immediately").
        self.eager_timeouts = eager_timeouts
        self.max_steps = max_steps
        self.max_threads = max_threads
        self.recorder = recorder
        #: Who consumes this schedule's events (events.py): the recorder, the crash
        #: log, and any other observer; ``hooks`` maps an event to the methods to call.
        self.observers: list[Observer] = [o for o in (recorder, choice_log) if o is not None]
        self.observers += observers
        self.hooks = {name: overriding(self.observers, name) for name in EVENTS}
        self.wants_accesses = self.wants_accesses or any(o.wants_accesses for o in self.observers)
        #: Points need more than a choice: accesses decoded, or steps observed.
        self.watched = self.wants_accesses or bool(self.hooks["step"])
        #: A choice needs only the strategy's answer and the schedule's record: no
        #: pending accesses, no logs, no observer of choices (``point``'s fast path).
        self._plain_choices = not (self.strategy_wants_accesses or self.step_log is not None
                                   or self.option_log is not None or self.hooks["choice"])
        #: Someone observes lock acquisitions or releases.
        self.locks_watched = bool(self.hooks["acquired"] or self.hooks["released"])
        self.threads: list[ManagedThread] = []
        self.enabled: list[ManagedThread] = []
        #: The ids of ``enabled``, in order: a choice's options (``_enabled_changed``).
        self.options: tuple[int, ...] = ()
        #: No second thread has started (and no observer reads steps): a point's
        #: access is not decoded, a step's effect not worked out (``_logged_point``).
        self.alone = self.PREFIX_FREE and not self.hooks["step"]
        self.timed: list[ManagedThread] = []
        self.yielded = 0  # threads that gave way (see _core/spin.py)
        # Virtual clock: ``clock`` seconds since the schedule began; the readings
        # are ``base_* + clock`` (see ``_sync/vtime.py`` for how the bases are chosen).
        self.clock = 0.0
        self.base_time = base_time
        self.base_mono = base_mono
        self.clock_reads = 0  # reads take time (_sync/vtime.py)
        self.steps = 0
        self.judge: LengthJudge | None = None  # past max_steps (see _too_long)
        self.unseen = False  # the verdict rests on a wait racecheck cannot see into
        #: Real seconds left for waiting on other threads' real I/O (_ready_in_real_time).
        self.io_budget = self.REAL_IO_BUDGET
        #: A thread a managed one asked about that this forked process does not have
        #: (started before the exploration, left running by the test's plain run).
        self.missing_thread = ""
        self.choices: list[int] = []
        #: The thread that reached each choice point (-1: it could not go on), so a
        #: choice of another thread that could have continued is a preemption.
        self.currents: list[int] = []
        self.current: ManagedThread | None = None
        self.done = raw.allocate_lock()
        self.done.acquire()
        self.finished = False
        #: The schedule is over (it failed, or every non-daemon thread finished): the
        #: threads still in it unwind (in-process) or park for good (forked child).
        self.over = False
        # The first failure wins; the runner turns it into a Failure.
        self.verdict: Verdict | Signal | None = None
        self.message = ""
        self.exception: BaseException | None = None
        self.failed_thread: ManagedThread | None = None
        self.cycle: list[WaitEdge] = []
        self.blocked_report: list[Blocked] = []
        self.notes: list[str] = []
        self.hidden_cycle: list[WaitEdge] = []  # a cycle a timed wait escaped by timing out
        self.live_nondaemon = 0
        #: Time the steps (the runner sets it for an exploration's first schedule):
        #: how much of the run went to steps longer than LONG_STEP, i.e. into C.
        self.timing = False
        self.long_seconds = 0.0
        #: All the steps measured: the code's own time (the share's denominator).
        self.code_seconds = 0.0
        self.last_point = 0.0
        self.last_timed: ManagedThread | None = None
        self.last_own = 0.0
        self.last_analysed = 0.0

    def emit(self, event: str, *args: object) -> None:
        """Tell the observers of ``event`` (as racecheck's own work: the calling
        managed thread, if any, is busy, so no scheduling point runs inside them)."""
        caller = registry.get(raw.get_ident())  # a managed thread, or the runner
        if caller is not None:
            caller.busy += 1
        try:
            for hook in self.hooks[event]:
                hook(*args)
        finally:
            if caller is not None:
                caller.busy -= 1

    # ------------------------------------------------------------------ threads

    def spawn(
        self,
        body: Callable[[], object],
        name: str,
        *,
        daemon: bool = False,
        thread_obj: threading.Thread | None = None,
    ) -> ManagedThread:
        """Create a managed thread; it is runnable at once and runs when chosen."""
        if len(self.threads) >= self.max_threads:
            from ..errors import NotExplorable

            # A limit of racecheck's, not a bug of the code under test: the exploration
            # stops with this error (never a verdict), and no user handler sees it.
            error = NotExplorable(
                f"the code under test started more than {self.max_threads} threads in one "
                "schedule; racecheck explores small thread counts (2-10 is typical). "
                "Reduce the number of threads in the test or raise max_threads= "
                "(pytest: --racecheck-max-threads, or @pytest.mark.racecheck(max_threads=N))",
                reason=f"starts more than {self.max_threads} threads (max_threads)",
            )
            self.fail(Signal.ERROR, str(error), exc=error)
            raise self.halt()
        mt = ManagedThread(self, len(self.threads), name, body, daemon, thread_obj)
        self.threads.append(mt)
        self.enabled.append(mt)
        self._enabled_changed()
        if len(self.threads) > 1:
            self.alone = False
        if not daemon:
            self.live_nondaemon += 1
        if self.hooks["thread_started"]:
            self.emit("thread_started", mt)
        raw.start_new_thread(_bootstrap, (mt,))
        mt.ready.acquire()  # its ident is known (and Thread.ident set) before start() returns
        return mt

    def own_profiler(self, mt: ManagedThread) -> Callable[[Any, str, Any], None]:
        """A ``sys.setprofile`` hook for a timed schedule's thread: racecheck's own time.

        racecheck's shims (a Condition, a Timer's start), threading.py's own
        bookkeeping and pytest's fixture machinery are Python code that runs
        inside the user's steps without points of its own (``instrument.excluded``);
        the time the innermost frame is such code goes to ``mt.own_seconds`` and
        is left out of the step.
        """
        from .instrument import excluded

        since = [raw.real_thread_time(), False]  # since when, and in racecheck's code?

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                inner = frame
            elif event == "return":
                inner = frame.f_back
            else:
                return
            now = raw.real_thread_time()
            if since[1]:
                mt.own_seconds += now - since[0]
            since[0], since[1] = now, inner is not None and excluded(inner.f_code)

        return profile

    def time_reached(self, mt: ManagedThread) -> None:
        """A timed schedule's thread reached a point: add its step if it ran long in C.

        The step is measured from the end of racecheck's work at the thread's
        previous point (``time_resumed``) to the start of its work at this
        one, less racecheck's own code run in between (its shims, and its
        analysis of code met for the first time), and only when the same
        thread went on (a hand-off between OS threads is racecheck's time).
        Times are the thread's CPU time, so the OS running another process in
        between does not count, nor does a wait in C (a sleep, a select).  A
        long one is work in C (an operator on a NumPy array, hashing).
        """
        took = (raw.real_thread_time() - self.last_point - (mt.own_seconds - self.last_own)
                - (instrument.analysis_seconds - self.last_analysed))
        if mt is self.last_timed:
            self.code_seconds += took
            if took > LONG_STEP:
                self.long_seconds += took

    def time_resumed(self, mt: ManagedThread) -> None:
        """A timed schedule's thread goes back to its own code."""
        self.last_point, self.last_timed, self.last_own = raw.real_thread_time(), mt, \
            mt.own_seconds
        self.last_analysed = instrument.analysis_seconds

    def begin(self) -> None:
        """Give the baton to the first thread (called by the runner thread)."""
        self._pass_baton(None)

    def halt(self) -> Abort:
        """The calling thread stops, the schedule having ended: park it for good, or unwind.

        Returns the Abort to raise where the thread must unwind (in-process
        schedules, or the runner thread); in a forked child a managed thread
        parks here forever and the child exits under it.
        """
        me = registry.get(raw.get_ident())
        if me is not None and not self.unwind:
            _park_forever()
        return Abort()

    # ------------------------------------------------------ scheduling points

    def point(self, mt: ManagedThread) -> None:
        """A scheduling point reached by the running thread ``mt``."""
        if self.over:
            if not self.unwind:
                raise self.halt()  # a thread still running after the end: park it
            # Unwind once; after that let finally blocks and finalizers run their
            # cleanup (close sockets, release locks) without interruption.
            if not mt.unwinding and not mt.protected:
                mt.unwinding = True
                raise Abort
            return
        self.steps += 1
        if self.steps > self.max_steps and self._too_long(mt):
            raise self.halt()
        enabled = self.enabled
        mt.streak += 1
        if self.eager_timeouts:
            options: Sequence[int] = sorted(t.tid for t in enabled + self.timed)
            if len(options) < 2:
                if mt.streak >= SPIN_LIMIT:
                    self._alone_long(mt)
                return
        elif len(enabled) < 2:
            # The common case: nobody else can run.
            if mt.streak >= SPIN_LIMIT:
                self._alone_long(mt)
            return
        else:
            options = self.options
            if self._plain_choices and not self.yielded and mt.streak < SPIN_LIMIT:
                # The common choice, inline: it comes at about every other point, and
                # the calls of _choice_point and _choose cost as much as the strategy.
                current = mt.tid
                own = self._own_pick
                if not own:
                    mt.busy += 1  # a strategy from outside may reach points of its own
                try:
                    choice = self._pick(options, current)
                except Exception as exc:
                    raise self._strategy_raised(exc) from None
                finally:
                    if not own:
                        mt.busy -= 1
                # the running thread is always an option
                if choice != current and choice not in options:
                    raise self._bad_choice(choice, options)
                self.choices.append(choice)
                self.currents.append(current)
                if choice != current:
                    mt.busy += 1
                    try:
                        self._switch(mt, self.threads[choice])
                    finally:
                        mt.busy -= 1
                return
        self._choice_point(mt, options)

    def _enabled_changed(self) -> None:
        self.options = tuple(t.tid for t in self.enabled)

    def _logged_point(self, mt: ManagedThread) -> None:
        """``point`` that also logs the step starting here with its effect (``step_log``)."""
        if not self.over and self.alone:
            # Before a second thread starts, no step can race: every step of a later
            # thread comes after the start, and no choice precedes these steps to be
            # reversed.  So they need no effect (a test's fixtures set up in this
            # thread under the plugin: hundreds of points of pytest plugins, inspect...).
            mt.at = None
            mt.loaded[0] = None
            mt.effect = []
        elif not self.over:
            at, mt.at = mt.at, None
            mt.busy += 1
            try:
                if at is not None:
                    mt.effect = effects.at_code_point(at[0], at[1], mt.pending, mt.loaded)
                else:
                    mt.loaded[0] = None
                    mt.effect = effects.at_shim_point(mt.pending)
                if mt.log_at == mt.first_log:  # the first step ends here: now it is known
                    row = self._logged(mt)
                    row[2] = [row[2][0], *effects.prologue(
                        at[0] if at is not None else sys._getframe(1))]
            finally:
                mt.busy -= 1
        type(self).point(self, mt)
        if not self.over:
            self._log(mt)

    def _log(self, mt: ManagedThread) -> None:
        log = self.step_log
        assert log is not None
        log.append([mt.tid, self._fresh_choice, list(mt.effect)])
        self._fresh_choice = -1
        mt.log_at = len(log) - 1

    def _logged(self, mt: ManagedThread) -> list[Any]:
        """The log row of ``mt``'s current step."""
        assert self.step_log is not None
        return self.step_log[mt.log_at]

    def log_start(self, mt: ManagedThread) -> None:
        """A thread's first step: from its start to its first point (a prologue)."""
        mt.effect = [["s", f"T{mt.tid}"], effects.OPAQUE]  # until its first point (prologue)
        self._log(mt)
        mt.first_log = mt.log_at

    def _open_row(self, mt: ManagedThread) -> list[Any] | None:
        """The log row of ``mt``'s current step, while steps are logged and the schedule
        goes on (None otherwise): what the edits below amend."""
        if self.step_log is not None and mt.log_at >= 0 and not self.over:
            return self.step_log[mt.log_at]
        return None

    def retag(self, mt: ManagedThread, old: str, new: str) -> None:
        """What ``mt``'s current step did to a lock turned out to be ``new`` (see
        ``effects.dependent``): a failed attempt before blocking, or a try on its own lock."""
        row = self._open_row(mt)
        if row is not None:
            row[2] = [[*a[:2], new] if a[0] == "s" and a[2:] == [old] else a for a in row[2]]

    def _attempted(self, mt: ManagedThread) -> None:
        """``mt`` blocks at the point its step starts at: a failed attempt to take a lock
        did only that (a "try", which took nothing); the rest of the step's effect is
        what it will do once it runs again (``_block`` logs that step anew)."""
        row = self._open_row(mt)
        if row is not None:
            tried = [[*a[:2], "try"] for a in row[2] if a[0] == "s" and a[2:] == ["acquire"]]
            if tried:
                row[2] = tried

    def requeue(self, mt: ManagedThread, queue: int, old: str, new: str) -> None:
        """What ``mt``'s current step does to a queue turned out to be ``new``, not ``old``
        (``effects.queue_atom``: a get that finds the queue empty only waits)."""
        row = self._open_row(mt)
        if row is not None:
            row[2] = [[*a[:2], new, *a[3:]] if a[0] == "q" and a[1] == queue and a[2] == old
                      else a for a in row[2]]

    def note(self, mt: ManagedThread, atom: list[Any]) -> None:
        """``mt``'s current step also did ``atom`` (an operation that took no point)."""
        row = self._open_row(mt)
        if row is not None:
            row[2] = [*row[2], atom]

    def taint(self, mt: ManagedThread) -> None:
        """An exception was raised in ``mt``'s current step: it may have gone anywhere."""
        row = self._open_row(mt)
        if row is not None:
            row[2] = [effects.OPAQUE]

    def yield_point(self, mt: ManagedThread) -> None:
        """``time.sleep(0)``: a point at which the thread offers the others its turn."""
        mt.streak += SPIN_LIMIT // 16
        self.point(mt)

    def _choice_point(self, mt: ManagedThread, options: Sequence[int]) -> None:
        # busy: the strategy and the scheduler call Python code (random.py...) that is
        # instrumented too; its points must not re-enter the scheduler.
        mt.busy += 1
        try:
            if mt.streak >= SPIN_LIMIT:
                self._give_way(mt)
            if self.yielded:
                options = self._fair(options)
            choice = options[0] if len(options) == 1 else self._choose(options, mt.tid)
            if choice != mt.tid:
                self._switch(mt, self.threads[choice])
        finally:
            mt.busy -= 1

    # ------------------------------------------------------------ fairness

    def _give_way(self, mt: ManagedThread) -> None:
        """``mt`` ran long while others could run (a spin?): leave it out for a while."""
        mt.streak = 0
        if not mt.yielded:
            mt.yielded = True
            self.yielded += 1

    def _fair(self, options: Sequence[int]) -> Sequence[int]:
        """The options without threads that gave way, unless every option gave way."""
        fair = [tid for tid in options if not self.threads[tid].yielded]
        if fair:
            if len(fair) < len(options):
                self.filtered = True
            return fair
        self._clear_yields()
        return options

    def _clear_yields(self) -> None:
        for t in self.threads:
            t.yielded = False
        self.yielded = 0

    def _alone_long(self, mt: ManagedThread) -> None:
        """``mt`` ran SPIN_LIMIT points with nobody else runnable: time passes, or a spin?"""
        timed = bool(self.timed) and not self.eager_timeouts
        if not timed and any(t.status == BLOCKED and t.waiting_on is not None
                             and t.waiting_on.external for t in self.threads):
            mt.streak = 0  # someone waits for real I/O, which may change what mt reads
            return
        mt.busy += 1
        try:
            frames = user_frames()
            probe = mt.probe
            if probe is None:
                mt.probe = SpinProbe(frames)
                return
            verdict = probe.visit(frames)
        finally:
            mt.busy -= 1
        if verdict is None:
            return
        mt.probe = None
        if timed:
            self._time_passes(mt, spinning=verdict == "spin")
            return
        mt.streak = 0
        if verdict == "spin":
            others = [t for t in self.threads if t is not mt and t.status != FINISHED]
            mt.busy += 1  # the stacks are read by Python code (traceback): no points there
            try:
                self.blocked_report = [waitfor.blocked(t) for t in others
                                       if t.status == BLOCKED]
            finally:
                mt.busy -= 1
            self.fail(
                Verdict.HANG,
                f"thread {mt.name} spins at {_short_path(probe.where)} without changing "
                "anything, and no other thread can run to end the spin "
                + ("(every other thread is blocked)" if others else "(every other thread finished)"),
                thread=mt,
            )
            raise self.halt()

    def _time_passes(self, mt: ManagedThread, spinning: bool) -> None:
        """``mt`` ran alone for a while and others wait with a timeout.

        A spin (the same states again: a poll loop waiting for a sleeper) can
        only end by time passing: the earliest timed waiter times out.  Work
        that makes progress takes time too, about ``POINT_TIME`` a point, so
        the clock moves by that much and only timeouts that fall due fire: a
        5 s wait does not time out because another thread logged through a
        few hundred handlers (pykka's logging tests did, a false alarm).
        """
        points, mt.streak = mt.streak, 0
        if spinning:
            due = min(self.timed, key=lambda t: (t.deadline, t.tid))
        else:
            self.clock += points * POINT_TIME
            waiting = [t for t in self.timed if t.deadline is not None
                       and t.deadline <= self.clock]
            if not waiting:
                return
            due = min(waiting, key=lambda t: (t.deadline, t.tid))
        mt.busy += 1
        try:
            self._time_out(due)
            self._give_way(mt)
            self._choice_point(mt, self.options)
        finally:
            mt.busy -= 1

    def _too_long(self, mt: ManagedThread) -> bool:
        """Past max_steps: end the schedule as a livelock or as a body too long to explore."""
        mt.busy += 1
        try:
            if self.judge is None:
                self.judge = LengthJudge(min(JUDGE, self.max_steps))
            frames = user_frames()
            verdict = self.judge.visit(mt.tid, frames, self.clock)
        finally:
            mt.busy -= 1
        if verdict is None:
            return False
        where = (f"{_short_path(frames[0].f_code.co_filename)}:{frames[0].f_lineno}"
                 if frames else "?")
        if verdict == "livelock":
            self.fail(
                Verdict.HANG,
                f"livelock: after {self.max_steps} scheduling points the threads kept "
                f"returning to states they had been in (the same lines with the same values, "
                f"for {self.judge.window} more points; {mt.name} at {where}): nothing they do changes "
                "anything",
                thread=mt,
            )
        else:
            self.fail(
                Signal.TOO_LONG,
                f"the body did not end within {self.max_steps} scheduling points and was still "
                f"making progress ({mt.name} at {where}): it is long (a stress loop, a loop on "
                "a stopwatch), not stuck",
                thread=mt,
            )
        return True

    def _choose(self, options: Sequence[int], current: int) -> int:
        # point() repeats the strategy call, the check and the record below inline
        # for a plain choice (a call here costs 160 ns a choice): keep them alike.
        try:
            if self.strategy_wants_accesses:
                timed = tuple(t.tid for t in self.timed if t.tid in options
                              and t.status == BLOCKED) if self.eager_timeouts else ()
                point = ChoicePoint(tuple(options), current,
                                    {tid: self.threads[tid].pending for tid in options}, timed)
                choice = self.strategy.choose_point(point)
            else:
                choice = self._pick(options, current)
        except Exception as exc:
            raise self._strategy_raised(exc) from None
        if choice not in options:
            raise self._bad_choice(choice, options)
        self.choices.append(choice)
        self.currents.append(current)
        if self.step_log is not None:
            self._fresh_choice = len(self.choices) - 1
        if self.option_log is not None:
            self.option_log.append(tuple(options))
        for hook in self.hooks["choice"]:
            hook(current, choice)
        return choice

    def _strategy_raised(self, exc: Exception) -> BaseException:
        """The schedule fails with what the strategy raised; the exception that halts."""
        if isinstance(exc, ReplayDiverged):
            self.fail(Signal.DIVERGED, str(exc), exc=exc)
            return self.halt()
        # A bug in a strategy is racecheck's (or the strategy author's), never a
        # race in the code under test.
        from ..errors import InternalError

        error = InternalError(
            f"strategy {getattr(self.strategy, 'name', '') or type(self.strategy).__name__!r} "
            f"raised {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        self.fail(Signal.INTERNAL, str(error), exc=error)
        return self.halt()

    def _bad_choice(self, choice: object, options: Sequence[int]) -> BaseException:
        from ..errors import InternalError

        error = InternalError(
            f"strategy {type(self.strategy).__name__} chose thread {choice!r}, "
            f"which is not one of the runnable threads {list(options)}")
        self.fail(Signal.INTERNAL, str(error), exc=error)
        return self.halt()

    def _switch(self, me: ManagedThread, nxt: ManagedThread) -> None:
        if nxt.status == BLOCKED:
            self._time_out(nxt)
        self.current = nxt
        nxt.streak = 0
        nxt.gate.release()
        me.gate.acquire()
        if self.over and not me.protected:
            me.unwinding = True
            raise Abort

    # --------------------------------------------------------------- blocking

    def block(self, mt: ManagedThread, resource: Resource, timeout: float | None) -> bool:
        """Block ``mt`` on ``resource``; True when woken, False when the timeout fired."""
        mt.busy += 1
        try:
            return self._block(mt, resource, timeout)
        finally:
            mt.busy -= 1

    def _block(self, mt: ManagedThread, resource: Resource, timeout: float | None) -> bool:
        mt.status = BLOCKED
        mt.waiting_on = resource
        mt.timed_out = False
        mt.probe = None
        self.enabled.remove(mt)
        self._enabled_changed()
        if self.yielded:
            self._clear_yields()  # the state changed: spinners may look again
        if timeout is not None:
            mt.deadline = self.clock + max(timeout, 0.0)
            self.timed.append(mt)
        else:
            mt.deadline = None
        for hook in self.hooks["blocked"]:
            hook(mt, resource)
        self._attempted(mt)
        self._pass_baton(mt)
        mt.gate.acquire()
        if self.over:
            mt.unwinding = True
            raise Abort
        if self.step_log is not None:
            self._log(mt)  # it runs again: the blocked operation once more
            if mt.timed_out:
                self.retag(mt, "acquire", "try")  # it timed out: it took nothing
        return not mt.timed_out

    def wake(self, mt: ManagedThread) -> None:
        """Make a blocked thread runnable again (the resource it waited on changed)."""
        if mt.status != BLOCKED:
            return
        if mt.deadline is not None:
            self.timed.remove(mt)
        mt.status = RUNNABLE
        mt.waiting_on = None
        mt.deadline = None
        bisect.insort(self.enabled, mt, key=_tid)  # options are read in tid order
        self._enabled_changed()

    def _time_out(self, mt: ManagedThread) -> None:
        assert mt.deadline is not None
        if not self.hidden_cycle and mt.waiting_on is not None and mt.waiting_on.holders():
            # A deadlock papered over by a timeout: remember it (the runner decides).
            self.hidden_cycle = waitfor.find_cycle([mt])
        if mt.deadline > self.clock:
            self.clock = mt.deadline
            # Time passed by a wait ending: the reads so far were no spin on the clock
            # (clock reads take more and more time only while nothing else moves it).
            self.clock_reads = 0
        self.wake(mt)
        mt.timed_out = True
        # Everything else whose deadline has now passed times out too.
        for other in [t for t in self.timed if t.deadline is not None and t.deadline <= self.clock]:
            self.wake(other)
            other.timed_out = True

    def _pass_baton(self, me: ManagedThread | None) -> None:
        """``me`` cannot continue (blocked, finished, or the run is starting): pick who runs."""
        while True:
            if self.over:
                return
            if self.live_nondaemon == 0 and self.threads:
                self._end()
                return
            if self.enabled or self.timed:
                break
            if not self.poll_blocked() and not self._wait_external():
                if self._only_idle_pool_workers_left():
                    self._end()  # as the interpreter's exit would: it wakes and joins them
                else:
                    self._deadlock()
                return
        if not self.enabled and not self.poll_blocked():
            # Everyone waits, and no wait can end now (a waiter whose socket already
            # holds another thread's data was woken above: it runs before any timeout
            # fires): the clock jumps to the earliest deadline (ties: lowest id).
            first = min(self.timed, key=lambda t: (t.deadline, t.tid))
            if not self._ready_in_real_time(first):
                self._note_stall(first)
                self._time_out(first)
        if self.eager_timeouts:
            options: Sequence[int] = sorted(t.tid for t in self.enabled + self.timed)
        else:
            options = self.options
        if self.yielded:
            options = self._fair(options)
        if len(options) == 1:
            nxt = self.threads[options[0]]
        else:
            try:
                nxt = self.threads[self._choose(options, -1)]
            except Abort:
                self._release_all()
                return
        if nxt.status == BLOCKED:
            self._time_out(nxt)
        self.current = nxt
        nxt.streak = 0
        nxt.gate.release()

    def _note_stall(self, first: ManagedThread) -> None:
        """A timed wait ends only because nothing else can run: a deadlock a timeout hides?

        When the clock jumps to a thread waiting on a resource (not sleeping) and
        another live thread is blocked on a resource too, no thread could have
        made progress: the program was deadlocked but for the timeout.  This
        catches cycles through resources without owners (a Semaphore's permits,
        a Condition), which the wait-for graph cannot see.
        """
        if self.hidden_cycle or isinstance(first.waiting_on, Sleep) or first.waiting_on is None:
            return
        if any(isinstance(t.waiting_on, Sleep) for t in self.timed):
            return
        stuck = [t for t in self.threads if t.status == BLOCKED and t is not first
                 and t.waiting_on is not None and not isinstance(t.waiting_on, Sleep)
                 and not t.waiting_on.external]  # the world outside may still answer it
        if not stuck:
            return
        cycle = waitfor.find_cycle([first])
        if not cycle:
            cycle = [WaitEdge(first.name, first.waiting_on.describe(), timed_out=True)]
            cycle += [WaitEdge(t.name, t.waiting_on.describe()) for t in stuck
                      if t.waiting_on is not None]
        self.hidden_cycle = cycle

    #: Real seconds a timed wait on real I/O gets before its timeout fires in virtual time.
    REAL_IO_GRACE = 0.05
    #: Real seconds the world gets to answer another thread's real I/O before a timed
    #: wait on something else times out (a process pool's result pipe, while the main
    #: thread waits on an Event with a timeout): at most the wait's own length, and at
    #: most REAL_IO_BUDGET in all per schedule, so a server thread blocked on accept()
    #: beside a sleeping loop costs a schedule two seconds at most.
    REAL_IO_WAIT = 1.0
    REAL_IO_BUDGET = 2.0

    def _ready_in_real_time(self, first: ManagedThread) -> bool:
        """Before a timed wait times out, give the world outside a moment to answer.

        Virtual time runs ahead of the real world: a poll loop waiting for a
        child process with ``conn.poll(0.1)`` would otherwise time out at once,
        forever, while the child never got the real time to answer; and a thread
        waiting ``event.wait(5)`` for another that reads a pipe a process writes
        would time out before the process wrote.  True when some real I/O became
        ready (its waiter is woken, the timeout not fired).
        """
        resource = first.waiting_on
        if first.deadline is None:
            return False
        jump = max(first.deadline - self.clock, 0.0)
        own = resource is not None and resource.external
        others = [t for t in self._io_waiters() if t is not first]
        if own:
            grace = min(self.REAL_IO_GRACE, jump)
        elif others:
            cap = self.REAL_IO_GRACE if isinstance(resource, Sleep) else self.REAL_IO_WAIT
            grace = min(cap, jump, self.io_budget)
        else:
            return False
        polled = [first, *others] if own else others
        began = raw.real_monotonic()
        deadline = began + grace
        self.external_wait = True
        try:
            while True:
                if self._wake_a_ready(polled):
                    return True
                if raw.real_monotonic() >= deadline:
                    return False
                raw.real_sleep(0.001)
        finally:
            self.external_wait = False
            if not own:
                self.io_budget -= raw.real_monotonic() - began

    def _io_waiters(self) -> list[ManagedThread]:
        """The threads blocked on real I/O (a resource whose ``external`` is set)."""
        return [t for t in self.threads if t.status == BLOCKED and t.waiting_on is not None
                and t.waiting_on.external]

    def _wake_a_ready(self, waiters: Sequence[ManagedThread]) -> bool:
        """Wake the first of ``waiters`` whose resource is ready; False: none is."""
        for t in waiters:
            if t.waiting_on is not None and t.waiting_on.poll():
                self.wake(t)
                return True
        return False

    def _wait_external(self) -> bool:
        """Nothing can run, but someone waits for the world outside: wait for it for real.

        A selector waiting for a pipe a child process writes, a process pool's
        result: nobody in the schedule can end those waits, so the scheduler
        waits in real time (up to the watchdog) for one of them to be ready.
        True when one became ready (its waiter woken); a wait that outlasts the
        watchdog ends the schedule with a ``hang`` naming it.
        """
        waiting = self._io_waiters()
        if not waiting:
            return False
        self.external_wait = True
        try:
            deadline = raw.real_monotonic() + self.watchdog
            pause = 0.0005
            while raw.real_monotonic() < deadline and not self.over:
                if self._wake_a_ready(waiting):
                    return True
                raw.real_sleep(pause)
                pause = min(pause * 2, 0.02)
        finally:
            self.external_wait = False
        first = waiting[0]
        self.blocked_report = [waitfor.blocked(t) for t in self.threads
                               if t.status == BLOCKED]
        stack = user_stack(sys._current_frames().get(first.ident))
        site = f" at {stack[-1]}" if stack else ""
        self.unseen = self.verdict is None
        self.fail(Verdict.HANG, f"thread {first.name} waited more than {self.watchdog:g}s for "
                  f"{first.waiting_on.describe() if first.waiting_on else '?'}{site} while no other "
                  "thread could run (real I/O that never came); raise watchdog= if it is "
                  "expected to take longer", thread=first)
        return True

    def poll_blocked(self, kind: type[Resource] = Resource) -> bool:
        """Wake the waiters on a ``kind`` of resource that changed out of our view.

        Before declaring a deadlock, all of them; when a managed thread changed
        something only a poll sees (a file unlocked), the ones that wait for it.
        """
        woke = False
        for t in self.threads:
            if t.status == BLOCKED and isinstance(t.waiting_on, kind) and t.waiting_on.poll():
                self.wake(t)
                woke = True
        return woke

    # ------------------------------------------------------------ endings

    def thread_finished(self, mt: ManagedThread) -> None:
        for hook in self.hooks["thread_done"]:
            hook(mt)
        self.note(mt, ["s", f"T{mt.tid}"])  # joiners wake
        mt.status = FINISHED
        if mt in self.enabled:
            self.enabled.remove(mt)
            self._enabled_changed()
        if self.yielded:
            self._clear_yields()
        if not mt.daemon:
            self.live_nondaemon -= 1
        for joiner in mt.joiners:
            self.wake(joiner)
        mt.joiners.clear()
        if self.over:
            return
        self._pass_baton(mt)

    def thread_raised(self, mt: ManagedThread, exc: BaseException) -> None:
        self.fail(
            Verdict.VIOLATION,
            f"exception in thread {mt.name}: {describe_exception(exc)}",
            exc=exc,
            thread=mt,
        )

    def fail(
        self,
        verdict: Verdict | Signal,
        message: str,
        *,
        exc: BaseException | None = None,
        thread: ManagedThread | None = None,
    ) -> None:
        """Record the first failure and stop the execution."""
        me = registry.get(raw.get_ident())
        if me is not None:
            me.unwinding = True  # the caller raises Abort next
        if self.verdict is None:
            self.verdict = verdict
            self.message = message
            self.exception = exc
            self.failed_thread = thread
            if self.missing_thread and isinstance(verdict, Verdict):
                self.unseen = True
                self.message = (f"asked about thread {self.missing_thread!r}, started before "
                                "the exploration, which a schedule's process does not have; "
                                f"then: {message}")
        self._release_all()

    def _end(self) -> None:
        """Every non-daemon thread finished: the schedule is over (daemons are abandoned)."""
        if self.finished:
            return
        self.finished = True
        self._release_all()

    def _release_all(self) -> None:
        if self.over:
            return
        self.over = True
        if self.on_end is not None:
            self.on_end()
        if self.unwind:
            # Open every gate: each parked thread wakes, sees ``over`` and unwinds.
            for t in self.threads:
                if t.status != FINISHED:
                    _release(t.gate)
        _release(self.done)

    def _only_idle_pool_workers_left(self) -> bool:
        """Every live non-daemon thread is a ThreadPoolExecutor worker waiting for work.

        An executor that is never shut down (a module's shared pool) keeps its
        workers, which are not daemon threads, waiting on its queue after the
        test's own threads finished.  That is no deadlock: at exit the
        interpreter hands them a stop and joins them.
        """
        from concurrent.futures import thread as pool

        frames = sys._current_frames()
        waiting = [t for t in self.threads if t.status == BLOCKED and not t.daemon]
        if not waiting:
            return False
        for t in waiting:
            frame, callee = frames.get(t.ident), None
            while frame is not None and frame.f_code is not pool._worker.__code__:
                frame, callee = frame.f_back, frame
            if frame is None or callee is None or callee.f_code.co_name != "get":
                return False
        return True

    def _deadlock(self) -> None:
        live = [t for t in self.threads if t.status == BLOCKED]
        self.cycle = waitfor.find_cycle(live)
        self.blocked_report = [waitfor.blocked(t) for t in live]
        # (Only daemon threads left blocked never gets here: _pass_baton ends the
        # schedule as soon as the last non-daemon thread finishes.)
        if self.cycle:
            detail = ": " + " -> ".join(map(str, self.cycle))
        else:  # no cycle of owners (conditions, events, queues): say what each waits for
            waits = [f"{t.name} waits for {t.waiting_on.describe()}" for t in live[:3]
                     if t.waiting_on is not None]
            detail = (": " + "; ".join(waits) + ("; ..." if len(live) > 3 else "")
                      + ", and no running thread is left to wake them") if waits else ""
        self.fail(Verdict.DEADLOCK, "every live thread is blocked" + detail)


class CheckedExecution(Execution):
    """An Execution that checks the baton: only the thread holding it ever runs.

    At every point and every wait the running thread must be ``current``, the
    one the scheduler last handed the baton to; two threads running at once
    would break that at the next point of one of them.  A broken check ends
    the schedule as an internal error (racecheck's bug, never a race).  On
    with ``RACECHECK_DEBUG=baton`` (the test suite always runs with it); the
    plain Execution pays nothing for it.
    """

    def point(self, mt: ManagedThread) -> None:
        self._holds_baton(mt, "reached a scheduling point")
        super().point(mt)

    def block(self, mt: ManagedThread, resource: Resource, timeout: float | None) -> bool:
        self._holds_baton(mt, f"blocked on {resource.describe()}")
        woken = super().block(mt, resource, timeout)
        self._holds_baton(mt, "woke")
        return woken

    def _holds_baton(self, mt: ManagedThread, what: str) -> None:
        if self.over or mt.busy or self.current is mt:
            return
        from ..errors import InternalError

        holder = self.current.name if self.current is not None else "nobody"
        error = InternalError(f"baton check: thread {mt.name} {what} while the baton was "
                              f"{holder}'s (two threads ran at once)")
        self.fail(Signal.INTERNAL, str(error), exc=error)
        raise self.halt()
