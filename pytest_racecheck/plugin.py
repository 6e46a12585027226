"""The ``pytest11`` entry point: run threaded tests under racecheck's scheduler.

With ``pytest --racecheck`` every test that starts a thread (``threading.Thread``,
``Timer``, ``ThreadPoolExecutor`` workers) is re-run under many controlled
schedules, unchanged; a test that starts no thread runs once, as without the
plugin.  ``@pytest.mark.racecheck(...)`` opts one test in without the flag, or
tunes it.  The first failing schedule fails the test with racecheck's report
(the interleaving, the verdict, the replay line).

This module keeps the hooks; the rest is split along its seams:
``options.py`` (the options and the ``racecheck.Settings`` they make),
``run.py`` (one test's plain run, exploration and record) and ``report.py``
(``-v`` statuses, the terminal summary, the JSON report).

Seeds: one run seed is chosen per session (random unless given, printed in
the header, kept in ``config.cache`` for ``--racecheck-seed=last``, handed to
xdist workers as pytest-randomly does) and each test explores under
``crc32(run seed : nodeid)``.

Tests that use the ``racecheck`` fixture, or call ``racecheck.explore`` /
``check`` themselves, are run plainly: explorations do not nest.

This module is imported by every pytest session where the distribution is
installed, so it imports nothing from ``racecheck`` at module level.  The
settings (``racecheck.Settings``, the one reader of ``RACECHECK_*``) load in
``pytest_configure``; the scheduler's patches and instrumentation are
installed only while a test is explored.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from . import options
from . import report as _report
from .run import (
    NEVER_WRAP,
    SETUP_THREADS,
    STATE,
    Run,
    State,
    bare_async_test,
    run_coroutine,
    unittest_runner,
    watch_thread_starts,
)

if TYPE_CHECKING:
    from types import ModuleType


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", options.MARKER)
    settings, seed_note = options.session_settings(config)
    is_worker = hasattr(config, "workerinput")
    config.stash[STATE] = State(settings=settings, is_worker=is_worker, seed_note=seed_note)
    cache = getattr(config, "cache", None)
    if not is_worker and cache is not None:
        cache.set(options.SEED_CACHE_KEY, settings.seed)
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
    if state.seed_note:
        lines[0] += f" [{state.seed_note}]"
    if state.settings.isolate:
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


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, object, object]:
    """Watch each fixture's thread starts: a test whose fixture starts threads is threaded.

    The scope matters: threads of a function-scoped fixture are re-created by
    every schedule, those of a module or session fixture (a server) are not.
    """
    item = getattr(request, "_pyfuncitem", None)
    state = request.config.stash.get(STATE, None)
    if item is None or state is None or not (state.settings.explore_all
                                             or item.get_closest_marker("racecheck")):
        return (yield)
    with watch_thread_starts() as started:
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
    if state is None or (marker is None and not state.settings.explore_all):
        return (yield)
    if type(item).__name__ != "TestCaseFunction" or not isinstance(item, pytest.Function):
        if not isinstance(item, pytest.Function):
            state.unexplored[item.nodeid] = f"not a Python test function ({type(item).__name__})"
        return (yield)
    settings = options.item_settings(item, state.settings, marker)
    run = Run(item, state, settings, unittest_runner(item), plain_first=marker is None)
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
    if state is None or (marker is None and not state.settings.explore_all):
        return (yield)
    why = ""
    coroutine_fn = inspect.unwrap(original)
    plain: Callable[..., object] = original
    if not NEVER_WRAP.isdisjoint(pyfuncitem.fixturenames):
        why = "uses the racecheck or pytester fixture (runs its own explorations)"
    elif inspect.isasyncgenfunction(coroutine_fn):
        why = "an async generator test"
    elif inspect.iscoroutinefunction(original):  # no plugin made it a function (anyio)
        why = bare_async_test(pyfuncitem)
        plain = functools.partial(run_coroutine, coroutine_fn, pyfuncitem, False)
        plain.__name__ = original.__name__  # type: ignore[attr-defined]
    if why:
        state.unexplored[pyfuncitem.nodeid] = why
        return (yield)
    settings = options.item_settings(pyfuncitem, state.settings, marker)
    each: Callable[..., object] | None = None
    if inspect.iscoroutinefunction(coroutine_fn):
        # An async test: every schedule runs the coroutine in an event loop made in
        # its managed main thread (pytest-asyncio's, when the schedule set up its
        # fixtures, or asyncio.run), so the loop's executor threads are managed too.
        each = functools.partial(run_coroutine, coroutine_fn, pyfuncitem,
                                 settings.settings.fixtures == "schedule")
        each.__name__ = original.__name__  # type: ignore[attr-defined]
    run = Run(pyfuncitem, state, settings, plain, plain_first=marker is None, each=each)

    @functools.wraps(original)
    def explored(*args: Any, **kwargs: Any) -> object:
        __tracebackhide__ = True
        return run(args, kwargs)

    pyfuncitem.obj = explored
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original



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
    """``-v`` shows what the exploration did: ``PASSED (racecheck: 200 schedules)``."""
    return _report.test_status(report)


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
    _report.write_files(state, session.config)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or state.is_worker or not (state.records
                                                or state.settings.explore_all):
        return
    _report.terminal_summary(terminalreporter, state)
