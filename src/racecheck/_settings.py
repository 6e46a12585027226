"""Every knob of an exploration, with its default, in one frozen object: :class:`Settings`.

Precedence everywhere: an explicit argument (or pytest marker) > command line >
ini file > ``RACECHECK_*`` environment > these defaults.  Shaped after
Hypothesis' ``settings``: a Settings checks every value when it is made, so a
bad one fails where it was given, with its name; :meth:`Settings.replace`
layers overrides on a Settings; :func:`read_env` is the one place that reads
``RACECHECK_*`` (the core through :meth:`Settings.from_env`, the pytest plugin
to layer its command line and ini file over), and :func:`parse` the one place
that turns their text into values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgument
from .strategies.base import Strategy

#: The strategies ``strategy=`` names (``racecheck.strategies.make_strategy``).
STRATEGIES = ("auto", "portfolio", "random", "pct", "bounded", "dpor")
#: ``fixtures=``: "schedule" sets a test's function-scoped fixtures up (and tears
#: them down) in every schedule; "test" keeps the ones the test was set up with.
FIXTURES = ("schedule", "test")
#: ``mode=``: "controlled" (one thread at a time, the strategy decides), "perturb"
#: (real threads with seeded pauses, for what the controller cannot see), or
#: "auto" (controlled, plus perturbed runs when the body runs mostly in C or the
#: interpreter is free-threaded).
MODES = ("auto", "controlled", "perturb")


@dataclass(frozen=True)
class Settings:
    """The knobs of an exploration, and of the pytest plugin, with their defaults.

    ``racecheck.explore``, ``check`` and the decorator take every argument left
    out from ``Settings.from_env()``; the pytest plugin layers its ini file,
    command line and marker over the same object.  Make a changed copy with
    :meth:`replace`; every value is checked (:class:`InvalidArgument`).
    """

    #: Schedules to try.
    schedules: int = 200
    #: "auto" (dpor and random/PCT in turn: a proof where one is cheap), "portfolio"
    #: (random and PCT in turn), "random", "pct", "bounded", "dpor", or a Strategy.
    strategy: str | Strategy = "auto"
    #: Same seed, same schedules; None: a random one (under pytest, the run seed).
    seed: int | None = None
    #: Seconds of exploring, after which no new schedule starts (None: no limit).
    time_budget: float | None = None
    #: Seconds a thread may stay blocked outside racecheck's view before a ``hang``.
    watchdog: float = 5.0
    #: Scheduling points one schedule may take.
    max_steps: int = 200_000
    #: Threads one schedule may start.
    max_threads: int = 64
    #: Scheduling points all the schedules may take together (None: no limit).
    step_budget: int | None = None
    #: Run every schedule twice and fail with ``nondeterminism`` where they part.
    check_determinism: bool = False
    #: True: every schedule in a forked child, or an error; False: in this
    #: process; None: in a child where the platform allows.
    isolate: bool | None = None
    #: Timed waits and sleeps may end at any point, not only when all threads wait.
    eager_timeouts: bool = False
    #: Shrink a failing schedule (fewest preemptions, then fewest steps) before reporting it.
    shrink: bool = True
    #: "auto", "controlled" or "perturb" (MODES).
    mode: str = "auto"
    #: Processes one exploration's schedules are spread over, where its strategy
    #: allows (random and PCT sampling; not a search); 1: in turn.  Verdicts,
    #: the failing schedule and its token are the same whatever the number.
    jobs: int = 1

    # The pytest plugin's own knobs; the core ignores them.
    #: Explore every test that starts threads, not only marked ones (``--racecheck``).
    explore_all: bool = False
    #: Function fixtures set up per "schedule" or once per "test".
    fixtures: str = "schedule"
    #: Where to write the JSON report (None: nowhere).
    report: str | None = None
    #: Where to write the HTML report of the whole run (None: nowhere).
    html: str | None = None

    def __post_init__(self) -> None:
        _positive_int("schedules", self.schedules)
        if not (isinstance(self.strategy, Strategy) or self.strategy in STRATEGIES):
            raise InvalidArgument(
                f"unknown strategy {self.strategy!r}: use one of "
                f"{', '.join(map(repr, STRATEGIES))} or pass a racecheck.strategies.Strategy "
                "instance")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise InvalidArgument(f"seed must be an integer, got {self.seed!r}")
        if self.time_budget is not None:
            _positive_number("time_budget", self.time_budget)
        _positive_number("watchdog", self.watchdog)
        _positive_int("max_steps", self.max_steps)
        _positive_int("max_threads", self.max_threads)
        _positive_int("jobs", self.jobs)
        if self.step_budget is not None:
            _positive_int("step_budget", self.step_budget)
        for name in ("check_determinism", "eager_timeouts", "explore_all", "shrink"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgument(f"{name} must be True or False, got "
                                      f"{getattr(self, name)!r}")
        if self.isolate is not None and not isinstance(self.isolate, bool):
            raise InvalidArgument(f"isolate must be True, False or None, got {self.isolate!r}")
        if self.mode not in MODES:
            raise InvalidArgument(f"mode must be one of {', '.join(map(repr, MODES))}, "
                                  f"got {self.mode!r}")
        if self.fixtures not in FIXTURES:
            raise InvalidArgument(f"fixtures must be one of {', '.join(map(repr, FIXTURES))}, "
                                  f"got {self.fixtures!r}")
        for name in ("report", "html"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InvalidArgument(f"{name} must be a path, got {getattr(self, name)!r}")

    def replace(self, **given: Any) -> Settings:
        """A copy with ``given`` settings changed (checked like the constructor's)."""
        unknown = sorted(set(given) - _NAMES)
        if unknown:
            raise InvalidArgument(f"unknown setting(s) {', '.join(unknown)}; the settings are "
                                  f"{', '.join(sorted(_NAMES))}")
        return dataclasses.replace(self, **given)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, /, **given: Any) -> Settings:
        """The defaults under the ``RACECHECK_*`` variables of ``environ`` (os.environ).

        ``given`` settings win; their variables are not read (a bad one that an
        argument overrides is no error).
        """
        return cls().replace(**{name: parse(name, text)
                                for name, text in read_env(environ).items()
                                if name not in given}, **given)


