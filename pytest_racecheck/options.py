"""The plugin's options, and turning them into a ``racecheck.Settings``.

Precedence: marker > command line > ini file > ``RACECHECK_*`` environment >
defaults, as pytest-timeout's ``_get_item_settings``.  The environment is read,
and every text turned into a value, by ``racecheck._settings`` only; the
defaults are ``racecheck.Settings``' (with the plugin's own step budget).  A
value that is not usable is a usage error naming where it was given.

Imported by every session: ``racecheck`` is imported inside the functions.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import racecheck

MARKER = (
    "racecheck(schedules=None, strategy=None, seed=None, threads=None, replay=None, "
    "time_budget=None, watchdog=None, max_steps=None, max_threads=None, step_budget=None, "
    "check_determinism=None, fixtures=None, shrink=None, mode=None, jobs=None): run the test under many "
    "thread schedules (controlled, or real threads with seeded pauses under mode='perturb') "
    "and fail with a replayable report when one of them breaks it. "
    "schedules/strategy/seed/time_budget/watchdog/max_steps/max_threads/step_budget/"
    "check_determinism/shrink/mode/jobs override the command line; "
    "threads=N runs N copies of the test body in N threads; "
    'replay="TOKEN" runs only the schedule of that token.'
)
#: The marker's arguments that are ``racecheck.Settings`` fields.
_MARKER_SETTINGS = ("schedules", "strategy", "seed", "time_budget", "watchdog", "max_steps",
                    "max_threads", "step_budget", "check_determinism", "fixtures", "shrink",
                    "mode", "jobs")
_MARKER_KWARGS = (*_MARKER_SETTINGS[:3], "threads", "replay", *_MARKER_SETTINGS[3:])
#: Scheduling points one test's schedules may take together, by default: a few
#: seconds to a minute of exploring, whatever the test (docs/real-suites.md).
STEP_BUDGET = 5_000_000

SEED_CACHE_KEY = "racecheck/seed"

#: ini / ``dest`` name of each option -> the ``racecheck.Settings`` field it sets.
_OPTIONS = {
    "racecheck": "explore_all",
    "racecheck_schedules": "schedules",
    "racecheck_strategy": "strategy",
    "racecheck_time_budget": "time_budget",
    "racecheck_watchdog": "watchdog",
    "racecheck_max_steps": "max_steps",
    "racecheck_max_threads": "max_threads",
    "racecheck_step_budget": "step_budget",
    "racecheck_check_determinism": "check_determinism",
    "racecheck_shrink": "shrink",
    "racecheck_fixtures": "fixtures",
    "racecheck_isolate": "isolate",
    "racecheck_report": "report",
    "racecheck_mode": "mode",
    "racecheck_jobs": "jobs",
    "racecheck_html": "html",
}


def add_options(parser: pytest.Parser) -> None:
    """The ``--racecheck-*`` options, each with its ini mirror."""
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
        help="Exploration strategy: auto (default: dpor and random/PCT in turn, stopping at a proof), portfolio (random and PCT in turn), random, pct, bounded (every schedule with <= 2 preemptions), dpor (the same, skipping schedules that only reorder independent steps). [env RACECHECK_STRATEGY]")
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
    add("--racecheck-shrink", "Shrink failing schedules before reporting them (true/false).",
        metavar="BOOL", default=None,
        help="Report a failing schedule shrunk to the fewest preemptions, then the fewest "
             "steps, that fail the same way (default true; false reports it as found). "
             "[env RACECHECK_SHRINK]")
    add("--racecheck-fixtures", "Function fixtures per schedule or per test.",
        metavar="schedule|test", default=None,
        help="'schedule' (default): every schedule sets up and tears down the test's "
             "function-scoped fixtures, inside the schedule; 'test': every schedule reuses "
             "the fixtures the test was set up with (for expensive fixtures). "
             "[env RACECHECK_FIXTURES]")
    add("--racecheck-isolate", "Insist on a child process per schedule (true/false).",
        action="store_true", default=None,
        help="Insist that every schedule runs in a forked child process (the default "
             "wherever os.fork exists and no other thread runs); an error where that is "
             "impossible. [env RACECHECK_ISOLATE]")
    add("--racecheck-mode", "auto, controlled or perturb.",
        metavar="MODE", default=None,
        help="controlled: one thread at a time, the strategy picks who runs at every "
             "point (deterministic, replayable); perturb: the threads run for real with "
             "seeded random pauses, for races inside C code or on free-threaded Python; "
             "auto (default): controlled, plus perturbed runs when a test spends most "
             "of its time in C or the interpreter is free-threaded. [env RACECHECK_MODE]")
    add("--racecheck-jobs", "Processes one test's schedules are spread over.",
        metavar="N|auto", default=None,
        help="Spread one test's schedules over N processes where its strategy allows "
             "(random and PCT sampling, and the default once it gave up a proof); auto: "
             "one per CPU. The same verdicts, failing schedules and tokens as 1 (default). "
             "Under pytest-xdist the workers already share the CPUs. [env RACECHECK_JOBS]")
    add("--racecheck-report", "Write a JSON report of every explored test to this path.",
        metavar="PATH", default=None,
        help="Write a JSON report (one entry per explored test) to PATH. "
             "[env RACECHECK_REPORT]")
    add("--racecheck-html", "Write a self-contained HTML report of the run to this path.",
        metavar="PATH", default=None,
        help="Write one self-contained HTML page to PATH: per test its verdict, strategy, "
             "schedules, time and evidence; per failure the interleaving drawn as a lane "
             "per thread, and its replay line. [env RACECHECK_HTML]")

def session_settings(config: pytest.Config) -> tuple[racecheck.Settings, str]:
    """This session's settings (command line > ini > environment > defaults), and a seed note.

    The settings' ``seed`` is the run seed; the note, said in the header, is
    why it is not the one asked for ("" when it is).
    """
    import racecheck
    from racecheck import _settings

    env = _settings.read_env()
    given: dict[str, Any] = {}
    try:
        for option, name in _OPTIONS.items():
            text, source = _first(config, option, env.get(name))
            if text is not None:  # a store_true flag gives True
                given[name] = _settings.parse(name, str(text), source)
        seed, note = _run_seed(config, env.get("seed"))
        settings = racecheck.Settings(step_budget=STEP_BUDGET).replace(seed=seed, **given)
    except racecheck.InvalidArgument as exc:
        raise pytest.UsageError(f"racecheck: {exc}") from None
    return settings, note


def _first(config: pytest.Config, option: str, env: str | None) -> tuple[object, str | None]:
    """The first value set for ``option`` and where it came from (None: the environment)."""
    cli = config.getoption(option)
    if cli is not None:
        return cli, "--" + option.replace("_", "-")
    ini = config.getini(option)
    if isinstance(ini, str) and ini.strip():
        return ini.strip(), f"ini option {option}"
    return env, None


def _run_seed(config: pytest.Config, env: str | None) -> tuple[int, str]:
    """The session's seed: from the xdist controller, the options, the cache, or random."""
    from racecheck import _settings

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "racecheck_seed" in workerinput:
        return int(workerinput["racecheck_seed"]), ""
    text, source = _first(config, "racecheck_seed", env)
    if text is None:
        return random.SystemRandom().randrange(2**32), ""
    if str(text).strip().lower() == "last":
        cache = getattr(config, "cache", None)
        last = cache.get(SEED_CACHE_KEY, None) if cache is not None else None
        if isinstance(last, int):
            return last, ""
        return random.SystemRandom().randrange(2**32), "random (no previous seed cached)"
    return int(_settings.parse("seed", str(text), source)), ""


