"""The ``pytest11`` entry point: run threaded tests under racecheck's scheduler.

With ``pytest --racecheck`` every test that starts a thread (``threading.Thread``,
``Timer``, ``ThreadPoolExecutor`` workers) is re-run under many controlled
schedules, unchanged; a test that starts no thread runs once, as without the
plugin.  ``@pytest.mark.racecheck(...)`` opts one test in without the flag, or
tunes it.  The first failing schedule fails the test with racecheck's report
(the interleaving, the verdict, the replay line).

How a test runs (``pytest_pyfunc_call`` below):

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

Seeds: one run seed is chosen per session (random unless given, printed in
the header, kept in ``config.cache`` for ``--racecheck-seed=last``, handed to
xdist workers as pytest-randomly does) and each test explores under
``crc32(run seed : nodeid)``, so a verdict depends neither on test order nor
on how xdist distributes tests.

Tests that use the ``racecheck`` fixture, or call ``racecheck.explore`` /
``check`` themselves, are run plainly: explorations do not nest.

This module is imported by every pytest session where the distribution is
installed, so it imports nothing from ``racecheck`` at module level: the
scheduler and its shims load inside hooks, only once a test is explored.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import json
import os
import random
import sys
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

    import racecheck

MARKER = (
    "racecheck(schedules=None, strategy=None, seed=None, threads=None, replay=None, "
    "time_budget=None, watchdog=None, max_steps=None, max_threads=None, step_budget=None, "
    "check_determinism=None, fixtures=None): run the test under many controlled thread "
    "schedules and fail with a replayable report when one of them breaks it. "
    "schedules/strategy/seed/time_budget/watchdog/max_steps/max_threads/step_budget/"
    "check_determinism override the command line; "
    "threads=N runs N copies of the test body in N threads; "
    'replay="TOKEN" runs only the schedule of that token.'
)
_MARKER_KWARGS = ("schedules", "strategy", "seed", "threads", "replay", "time_budget", "watchdog",
                  "max_steps", "max_threads", "step_budget", "check_determinism", "fixtures")
#: Scheduling points one test's schedules may take together, by default: a few
#: seconds to a minute of exploring, whatever the test (docs/real-suites.md).
STEP_BUDGET = 5_000_000

#: ``fixtures=``: "schedule" sets function-scoped fixtures up (and tears them down)
#: in every schedule; "test" keeps the ones the test was set up with.
_FIXTURES = ("schedule", "test")

SEED_CACHE_KEY = "racecheck/seed"
FAILURES_CACHE_PREFIX = "racecheck/failures/"


# ------------------------------------------------------------------ options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("racecheck", "racecheck: controlled thread scheduling")

    def add(flag: str, ini_help: str, **kwargs: Any) -> None:
        group.addoption(flag, dest=flag[2:].replace("-", "_"), **kwargs)
        parser.addini(flag[2:].replace("-", "_"), ini_help, type="string")

    add("--racecheck", "Run every thread-starting test under racecheck (true/false).",
        action="store_true", default=None,
        help="Re-run every test that starts threads under many controlled schedules "
             "(tests marked racecheck are explored even without it). [env RACECHECK]")
    add("--racecheck-schedules", "Schedules to try per test.", metavar="N", default=None,
        help="Schedules to try per test (default 200). [env RACECHECK_SCHEDULES]")
    add("--racecheck-strategy", "Exploration strategy.", metavar="NAME", default=None,
        help="Exploration strategy: portfolio (default: random and PCT in turn), random, pct. [env RACECHECK_STRATEGY]")
    add("--racecheck-seed", "Run seed (an integer, or last).", metavar="N|last", default=None,
        help="Run seed; each test explores under a seed derived from it and its node id. "
             "'last' reuses the previous run's seed. [env RACECHECK_SEED]")
    add("--racecheck-time-budget", "Seconds of exploration per test.", metavar="SECONDS",
        default=None,
        help="Stop exploring a test after this many seconds. [env RACECHECK_TIME_BUDGET]")
    add("--racecheck-watchdog", "Seconds before a thread stuck outside racecheck is a hang.",
        metavar="SECONDS", default=None,
        help="A thread blocked outside racecheck's control (real I/O) for this long ends "
             "the schedule with a 'hang' verdict (default 5). [env RACECHECK_WATCHDOG]")
    add("--racecheck-max-steps", "Scheduling points one schedule may take.", metavar="N",
        default=None,
        help="Scheduling points one schedule may take before it is a 'hang' (default "
             "200000). [env RACECHECK_MAX_STEPS]")
    add("--racecheck-max-threads", "Threads one schedule may start.", metavar="N",
        default=None,
        help="Threads one schedule may start; more is a usage error (default 64). "
             "[env RACECHECK_MAX_THREADS]")
    add("--racecheck-step-budget", "Scheduling points all of one test's schedules may take.",
        metavar="N", default=None,
        help="Stop exploring a test once its schedules took N scheduling points together "
             f"(default {STEP_BUDGET:,}; deterministic, unlike the time budget). "
             "[env RACECHECK_STEP_BUDGET]")
    add("--racecheck-check-determinism", "Run every schedule twice and compare (true/false).",
        action="store_true", default=None,
        help="Run every schedule twice and fail with a 'nondeterminism' verdict where the "
             "runs part (unseeded randomness, real time, state kept between schedules). "
             "[env RACECHECK_CHECK_DETERMINISM]")
    add("--racecheck-fixtures", "Function fixtures per schedule or per test.",
        metavar="schedule|test", default=None,
        help="'schedule' (default): every schedule sets up and tears down the test's "
             "function-scoped fixtures, inside the schedule; 'test': every schedule reuses "
             "the fixtures the test was set up with (for expensive fixtures). "
             "[env RACECHECK_FIXTURES]")
    add("--racecheck-isolate", "Run each exploration in a child process (true/false).",
        action="store_true", default=None,
        help="Run each exploration in a forked child process, so an interpreter crash "
             "becomes a 'crash' verdict. Needs os.fork and a racecheck core with "
             "isolate support; otherwise accepted and ignored (the header says so). "
             "[env RACECHECK_ISOLATE]")
    add("--racecheck-report", "Write a JSON report of every explored test to this path.",
        metavar="PATH", default=None,
        help="Write a JSON report (one entry per explored test) to PATH. "
             "[env RACECHECK_REPORT]")


@dataclass(frozen=True)
class Settings:
    """Session-wide settings, after command line > ini > env > defaults."""

    enabled: bool = False
    schedules: int = 200
    strategy: str = "portfolio"
    seed: int = 0
    seed_source: str = "random"
    time_budget: float | None = None
    watchdog: float | None = None
    max_steps: int | None = None
    max_threads: int | None = None
    step_budget: int = STEP_BUDGET
    check_determinism: bool = False
    fixtures: str = "schedule"
    isolate: bool = False
    report: str | None = None


@dataclass(frozen=True)
class ItemSettings:
    """One test's settings: the session's, overridden by its marker."""

    schedules: int
    strategy: str
    seed: int
    time_budget: float | None
    watchdog: float | None
    max_steps: int | None = None
    max_threads: int | None = None
    step_budget: int = STEP_BUDGET
    check_determinism: bool = False
    fixtures: str = "schedule"
    threads: int | None = None
    replay: str | None = None


@dataclass
class State:
    settings: Settings
    is_worker: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    #: nodeid -> why the test ran without being explored (for the summary).
    unexplored: dict[str, str] = field(default_factory=dict)
    #: nodeid -> what racecheck said, for tests it tried to explore and could not.
    unexplored_detail: dict[str, dict[str, Any]] = field(default_factory=dict)


STATE = pytest.StashKey[State]()


def _raw(config: pytest.Config, name: str) -> tuple[object, str]:
    """The first value set for ``name`` and where it came from."""
    cli = config.getoption(name)
    if cli is not None:
        return cli, "--" + name.replace("_", "-")
    ini = config.getini(name)
    if isinstance(ini, str) and ini.strip():
        return ini.strip(), f"ini option {name}"
    env = os.environ.get(name.upper())
    if env is not None and env.strip():
        return env.strip(), f"environment variable {name.upper()}"
    return None, "default"


def _parse(value: object, source: str, kind: Callable[[str], Any], what: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    try:
        parsed = kind(str(value))
    except ValueError:
        raise pytest.UsageError(f"racecheck: {source}={value!r} is not {what}") from None
    if isinstance(parsed, (int, float)) and parsed <= 0:
        raise pytest.UsageError(f"racecheck: {source}={value!r} must be positive")
    return parsed


def _flag(value: object, source: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"racecheck: {source}={value!r} is not true or false")


def _settings(config: pytest.Config) -> Settings:
    base = Settings()
    enabled = _flag(*_raw(config, "racecheck"))
    schedules = _parse(*_raw(config, "racecheck_schedules"), int, "a positive integer")
    strategy, _ = _raw(config, "racecheck_strategy")
    time_budget = _parse(*_raw(config, "racecheck_time_budget"), float, "a number of seconds")
    watchdog = _parse(*_raw(config, "racecheck_watchdog"), float, "a number of seconds")
    isolate = _flag(*_raw(config, "racecheck_isolate"))
    max_steps = _parse(*_raw(config, "racecheck_max_steps"), int, "a positive integer")
    max_threads = _parse(*_raw(config, "racecheck_max_threads"), int, "a positive integer")
    step_budget = _parse(*_raw(config, "racecheck_step_budget"), int, "a positive integer")
    check_determinism = _flag(*_raw(config, "racecheck_check_determinism"))
    fixtures, fixtures_source = _raw(config, "racecheck_fixtures")
    if fixtures is not None and str(fixtures) not in _FIXTURES:
        raise pytest.UsageError(f"racecheck: {fixtures_source}={fixtures!r} is not one of "
                                f"{', '.join(_FIXTURES)}")
    report, _ = _raw(config, "racecheck_report")
    seed, seed_source = _run_seed(config)
    return Settings(
        enabled=enabled,
        schedules=schedules or base.schedules,
        strategy=str(strategy) if strategy is not None else base.strategy,
        seed=seed,
        seed_source=seed_source,
        time_budget=time_budget,
        watchdog=watchdog,
        max_steps=max_steps,
        max_threads=max_threads,
        step_budget=step_budget or base.step_budget,
        check_determinism=check_determinism,
        fixtures=str(fixtures) if fixtures is not None else base.fixtures,
        isolate=isolate,
        report=str(report) if report is not None else None,
    )


def _run_seed(config: pytest.Config) -> tuple[int, str]:
    """The session's seed: from the xdist controller, the options, the cache, or random."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "racecheck_seed" in workerinput:
        return int(workerinput["racecheck_seed"]), "controller"
    value, source = _raw(config, "racecheck_seed")
    if value is None:
        return random.SystemRandom().randrange(2**32), "random"
    if str(value).strip().lower() == "last":
        cache = getattr(config, "cache", None)
        last = cache.get(SEED_CACHE_KEY, None) if cache is not None else None
        if isinstance(last, int):
            return last, "last"
        return random.SystemRandom().randrange(2**32), "random (no previous seed cached)"
    try:
        return int(str(value)), source
    except ValueError:
        raise pytest.UsageError(
            f"racecheck: {source}={value!r} is not an integer or 'last'") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    settings = _settings(config)
    is_worker = hasattr(config, "workerinput")
    config.stash[STATE] = State(settings=settings, is_worker=is_worker)
    cache = getattr(config, "cache", None)
    if not is_worker and cache is not None:
        cache.set(SEED_CACHE_KEY, settings.seed)
    config.pluginmanager.register(_Outcomes(config.stash[STATE]), "racecheck-outcomes")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker explores under the controller's run seed (pytest-randomly's way)."""
    state = node.config.stash.get(STATE, None)
    if state is not None:
        node.workerinput["racecheck_seed"] = state.settings.seed


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: collect the workers' records for the summary and the JSON report."""
    state = node.config.stash.get(STATE, None)
    output = getattr(node, "workeroutput", None) or {}
    if state is not None and "racecheck_records" in output:
        state.records.extend(json.loads(output["racecheck_records"]))
    if state is not None and "racecheck_unexplored" in output:
        state.unexplored.update(json.loads(output["racecheck_unexplored"]))
    if state is not None and "racecheck_unexplored_detail" in output:
        state.unexplored_detail.update(json.loads(output["racecheck_unexplored_detail"]))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    seed = state.settings.seed
    lines = [f"racecheck: seed={seed} (replay with --racecheck-seed={seed})"]
    if state.settings.seed_source.startswith("random ("):
        lines[0] += f" [{state.settings.seed_source}]"
    if state.settings.isolate and not isolate_supported():
        lines.append("racecheck: --racecheck-isolate is not available in this racecheck "
                     "version; explored tests run in the pytest process")
    elif state.settings.isolate:
        lines.append("racecheck: each exploration runs in a child process (--racecheck-isolate)")
    return lines