_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")


def _positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive number of seconds, got {value!r}")


# ---------------------------------------------------------------- from text


#: The environment variable of each setting that has one.
ENV = {
    "explore_all": "RACECHECK",
    "schedules": "RACECHECK_SCHEDULES",
    "strategy": "RACECHECK_STRATEGY",
    "seed": "RACECHECK_SEED",
    "time_budget": "RACECHECK_TIME_BUDGET",
    "watchdog": "RACECHECK_WATCHDOG",
    "max_steps": "RACECHECK_MAX_STEPS",
    "max_threads": "RACECHECK_MAX_THREADS",
    "step_budget": "RACECHECK_STEP_BUDGET",
    "check_determinism": "RACECHECK_CHECK_DETERMINISM",
    "shrink": "RACECHECK_SHRINK",
    "isolate": "RACECHECK_ISOLATE",
    "fixtures": "RACECHECK_FIXTURES",
    "mode": "RACECHECK_MODE",
    "jobs": "RACECHECK_JOBS",
    "report": "RACECHECK_REPORT",
    "html": "RACECHECK_HTML",
}


#: racecheck's own consistency checks, for its developers: ``RACECHECK_DEBUG=baton``
#: checks at every point and wait that the thread running is the one holding the
#: baton (tests/conftest.py turns it on for the whole suite).
DEBUG_CHECKS = ("baton",)


def debug_checks(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The checks named in ``RACECHECK_DEBUG`` (comma-separated); unknown names are errors."""
    env = os.environ if environ is None else environ
    names = frozenset(n.strip() for n in env.get("RACECHECK_DEBUG", "").split(",") if n.strip())
    unknown = sorted(names - set(DEBUG_CHECKS))
    if unknown:
        raise InvalidArgument(f"environment variable RACECHECK_DEBUG names unknown checks "
                              f"{', '.join(map(repr, unknown))}: use {', '.join(DEBUG_CHECKS)} "
                              "or unset it")
    return names


def read_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Setting name -> the text of its ``RACECHECK_*`` variable, for those set and not blank."""
    env = os.environ if environ is None else environ
    found = {name: env.get(var, "").strip() for name, var in ENV.items()}
    return {name: text for name, text in found.items() if text}


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def positive(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise _NotPositive
        return value

    return positive


class _NotPositive(ValueError):
    pass


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _insist(text: str) -> bool | None:
    # An isolate flag that is off leaves the default (a child where the platform
    # allows) rather than forcing schedules into this process, as before issue 12.
    return True if _flag(text) else None


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def one_of(text: str) -> str:
        if text not in choices:
            raise ValueError(text)
        return text

    return one_of


def _jobs(text: str) -> int:
    """A positive number of processes, or "auto": the CPUs this process may use."""
    if text.lower() == "auto":
        return usable_cpus()
    return int(_positive(int)(text))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


#: Setting name -> (text -> value, what the text must be).
_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "explore_all": (_flag, "true or false"),
    "schedules": (_positive(int), "a positive integer"),
    "strategy": (_one_of(STRATEGIES), f"one of {', '.join(STRATEGIES)}"),
    "seed": (int, "an integer"),
    "time_budget": (_positive(float), "a number of seconds"),
    "watchdog": (_positive(float), "a number of seconds"),
    "max_steps": (_positive(int), "a positive integer"),
    "max_threads": (_positive(int), "a positive integer"),
    "step_budget": (_positive(int), "a positive integer"),
    "check_determinism": (_flag, "true or false"),
    "shrink": (_flag, "true or false"),
    "isolate": (_insist, "true or false"),
    "fixtures": (_one_of(FIXTURES), f"one of {', '.join(FIXTURES)}"),
    "mode": (_one_of(MODES), f"one of {', '.join(MODES)}"),
    "jobs": (_jobs, "a positive integer or auto"),
    "report": (str, "a path"),
    "html": (str, "a path"),
}


def parse(name: str, text: str, source: str | None = None) -> Any:
    """The value of setting ``name`` written as ``text``; InvalidArgument names ``source``.

    ``source`` says where the text came from (``--racecheck-schedules``, an ini
    option); None: the setting's environment variable.
    """
    kind, what = _PARSERS[name]
    hint = ""
    if source is None:
        source = f"environment variable {ENV[name]}"
        hint = f" (fix or unset {ENV[name]})"
    try:
        return kind(text.strip())
    except _NotPositive:
        raise InvalidArgument(f"{source}={text!r} must be positive{hint}") from None
    except ValueError:
        raise InvalidArgument(f"{source}={text!r} is not {what}{hint}") from None