@dataclass(frozen=True)
class ItemSettings:
    """One test's settings: the session's under its marker, and the marker's own arguments."""

    settings: racecheck.Settings
    #: ``threads=N``: N copies of the test body at once.
    threads: int | None = None
    #: ``replay="TOKEN"``: only the schedule of that token.
    replay: str | None = None


def item_settings(item: pytest.Item, session: racecheck.Settings,
                  marker: pytest.Mark | None) -> ItemSettings:
    """The marker's arguments over the session's settings; the seed is the test's own.

    Each test explores under ``crc32(run seed : node id)``, so a verdict
    depends neither on test order nor on how xdist distributes tests.
    """
    import racecheck

    seed = zlib.crc32(f"{session.seed}:{item.nodeid}".encode())
    settings = session.replace(seed=seed)
    if marker is None:
        return ItemSettings(settings)
    if marker.args:
        pytest.fail(f"@pytest.mark.racecheck takes keyword arguments only "
                    f"({', '.join(_MARKER_KWARGS)}), got {marker.args!r}", pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KWARGS))
    if unknown:
        pytest.fail(f"@pytest.mark.racecheck: unknown argument(s) {', '.join(unknown)}; "
                    f"it takes {', '.join(_MARKER_KWARGS)}", pytrace=False)
    given = {k: v for k, v in marker.kwargs.items() if v is not None}
    threads = given.pop("threads", None)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        pytest.fail(f"@pytest.mark.racecheck(threads=...) must be a positive integer, "
                    f"got {threads!r}", pytrace=False)
    replay = given.pop("replay", None)
    try:
        settings = settings.replace(**given)
    except racecheck.InvalidArgument as exc:
        pytest.fail(f"@pytest.mark.racecheck: {exc}", pytrace=False)
    return ItemSettings(settings, threads, replay)