@pytest.fixture(name="racecheck")
def racecheck_fixture() -> ModuleType:
    """The ``racecheck`` module, for explicit ``racecheck.explore(...)`` in a test.

    A test that uses this fixture is never wrapped by the plugin: it runs its
    own explorations, and explorations do not nest.
    """
    import racecheck as module

    return module


@pytest.fixture
def thread_index() -> int:
    """Which copy of a ``@pytest.mark.racecheck(threads=N)`` test runs: 0 to N-1.

    Per-thread setup in the test body (``accounts[thread_index]``), as
    pytest-run-parallel users ask for; 0 when the test runs as one thread.
    """
    return 0


# ------------------------------------------------------------- running tests


def _item_settings(item: pytest.Function, settings: Settings,
                   marker: pytest.Mark | None) -> ItemSettings:
    seed = zlib.crc32(f"{settings.seed}:{item.nodeid}".encode())
    out = ItemSettings(schedules=settings.schedules, strategy=settings.strategy, seed=seed,
                       time_budget=settings.time_budget, watchdog=settings.watchdog,
                       max_steps=settings.max_steps, max_threads=settings.max_threads,
                       step_budget=settings.step_budget,
                       check_determinism=settings.check_determinism,
                       fixtures=settings.fixtures)
    if marker is None:
        return out
    if marker.args:
        pytest.fail(f"@pytest.mark.racecheck takes keyword arguments only "
                    f"({', '.join(_MARKER_KWARGS)}), got {marker.args!r}", pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KWARGS))
    if unknown:
        pytest.fail(f"@pytest.mark.racecheck: unknown argument(s) {', '.join(unknown)}; "
                    f"it takes {', '.join(_MARKER_KWARGS)}", pytrace=False)
    given = {k: v for k, v in marker.kwargs.items() if v is not None}
    if given.get("fixtures", "schedule") not in _FIXTURES:
        pytest.fail(f"@pytest.mark.racecheck(fixtures=...) must be one of {', '.join(_FIXTURES)}, "
                    f"got {given['fixtures']!r}", pytrace=False)
    threads = given.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        pytest.fail(f"@pytest.mark.racecheck(threads=...) must be a positive integer, "
                    f"got {threads!r}", pytrace=False)
    return replace(out, **given)


