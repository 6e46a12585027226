"""Running one test under racecheck: the plain run, saved failures, the exploration, its record.

How a test runs (``Run``):

1. Without the marker, the test first runs once, plainly, while
   ``threading.Thread.start`` is watched.  If it started no thread, that run
   is the result and nothing else happens.
2. Otherwise (or straight away for a marked test) the test body goes through
   ``racecheck.check``: the saved failures of this test replay first (the
   failure database, like Hypothesis' example database), then the
   exploration runs under the test's own seed.

Fixtures: the fixtures the test was set up with are torn down after the
plain run (``_finish_function_fixtures``); then every schedule sets the
test's function-scoped fixtures up again, runs the body, and tears them down,
all inside the schedule (``_with_fresh_fixtures``), as pytest-rerunfailures
re-runs an item's setup (pytest has no public API for it).
``fixtures="test"`` reuses the fixtures the test was set up with.
unittest methods run on a fresh TestCase instance per run
(``unittest_runner``); async tests run their coroutine in a loop made in the
schedule (``run_coroutine``).

Imported by every session: ``racecheck`` is imported inside the functions.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .options import ItemSettings

if TYPE_CHECKING:
    import racecheck

FAILURES_CACHE_PREFIX = "racecheck/failures/"


@dataclass
class State:
    """What the plugin keeps for one session (per xdist worker, merged by the controller)."""

    #: The session's; ``seed`` is the run seed.
    settings: racecheck.Settings
    is_worker: bool
    #: Why the run seed is not the one asked for, said in the header ("" when it is).
    seed_note: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    #: nodeid -> why the test ran without being explored (for the summary).
    unexplored: dict[str, str] = field(default_factory=dict)
    #: nodeid -> what racecheck said, for tests it tried to explore and could not.
    unexplored_detail: dict[str, dict[str, Any]] = field(default_factory=dict)


STATE = pytest.StashKey[State]()

#: Threads the fixtures of a test started during its setup, with the fixture's scope.
SETUP_THREADS = pytest.StashKey[list[tuple[threading.Thread, str]]]()

def unittest_runner(item: pytest.Function) -> Callable[[], None]:
    """One run of a TestCase method on a fresh instance, raising its first problem.

    Its outcome is pytest's for the same method: ``pytest.skip()``,
    ``pytest.xfail()`` or ``importorskip`` inside it (which ``unittest`` would
    count as an error) are raised as they are, and an ``expectedFailure``
    that failed is an xfail.
    """
    import unittest

    parent: Any = item.parent
    case_class: Any = parent.obj
    name = item.name

    class Result(unittest.TestResult):
        #: A pytest outcome (skip, xfail, exit) raised inside the method.
        outcome: BaseException | None = None

        def addError(self, test: Any, err: Any) -> None:
            if isinstance(err[1], _PASSTHROUGH):
                self.outcome = self.outcome or err[1]
            else:
                super().addError(test, err)

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
            # pytest reports a skip or xfail inside a subTest as that subtest's
            # outcome and the test as passed: here the test goes on and passes.
            if err is None or not isinstance(err[1], _PASSTHROUGH):
                super().addSubTest(test, subtest, err)

    def run_test_case() -> None:
        __tracebackhide__ = True
        case = case_class(name)
        result = Result()
        case.run(result)
        problems = result.errors + result.failures
        if problems:
            test, text = problems[0]
            raise AssertionError(f"{test} failed:\n{text}")
        if result.outcome is not None:
            raise result.outcome
        if result.unexpectedSuccesses:
            raise AssertionError(f"{result.unexpectedSuccesses[0]}: unexpected success")
        if result.expectedFailures:
            pytest.xfail(f"{result.expectedFailures[0][0]}: an expected failure")
        if result.skipped and not result.testsRun - len(result.skipped):
            pytest.skip(str(result.skipped[0][1]))

    run_test_case.__name__ = name
    return run_test_case


def bare_async_test(item: pytest.Function) -> str:
    """Why racecheck cannot run this ``async def`` test itself ('' when it can).

    pytest-asyncio hands racecheck a function; anyio runs coroutines itself, in
    a runner its async fixtures share.  racecheck runs the coroutine in an
    asyncio loop of its own: not for other backends, nor with async fixtures.
    """
    backend = item.funcargs.get("anyio_backend")
    name = backend[0] if isinstance(backend, (tuple, list)) and backend else backend
    if backend is None:
        return "an async def test that no plugin runs"
    if name != "asyncio":
        return f"an async test on the {name} backend (racecheck runs asyncio loops only)"
    for defs in item._fixtureinfo.name2fixturedefs.values():
        func = getattr(defs[-1], "func", None)
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            return "an async test with async fixtures that only its plugin's runner sets up"
    return ""


def run_coroutine(coroutine_fn: Callable[..., Any], item: pytest.Function, fresh: bool,
                   *args: Any, **kwargs: Any) -> object:
    """Run an async test's coroutine to the end in an event loop made here.

    With fixtures set up for this schedule, a pytest-asyncio runner among them
    (its async fixtures ran in that runner's loop) runs it; else ``asyncio.run``.
    """
    import asyncio

    coroutine = coroutine_fn(*args, **kwargs)
    if fresh:
        funcargs = getattr(item, "funcargs", {})
        for value in list(funcargs.values()):
            if type(value).__name__ == "Runner" and callable(getattr(value, "run", None)) \
                    and callable(getattr(value, "get_loop", None)):
                return value.run(coroutine)
    return asyncio.run(coroutine)


#: Why a test that passes plainly is not explored when a schedule stopped on an unseen wait.
_UNSEEN = ("waits on something racecheck cannot see into (a call blocked in C, real I/O, "
           "another process, a thread started before the exploration)")

#: Exceptions that are a test's own outcome, raised as they are.
_PASSTHROUGH = (pytest.skip.Exception, pytest.xfail.Exception, pytest.exit.Exception)

#: Why a test whose schedule raised one of ``_PASSTHROUGH`` was not explored.
_OWN_OUTCOMES = {"Skipped": "skipped itself (pytest.skip)",
                 "XFailed": "xfailed itself (pytest.xfail, or an expected failure)",
                 "Exit": "called pytest.exit()"}

#: Tests using these fixtures run plainly: ``racecheck`` runs its own
#: explorations, and ``pytester`` / ``testdir`` run a whole inner pytest session
#: (whose own tests the inner plugin explores; explorations do not nest).
NEVER_WRAP = frozenset({"racecheck", "pytester", "testdir"})



class _Nested(Exception):
    """The test runs its own exploration: it must run plainly."""


@contextmanager
def watch_thread_starts() -> Iterator[list[threading.Thread]]:
    """Record the threads ``threading.Thread.start`` starts (Timer and executor workers included)."""
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self)
        original(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        yield started
    finally:
        if threading.Thread.start is start:
            threading.Thread.start = original  # type: ignore[method-assign]


#: Seconds between progress marks in -v mode.
_PROGRESS_EVERY = 2.0


class Run:
    """One test under the plugin: plain run, saved failures, exploration, record."""

    def __init__(self, item: pytest.Function, state: State, settings: ItemSettings,
                 original: Callable[..., object], plain_first: bool,
                 each: Callable[..., object] | None = None) -> None:
        self.item = item
        self.state = state
        self.settings = settings.settings
        self.threads = settings.threads
        self.replay = settings.replay
        self.original = original
        #: What each schedule runs (an async test's coroutine in a loop of its own).
        self.each = each or original
        self.plain_first = plain_first
        self.hypothesis: Any = getattr(original, "hypothesis", None)
        self.schedules_run = 0
        #: The first schedule run in worker processes (--racecheck-jobs), if any.
        self.parallel_from: int | None = None
        self.elapsed = 0.0
        self.evidence: list[racecheck.Evidence] = []
        self.notes: list[str] = []
        self.strategy = str(getattr(self.settings.strategy, "name", self.settings.strategy))
        self.source = "replay marker" if settings.replay else "exploration"

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        __tracebackhide__ = True
        # Import before watching Thread.start: racecheck keeps the real method.
        import racecheck

        plain_exc: BaseException | None = None
        result: object = None
        if self.plain_first:
            with watch_thread_starts() as started:
                try:
                    result = self.original(*args, **kwargs)
                except BaseException as exc:  # re-raised below, or after exploring
                    plain_exc = exc
            # Threads the plain run left running (daemon workers nobody stops) belong
            # to no later schedule: they must not keep schedules out of forked children.
            # Nor do the ones its fixtures started, when every schedule sets up its own.
            from racecheck._core.isolate import leave_behind

            in_setup = self.item.stash.get(SETUP_THREADS, [])
            leave_behind(t for t in started if t.is_alive())
            if self.settings.fixtures == "schedule":  # re-created by every schedule
                shared = {t for t, scope in in_setup if scope != "function"}
                leave_behind(t for t, _ in in_setup if t not in shared and t.is_alive())
            started = started + [t for t, _ in in_setup]
            if not started:
                self.state.unexplored[self.item.nodeid] = "started no thread"
            if not started or (plain_exc is not None and not isinstance(plain_exc, Exception)):
                if plain_exc is not None:
                    raise plain_exc
                return result
        teardown_exc: BaseException | None = None
        if self._fresh_fixtures():
            # Every schedule sets up its own; what the plain run set up (an actor
            # registered in a module-level registry) must not be there when it forks.
            teardown_exc = _finish_function_fixtures(self.item)
        try:
            self._explore(args, kwargs)
        except _Nested:
            self.state.unexplored[self.item.nodeid] = "runs its own racecheck exploration"
            if self.plain_first:
                if plain_exc is not None:
                    raise plain_exc from None
                return result
            return self.original(*args, **kwargs)
        except racecheck.RaceFound as exc:
            if not (self.plain_first and plain_exc is None and exc.failure.unseen):
                self._failed(exc)
                raise
            # It passed on real threads and the schedule stopped on a wait racecheck
            # cannot see into: racecheck's blind spot far more often than a bug.
            self._not_explored(_UNSEEN, exc.failure.message)
        except racecheck.NotExplorable as exc:
            self._not_explored(exc.reason, str(exc))
            if not self.plain_first:
                raise
        except racecheck.UsageError:
            self.state.unexplored[self.item.nodeid] = "a racecheck limit (see the test's error)"
            raise
        except _PASSTHROUGH as exc:  # pytest.skip() / xfail() / exit() in a schedule
            self._not_explored(_OWN_OUTCOMES.get(type(exc).__name__, "ended in its own outcome"),
                               f"{type(exc).__name__}: {exc}")
            raise
        except BaseException as exc:  # a timeout plugin, Ctrl-C, an internal error
            self._record(ok=False, verdict="error",
                         note=f"the exploration stopped: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
            raise
        else:
            self._passed(note="failed in the plain run, but no schedule reproduced it"
                         if plain_exc is not None else "")
        if plain_exc is not None:
            raise plain_exc
        if teardown_exc is not None:
            raise teardown_exc
        return result

    def _not_explored(self, reason: str, detail: str) -> None:
        """racecheck could not explore this test: say why; the test keeps its own outcome."""
        nodeid = self.item.nodeid
        self.state.unexplored[nodeid] = reason
        self.state.unexplored_detail[nodeid] = {"detail": detail,
                                                "schedules_run": self.schedules_run}
        self.item.user_properties.append(("racecheck_not_explored", reason))

    def _fresh_fixtures(self) -> bool:
        """Whether every schedule sets up and tears down the test's function fixtures."""
        return (self.settings.fixtures == "schedule" and isinstance(self.item, pytest.Function)
                and type(self.item).__name__ != "TestCaseFunction"
                and self.hypothesis is None
                and self.item.originalname == getattr(self.original, "__name__", None))

    # ------------------------------------------------------------- exploring

    def _body(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], object]:
        # A partial, not a closure: no plugin frame in the report's interleaving.
        one: Any = functools.partial(self.each, *args, **kwargs)
        one.__name__ = self.item.originalname  # names the test in the replay line
        threads = self.threads
        body: Any = one
        if threads is not None and threads > 1:
            body = _copies(one, threads, "thread_index" in self.item.fixturenames)
            body.__name__ = self.item.originalname
        if self._fresh_fixtures():
            body = functools.partial(_with_fresh_fixtures, self.item, self.each,
                                     threads or 1)
            body.__name__ = self.item.originalname
        return body  # type: ignore[no-any-return]

    def _explore(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        __tracebackhide__ = True
        if self.hypothesis is not None and hasattr(self.hypothesis, "inner_test"):
            self._explore_hypothesis(args, kwargs)
            return
        body = self._body(args, kwargs)
        if self.replay is None:
            self._replay_saved(body)
        self._check(body, replay=self.replay)

    def _explore_hypothesis(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Hypothesis picks the inputs, racecheck the schedules: explore each example.

        Hypothesis lets plugins replace ``fn.hypothesis.inner_test`` (pytest-trio
        does, to run examples in an event loop); the engine itself stays outside
        the scheduler.  Tokens depend on the example, so no failure database.
        """
        __tracebackhide__ = True
        hyp = self.hypothesis
        inner = hyp.inner_test
        run = self

        @functools.wraps(inner)
        def explored_inner(*a: Any, **kw: Any) -> None:
            __tracebackhide__ = True

            one: Any = functools.partial(inner, *a, **kw)
            one.__name__ = run.item.originalname
            run._check(one, replay=run.replay)

        hyp.inner_test = explored_inner
        try:
            self.original(*args, **kwargs)
        finally:
            hyp.inner_test = inner

    def _progress_reporter(self) -> Callable[[int, int], None] | None:
        """In -v mode, long explorations show ``[done/budget]`` about every two seconds."""
        config = self.item.config
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or config.get_verbosity() < 1:
            return None
        capture = config.pluginmanager.get_plugin("capturemanager")
        last = [time.perf_counter()]

        def progress(done: int, budget: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= _PROGRESS_EVERY and done < budget:
                last[0] = now
                if capture is not None:  # the test's output is captured; this is ours
                    with capture.global_and_fixture_disabled():
                        reporter.write(f" [{done}/{budget}]", flush=True)
                else:
                    reporter.write(f" [{done}/{budget}]", flush=True)

        return progress

    def _check(self, body: Callable[[], object], replay: str | None) -> None:
        __tracebackhide__ = True
        import racecheck

        s = self.settings
        start = time.perf_counter()
        try:
            result = racecheck.check(
                body, schedules=s.schedules, strategy=s.strategy, seed=s.seed,
                time_budget=s.time_budget, watchdog=s.watchdog, replay=replay,
                max_steps=s.max_steps, max_threads=s.max_threads, step_budget=s.step_budget,
                check_determinism=s.check_determinism, isolate=s.isolate,
                eager_timeouts=s.eager_timeouts, shrink=s.shrink, mode=s.mode, jobs=s.jobs,
                progress=self._progress_reporter(),
                replay_line='@pytest.mark.racecheck(replay="{token}")  # on this test')
        except racecheck.NestedExploration:
            raise _Nested() from None
        except racecheck.NotExplorable as exc:
            self.schedules_run += exc.schedules_run
            raise
        except racecheck.RaceFound as exc:
            if isinstance(exc.failure.exception, racecheck.NestedExploration):
                raise _Nested() from None
            if isinstance(exc.failure.exception, _PASSTHROUGH):
                # pytest.skip() / xfail() / exit() inside the test: the test's own
                # outcome, not a race.
                raise exc.failure.exception from None
            self.schedules_run += exc.failure.schedule_index + 1
            raise
        finally:
            self.elapsed += time.perf_counter() - start
        self.schedules_run += result.schedules_run
        if result.parallel_from is not None:
            self.parallel_from = result.parallel_from
        self.notes.extend(n for n in result.notes if n not in self.notes)
        self.strategy = result.strategy
        if result.evidence not in self.evidence:
            self.evidence.append(result.evidence)

    def _replay_saved(self, body: Callable[[], object]) -> None:
        """Replay this test's saved failing tokens first; forget those that pass now."""
        __tracebackhide__ = True
        import racecheck

        cache = getattr(self.item.config, "cache", None)
        if cache is None:
            return
        key = failures_key(self.item.nodeid)
        tokens = cache.get(key, None)
        if not isinstance(tokens, list) or not tokens:
            return
        for token in tokens:
            try:
                self._check(body, replay=str(token))
            except racecheck.RaceFound:
                self.source = "failure database"
                raise
            except (racecheck.ReplayDiverged, racecheck.InvalidArgument):
                continue  # the code changed since: the token no longer applies
        cache.set(key, None)  # every saved schedule passes (or no longer applies) now

    # --------------------------------------------------------------- records

    def _record(self, **fields: Any) -> dict[str, Any]:
        from racecheck._data import evidence_data

        record: dict[str, Any] = {
            "nodeid": self.item.nodeid,
            "ok": True,
            "verdict": "pass",
            "schedules_run": self.schedules_run,
            "parallel_from": self.parallel_from,
            "seed": self.settings.seed,
            "run_seed": self.state.settings.seed,
            "strategy": self.strategy,
            "token": None,
            "schedule_index": None,
            "preemptions": None,
            "found_preemptions": None,
            "elapsed": round(self.elapsed, 4),
            "evidence": "; ".join(map(str, self.evidence)),
            "evidence_detail": [evidence_data(e) for e in self.evidence],
            "source": self.source,
            "note": "",
            "report": "",
            "failure": None,
        }
        record.update(fields)
        self.state.records.append(record)
        props = self.item.user_properties
        props.append(("racecheck_verdict", record["verdict"]))
        props.append(("racecheck_seed", record["seed"]))
        props.append(("racecheck_schedules", record["schedules_run"]))
        if record["token"]:
            props.append(("racecheck_token", record["token"]))
        return record

    def _passed(self, note: str) -> None:
        self._record(note="; ".join([n for n in [note, *self.notes] if n]))
        cache = getattr(self.item.config, "cache", None)
        if cache is not None and self.replay is None:
            key = failures_key(self.item.nodeid)
            if cache.get(key, None) is not None:
                cache.set(key, None)

    def _failed(self, exc: racecheck.RaceFound) -> None:
        failure = exc.failure
        nodeid = self.item.nodeid
        run_seed = self.state.settings.seed
        footer = (
            f"Re-run this exploration: pytest --racecheck --racecheck-seed={run_seed} "
            f"\"{nodeid}\""
        )
        if self.source == "failure database":
            footer += ("\n(replayed from the failure database: this schedule failed on a "
                       "previous run)")
        report = f"{failure.report or failure}\n{footer}"
        notes = getattr(exc, "__notes__", None)  # Hypothesis' failing example
        if isinstance(notes, list) and notes:
            report += "\n\n" + "\n".join(str(n) for n in notes)
        exc.args = (report,)
        self._record(ok=False, verdict=str(failure.kind), token=failure.token,
                     seed=failure.seed if failure.seed is not None else self.settings.seed,
                     schedule_index=failure.schedule_index, report=report,
                     preemptions=failure.preemptions,
                     found_preemptions=failure.found_preemptions,
                     evidence=_failure_evidence(failure),
                     evidence_detail=[], failure=failure.to_data())
        cache = getattr(self.item.config, "cache", None)
        if cache is not None and self.hypothesis is None and self.replay is None:
            key = failures_key(nodeid)
            saved = cache.get(key, None)
            tokens = list(saved) if isinstance(saved, list) else []
            if failure.token not in tokens:
                tokens.insert(0, failure.token)
            cache.set(key, tokens[:10])


def _finish_function_fixtures(item: pytest.Function) -> BaseException | None:
    """Tear down the function-scoped fixtures the test was set up with, now.

    pytest would at the item's teardown; the schedules that follow set up
    their own.  Returns the first error of a teardown, for the test to raise
    after exploring (its teardown phase would have).
    """
    finalizers = item.session._setupstate.stack[item][0]
    first: BaseException | None = None
    for finalize in reversed(list(finalizers)):
        fixturedef = getattr(getattr(finalize, "func", None), "__self__", None)
        if getattr(fixturedef, "scope", None) != "function" or \
                getattr(finalize, "func", None) != getattr(fixturedef, "finish", None):
            continue
        finalizers.remove(finalize)
        try:
            finalize()
        except Exception as exc:
            first = first or exc
    return first


def _with_fresh_fixtures(item: pytest.Function, function: Callable[..., object],
                         copies: int) -> object:
    """One schedule of a test with its own function-scoped fixtures, set up and torn down.

    Runs inside the schedule (its managed main thread), so threads a fixture
    starts are explored and a teardown that stops them is part of the
    schedule, as pytest-rerunfailures re-runs an item's setup.  The fixtures
    the test was set up with were torn down before the first schedule
    (``_finish_function_fixtures``), in a forked child and in this process alike.
    """
    __tracebackhide__ = True
    _clear_captured_logs(item)
    finalizers = item.session._setupstate.stack[item][0]
    mark = len(finalizers)
    try:
        item._initrequest()
        item.setup()
        args = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
        try:
            if copies > 1:
                one: Any = functools.partial(function, **args)
                return _copies(one, copies, "thread_index" in args)()
            return function(**args)
        except BaseException:
            from racecheck._core.trace import body_raised

            body_raised()  # the report's interleaving ends here, not after the teardown
            raise
    finally:
        fresh = finalizers[mark:]
        del finalizers[mark:]
        errors: list[BaseException] = []
        for finalize in reversed(fresh):
            try:
                finalize()
            except BaseException as exc:
                if not _pytest_own(finalize):  # tmp_path's expects a phase's report
                    errors.append(exc)
        if errors:
            raise errors[0]


def _pytest_own(finalize: Callable[[], object]) -> bool:
    """Whether a finalizer tears down one of pytest's own fixtures."""
    fixturedef = getattr(getattr(finalize, "func", None), "__self__", None)
    module = getattr(getattr(fixturedef, "func", None), "__module__", "") or ""
    return module.startswith("_pytest.")


def _clear_captured_logs(item: pytest.Function) -> None:
    """Drop the log records pytest's logging plugin captured so far in this call phase.

    The plugin captures the whole call phase, the plain run and earlier
    schedules included; ``caplog.records`` reads that capture.
    """
    try:
        from _pytest.logging import caplog_handler_key
    except ImportError:  # pragma: no cover - another pytest layout
        return
    handler = item.stash.get(caplog_handler_key, None)
    if handler is not None:
        handler.clear()


def _copies(one: Callable[..., object], n: int, indexed: bool) -> Callable[[], object]:
    """``threads=N``: the test body in N threads at once; the first error is raised.

    ``indexed``: the test asks for ``thread_index``, which each copy gets its own of.
    """

    def copies() -> None:
        __tracebackhide__ = True
        errors: list[BaseException] = []

        def body(index: int) -> None:
            try:
                if indexed:
                    one(thread_index=index)
                else:
                    one()
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=body, args=(i,), name=f"copy-{i + 1}")
                   for i in range(n)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        if errors:
            raise errors[0]

    return copies


_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def failures_key(nodeid: str) -> str:
    """The ``config.cache`` key of a test's failing tokens (one flat, portable file name)."""
    name = "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in nodeid.encode())
    if len(name) > 180:
        name = f"{name[:160]}-{zlib.crc32(nodeid.encode()):08x}"
    return FAILURES_CACHE_PREFIX + name


def _failure_evidence(failure: Any) -> str:
    """"failed at schedule 3, shrunk from 41 to 1 preemption" for the summary line."""
    text = f"failed at schedule {failure.schedule_index + 1}"
    if failure.preemptions < failure.found_preemptions:
        unit = "preemption" if failure.preemptions == 1 else "preemptions"
        text += (f", shrunk from {failure.found_preemptions} to {failure.preemptions} {unit}")
    return text