#: Threads the fixtures of a test started during its setup, with the fixture's scope.
SETUP_THREADS = pytest.StashKey[list[tuple[threading.Thread, str]]]()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, object, object]:
    """Watch each fixture's thread starts: a test whose fixture starts threads is threaded.

    The scope matters: threads of a function-scoped fixture are re-created by
    every schedule, those of a module or session fixture (a server) are not.
    """
    item = getattr(request, "_pyfuncitem", None)
    state = request.config.stash.get(STATE, None)
    if item is None or state is None or not (state.settings.enabled
                                             or item.get_closest_marker("racecheck")):
        return (yield)
    with _watch_thread_starts() as started:
        try:
            return (yield)
        finally:
            item.stash.setdefault(SETUP_THREADS, []).extend(
                (t, str(fixturedef.scope)) for t in started)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """unittest.TestCase methods: explored like functions, setUp to cleanups per schedule.

    pytest runs a TestCase method through ``item.runtest``, not
    ``pytest_pyfunc_call``; for the duration of the call it is replaced by a
    run of a fresh TestCase instance (``setUp``, the method, ``tearDown``,
    ``addCleanup`` callbacks, subtests), once plainly and then per schedule.
    """
    __tracebackhide__ = True
    state = item.config.stash.get(STATE, None)
    marker = item.get_closest_marker("racecheck")
    if state is None or (marker is None and not state.settings.enabled):
        return (yield)
    if type(item).__name__ != "TestCaseFunction" or not isinstance(item, pytest.Function):
        if not isinstance(item, pytest.Function):
            state.unexplored[item.nodeid] = f"not a Python test function ({type(item).__name__})"
        return (yield)
    settings = _item_settings(item, state.settings, marker)
    run = _Run(item, state, settings, _test_case_runner(item), plain_first=marker is None)
    saved = item.__dict__.get("runtest")
    def runtest() -> None:
        __tracebackhide__ = True
        run((), {})

    item.runtest = runtest  # type: ignore[method-assign]
    try:
        return (yield)
    finally:
        if saved is None:
            del item.runtest
        else:
            item.runtest = saved  # type: ignore[method-assign]


def _test_case_runner(item: pytest.Function) -> Callable[[], None]:
    """One run of a TestCase method on a fresh instance, raising its first problem."""
    import unittest

    parent: Any = item.parent
    case_class: Any = parent.obj
    name = item.name

    def run_test_case() -> None:
        __tracebackhide__ = True
        case = case_class(name)
        result = unittest.TestResult()
        case.run(result)
        problems = result.errors + result.failures
        if problems:
            test, text = problems[0]
            raise AssertionError(f"{test} failed:\n{text}")
        if result.unexpectedSuccesses:
            raise AssertionError(f"{result.unexpectedSuccesses[0]}: unexpected success")
        if result.skipped and not result.testsRun - len(result.skipped):
            pytest.skip(str(result.skipped[0][1]))

    run_test_case.__name__ = name
    return run_test_case


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Swap the test function for one that explores it, for the duration of the call.

    pytest's own ``pytest_pyfunc_call`` calls ``pyfuncitem.obj`` with the
    fixture values; handing it a wrapper keeps every other plugin's view of
    the call (async checks, return-value warnings) unchanged.
    """
    __tracebackhide__ = True
    state = pyfuncitem.config.stash.get(STATE, None)
    marker = pyfuncitem.get_closest_marker("racecheck")
    original = pyfuncitem.obj
    if state is None or (marker is None and not state.settings.enabled):
        return (yield)
    why = ""
    coroutine_fn = inspect.unwrap(original)
    plain: Callable[..., object] = original
    if not _NEVER_WRAP.isdisjoint(pyfuncitem.fixturenames):
        why = "uses the racecheck or pytester fixture (runs its own explorations)"
    elif inspect.isasyncgenfunction(coroutine_fn):
        why = "an async generator test"
    elif inspect.iscoroutinefunction(original):  # no plugin made it a function (anyio)
        why = _bare_async_test(pyfuncitem)
        plain = functools.partial(_run_coroutine, coroutine_fn, pyfuncitem, False)
        plain.__name__ = original.__name__  # type: ignore[attr-defined]
    if why:
        state.unexplored[pyfuncitem.nodeid] = why
        return (yield)
    settings = _item_settings(pyfuncitem, state.settings, marker)
    each: Callable[..., object] | None = None
    if inspect.iscoroutinefunction(coroutine_fn):
        # An async test: every schedule runs the coroutine in an event loop made in
        # its managed main thread (pytest-asyncio's, when the schedule set up its
        # fixtures, or asyncio.run), so the loop's executor threads are managed too.
        each = functools.partial(_run_coroutine, coroutine_fn, pyfuncitem,
                                 settings.fixtures == "schedule")
        each.__name__ = original.__name__  # type: ignore[attr-defined]
    run = _Run(pyfuncitem, state, settings, plain, plain_first=marker is None, each=each)

    @functools.wraps(original)
    def explored(*args: Any, **kwargs: Any) -> object:
        __tracebackhide__ = True
        return run(args, kwargs)

    pyfuncitem.obj = explored
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


def _bare_async_test(item: pytest.Function) -> str:
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


def _run_coroutine(coroutine_fn: Callable[..., Any], item: pytest.Function, fresh: bool,
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
           "another process)")

#: Exceptions that are a test's own outcome, raised as they are.
_PASSTHROUGH = (pytest.skip.Exception, pytest.xfail.Exception, pytest.exit.Exception)

#: Tests using these fixtures run plainly: ``racecheck`` runs its own
#: explorations, and ``pytester`` / ``testdir`` run a whole inner pytest session
#: (whose own tests the inner plugin explores; explorations do not nest).
_NEVER_WRAP = frozenset({"racecheck", "pytester", "testdir"})


def isolate_supported() -> bool:
    """Whether this racecheck core can run an exploration in a child process."""
    import racecheck

    return "isolate" in inspect.signature(racecheck.check).parameters


def _is_nesting(failure: Any, usage_error: type[BaseException]) -> bool:
    """Whether the test failed only because it runs an exploration of its own."""
    if isinstance(failure.exception, usage_error):
        return True
    # Across --racecheck-isolate the exception object stays in the child; its
    # text comes back in the message.
    return failure.exception is None and _NESTING_TEXT in str(failure.message)


# Across --racecheck-isolate only the message of NestedExploration comes back.
_NESTING_TEXT = "explorations do not nest"


class _Nested(Exception):
    """The test runs its own exploration: it must run plainly."""


@contextmanager
def _watch_thread_starts() -> Iterator[list[threading.Thread]]:
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


class _Run:
    """One test under the plugin: plain run, saved failures, exploration, record."""

    def __init__(self, item: pytest.Function, state: State, settings: ItemSettings,
                 original: Callable[..., object], plain_first: bool,
                 each: Callable[..., object] | None = None) -> None:
        self.item = item
        self.state = state
        self.settings = settings
        self.original = original
        #: What each schedule runs (an async test's coroutine in a loop of its own).
        self.each = each or original
        self.plain_first = plain_first
        self.hypothesis: Any = getattr(original, "hypothesis", None)
        self.schedules_run = 0
        self.elapsed = 0.0
        self.evidence: list[racecheck.Evidence] = []
        self.notes: list[str] = []
        self.strategy = settings.strategy
        self.source = "replay marker" if settings.replay else "exploration"

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        __tracebackhide__ = True
        # Import before watching Thread.start: racecheck keeps the real method.
        import racecheck

        plain_exc: BaseException | None = None
        result: object = None
        if self.plain_first:
            with _watch_thread_starts() as started:
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
        threads = self.settings.threads
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
        if self.settings.replay is None:
            self._replay_saved(body)
        self._check(body, replay=self.settings.replay)

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
            run._check(one, replay=run.settings.replay)

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
        extra: dict[str, Any] = {}
        if self.state.settings.isolate and isolate_supported():
            extra["isolate"] = True
        progress = self._progress_reporter()
        if progress is not None:
            extra["progress"] = progress
        start = time.perf_counter()
        try:
            result = racecheck.check(
                body, schedules=s.schedules, strategy=s.strategy, seed=s.seed,
                time_budget=s.time_budget, watchdog=s.watchdog, replay=replay,
                max_steps=s.max_steps, max_threads=s.max_threads, step_budget=s.step_budget,
                check_determinism=bool(s.check_determinism),
                replay_line='@pytest.mark.racecheck(replay="{token}")  # on this test', **extra)
        except racecheck.NestedExploration:
            raise _Nested() from None
        except racecheck.NotExplorable as exc:
            self.schedules_run += exc.schedules_run
            raise
        except racecheck.RaceFound as exc:
            if _is_nesting(exc.failure, racecheck.NestedExploration):
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
        record: dict[str, Any] = {
            "nodeid": self.item.nodeid,
            "ok": True,
            "verdict": "pass",
            "schedules_run": self.schedules_run,
            "seed": self.settings.seed,
            "run_seed": self.state.settings.seed,
            "strategy": self.strategy,
            "token": None,
            "schedule_index": None,
            "elapsed": round(self.elapsed, 4),
            "evidence": "; ".join(map(str, self.evidence)),
            "evidence_detail": [dataclasses.asdict(e) for e in self.evidence],
            "source": self.source,
            "note": "",
            "report": "",
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
        if cache is not None and self.settings.replay is None:
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
        self._record(ok=False, verdict=failure.kind, token=failure.token,
                     seed=failure.seed if failure.seed is not None else self.settings.seed,
                     schedule_index=failure.schedule_index, report=report,
                     evidence=f"failed at schedule {failure.schedule_index + 1}",
                     evidence_detail=[])
        cache = getattr(self.item.config, "cache", None)
        if cache is not None and self.hypothesis is None and self.settings.replay is None:
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


# -------------------------------------------------------------- reporting


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A race fails the test with racecheck's report, not a traceback through the scheduler."""
    report = yield
    module = sys.modules.get("racecheck")
    if (module is not None and call.when == "call" and call.excinfo is not None
            and report.failed and isinstance(call.excinfo.value, module.RaceFound)):
        exc = call.excinfo.value
        text = f"racecheck.{type(exc).__name__}: {exc}"
        notes = getattr(exc, "__notes__", None)  # Hypothesis' "Falsifying example: ..."
        if isinstance(notes, list):
            missing = [str(n) for n in notes if str(n) not in text]
            if missing:
                text += "\n\n" + "\n".join(missing)
        report.longrepr = text
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config
                             ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """``-v`` shows what the exploration did: ``PASSED (racecheck: 200 schedules)``.

    Read from the report's user properties, so it works for xdist workers' reports too;
    xfail and skip reports are left to pytest.
    """
    if report.when != "call" or hasattr(report, "wasxfail") or report.skipped:
        return None
    props = dict(report.user_properties)
    if "racecheck_not_explored" in props and report.passed:
        return "passed", ".", (f"PASSED (racecheck: not explored, "
                               f"{props['racecheck_not_explored']})", {"green": True})
    if "racecheck_verdict" not in props:
        return None
    n = props.get("racecheck_schedules")
    counted = f"{n} schedule{'s' if n != 1 else ''}"
    if report.passed:
        return "passed", ".", (f"PASSED (racecheck: {counted})", {"green": True})
    verdict = props["racecheck_verdict"]
    what = ("pass" if verdict == "pass" else "exploration stopped" if verdict == "error"
            else f"race found: {verdict}")
    return "failed", "F", (f"FAILED (racecheck: {what}, {counted})", {"red": True})


class _Outcomes:
    """Records each test's outcome (passed, failed, xfailed...) for the summary lines.

    Registered per config in ``pytest_configure``: reports do not carry their
    config, and pytester runs several sessions in one process.
    """

    def __init__(self, state: State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        wasxfail = hasattr(report, "wasxfail")
        self.state.outcomes[report.nodeid] = (
            "xfailed" if wasxfail and report.skipped else "xpassed" if wasxfail
            else report.outcome
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    if state.is_worker:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["racecheck_records"] = json.dumps(state.records)
            workeroutput["racecheck_unexplored"] = json.dumps(state.unexplored)
            workeroutput["racecheck_unexplored_detail"] = json.dumps(state.unexplored_detail)
        return
    if state.settings.report:
        path = Path(session.config.invocation_params.dir, state.settings.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "seed": state.settings.seed,
            "tests": [dict(r, outcome=state.outcomes.get(r["nodeid"])) for r in _sorted(state)],
            "not_explored": [
                {"nodeid": nodeid, "reason": why, "outcome": state.outcomes.get(nodeid),
                 **state.unexplored_detail.get(nodeid, {})}
                for nodeid, why in _not_explored(state).items()],
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _sorted(state: State) -> list[dict[str, Any]]:
    return sorted(state.records, key=lambda r: str(r["nodeid"]))


def _not_explored(state: State) -> dict[str, str]:
    """nodeid -> why, for the tests that ran without a record of an exploration, sorted."""
    explored = {str(r["nodeid"]) for r in state.records}
    return {nodeid: why for nodeid, why in sorted(state.unexplored.items())
            if nodeid not in explored}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or state.is_worker or not (state.records or state.settings.enabled):
        return
    tr = terminalreporter
    records = _sorted(state)
    failures = [r for r in records if not r["ok"]]
    tr.write_sep("=", "racecheck")
    total = sum(int(r["schedules_run"]) for r in records)
    seed = state.settings.seed
    tr.write_line(f"{len(records)} test{'s' if len(records) != 1 else ''} explored, "
                  f"{total} schedule{'s' if total != 1 else ''} run, "
                  f"seed={seed} (replay with --racecheck-seed={seed})")
    not_explored = _not_explored(state)
    if not_explored:
        reasons = collections.Counter(not_explored.values())
        left = len(not_explored)
        tr.write_line(f"{left} test{'s' if left != 1 else ''} not explored: "
                      + "; ".join(f"{n} {why}" for why, n in reasons.most_common()))
    for nodeid, why in not_explored.items():
        detail = state.unexplored_detail.get(nodeid)
        if detail is not None:
            n = int(detail.get("schedules_run") or 0)
            tr.write_line(f"{nodeid}  not explored: {why} "
                          f"(after {n} schedule{'s' if n != 1 else ''}; "
                          f"{(str(detail.get('detail', '')).splitlines() or [''])[0][:300]})")
    if failures:
        kinds: dict[str, int] = {}
        for r in failures:
            kinds[str(r["verdict"])] = kinds.get(str(r["verdict"]), 0) + 1
        tr.write_line("failures by verdict: "
                      + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for r in records:
        n = int(r["schedules_run"])
        count = f"{n} schedule{'s' if n != 1 else ''}"
        evidence = str(r["evidence"] or "")
        parts = r.get("evidence_detail") or []
        extra = ""
        if parts and parts[0]["schedules"] == n:
            count = evidence  # "200 schedules (100 random, 100 PCT depth 2-3)"
        elif evidence:
            extra = f"; {evidence}"
        if r["source"] != "exploration":
            extra += f"; from the {r['source']}"
        if r["note"]:
            extra += f"; {r['note']}"
        outcome = state.outcomes.get(str(r["nodeid"]))
        shown = f" [{outcome}]" if outcome in ("xfailed", "xpassed") else ""
        verdict = ("pass" if r["ok"] else "error" if r["verdict"] == "error"
                   else f"race found: {r['verdict']}")
        tr.write_line(f"{r['nodeid']}  {verdict}{shown}  ({count}{extra})")
    for r in failures:
        if r["verdict"] == "error":
            continue  # pytest shows the error itself
        tr.write_sep("-", f"{r['nodeid']}: race found: {r['verdict']}")
        for line in str(r["report"]).splitlines():
            tr.write_line(line)
    if state.settings.report:
        tr.write_line(f"racecheck: JSON report written to {state.settings.report}")
