"""The public entry points: thin, validating wrappers over ``_core.runner``."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast, overload

from ._core import perturb, runner
from ._core.outcome import Evidence, Result, Verdict
from ._core.schedule import PYTHON_TAG, Schedule
from ._report import render
from ._settings import Settings
from .errors import DeadlockFound, InvalidArgument, RaceFound, ReplayDiverged
from .strategies import Strategy, make_strategy
from .strategies.replay import ReplayStrategy

F = TypeVar("F", bound=Callable[..., Any])


def explore(
    threads: Sequence[Callable[..., object]],
    *,
    setup: Callable[[], object] | None = None,
    invariant: Callable[..., object] | None = None,
    teardown: Callable[..., object] | None = None,
    schedules: int | None = None,
    strategy: str | Strategy | None = None,
    seed: int | None = None,
    time_budget: float | None = None,
    max_steps: int | None = None,
    watchdog: float | None = None,
    isolate: bool | None = None,
    eager_timeouts: bool | None = None,
    progress: Callable[[int, int], object] | None = None,
    max_threads: int | None = None,
    check_determinism: bool | None = None,
    step_budget: int | None = None,
    shrink: bool | None = None,
    mode: str | None = None,
    jobs: int | None = None,
) -> Result:
    """Run ``threads`` together under many schedules; stop at the first failure.

    Each callable in ``threads`` runs in its own managed thread, called with the
    value ``setup()`` returned (or with no argument when there is no setup).
    ``invariant`` runs after every thread finished and fails the schedule by
    raising or returning False; ``teardown`` always runs.  Same ``seed``, same
    schedules.  ``result.failure.token`` replays a failure with :func:`replay`.
    Each schedule runs in a forked child process where the platform allows
    (``isolate=None``, the default): nothing a schedule does, or racecheck's
    stopping of its threads, is seen by the next schedule or by the caller, and
    an interpreter crash becomes a ``crash`` failure.  ``isolate=True`` insists
    on it, ``isolate=False`` runs schedules in this process.  ``eager_timeouts``
    lets timed waits and sleeps end at any point instead of only when every
    thread waits.  ``progress(done, budget)`` is called after every schedule.
    ``max_threads`` bounds the threads one schedule may start (default 64).
    ``check_determinism`` runs every schedule twice and fails with a
    ``nondeterminism`` verdict saying where the two runs parted.
    ``step_budget`` bounds the scheduling points of all the schedules together
    (deterministic, unlike ``time_budget``): exploring stops once it is spent.
    A failing schedule is shrunk before it is reported (fewest preemptions, then
    fewest steps, failing the same way); ``shrink=False`` reports it as found.
    ``mode="perturb"`` runs the threads for real with seeded random pauses
    instead (for races inside C code that releases the GIL, or on a
    free-threaded interpreter); ``"controlled"`` never does; ``"auto"`` (the
    default) adds perturbed runs to a passing controlled exploration whose
    first schedule spent most of its time in C, or on a free-threaded build.
    ``jobs=N`` spreads the schedules over N processes where the strategy
    allows (random and PCT sampling, also the default's once it gave up a
    proof): the same verdict, failing schedule and token as ``jobs=1``, sooner
    on a machine with N idle cores.
    Every argument left out (None) is taken from ``racecheck.Settings.from_env()``.
    """
    _check_bodies(threads, setup, invariant, teardown)
    settings = _settings(schedules=schedules, strategy=strategy, seed=seed,
                         time_budget=time_budget, max_steps=max_steps, watchdog=watchdog,
                         isolate=isolate, eager_timeouts=eager_timeouts, max_threads=max_threads,
                         check_determinism=check_determinism, step_budget=step_budget,
                         shrink=shrink, mode=mode, jobs=jobs)
    cfg = _config(threads, setup, invariant, teardown, settings, progress=progress)
    return _explore(cfg, settings)


def _explore(cfg: runner.Config, settings: Settings) -> Result:
    if settings.mode == "perturb":
        return _reported(cfg, _perturbed(cfg))
    result = runner.explore(cfg, make_strategy(settings.strategy, _seed(cfg)))
    if settings.mode == "auto" and settings.strategy == "auto" and result.ok:
        # (a strategy asked for by name is run as asked: controlled only)
        why = _needs_perturb(result)
        if why:
            result = _add_perturbed(cfg, result, why)
    return _reported(cfg, result)


#: A first schedule that spent this share of its run in calls into C: add perturbed runs.
C_SHARE = 0.5
#: Seconds ``mode="auto"`` gives the perturbed runs it adds (real threads, real sleeps).
PERTURB_SECONDS = 10.0


def _needs_perturb(result: Result) -> str:
    """Why a passing controlled exploration should also run on real threads ('' if not)."""
    if getattr(sys, "_is_gil_enabled", lambda: True)() is False:
        return ("this interpreter is free-threaded: its threads run in parallel, which the "
                "controlled mode (one thread at a time) does not reproduce")
    if result.c_share is not None and result.c_share >= C_SHARE:
        return (f"{result.c_share:.0%} of the code's time in the first controlled schedule went "
                "to steps in C, which the controlled mode runs as single steps and cannot "
                "interleave inside (C code that releases the GIL, like NumPy on large arrays, "
                "can race there)")
    return ""


def _perturbed(cfg: runner.Config) -> Result:
    notes: list[str] = []
    return perturb.explore(cfg, _seed(cfg), runner.use_fork(cfg, notes), notes)


def _add_perturbed(cfg: runner.Config, controlled: Result, why: str) -> Result:
    """``mode="auto"``: the controlled exploration passed; run half its budget perturbed."""
    budget = max(10, cfg.schedules // 2)
    seconds = PERTURB_SECONDS if cfg.time_budget is None else min(PERTURB_SECONDS,
                                                                  cfg.time_budget)
    shaken = _perturbed(dataclasses.replace(cfg, schedules=budget, time_budget=seconds))
    first = controlled.schedules_run
    runs = controlled.runs + [dataclasses.replace(r, index=r.index + first) for r in shaken.runs]
    total = first + shaken.schedules_run
    evidence = Evidence(total, controlled.evidence.strategies + shaken.evidence.strategies,
                        controlled.evidence.exhaustive_up_to_preemptions,
                        controlled.evidence.pct_miss)
    notes = [*controlled.notes, f"perturbed runs added: {why}"]
    if shaken.failure is not None:
        shaken.failure.schedule_index += first
        shaken.failure.notes.insert(0, f"the controlled mode ran {first} schedules without a "
                                       f"failure: {why}")
    return Result(shaken.ok, total, controlled.elapsed + shaken.elapsed, controlled.seed,
                  f"{controlled.strategy}+perturb", shaken.failure, evidence,
                  [*notes, *(n for n in shaken.notes if n not in notes)], runs,
                  controlled.c_share)


def _reported(cfg: runner.Config, result: Result, token: str | None = None) -> Result:
    """The last stage of the pipeline: the failure's report, rendered from its data."""
    if result.failure is not None:
        if token is not None:
            result.failure.token = token  # the token the user gave, as given
        render(result.failure, cfg)
    return result


def replay(
    token: str,
    threads: Sequence[Callable[..., object]],
    *,
    setup: Callable[[], object] | None = None,
    invariant: Callable[..., object] | None = None,
    teardown: Callable[..., object] | None = None,
    max_steps: int | None = None,
    watchdog: float | None = None,
    isolate: bool | None = None,
    eager_timeouts: bool | None = None,
    max_threads: int | None = None,
) -> Result:
    """Run exactly the schedule of ``token`` once (with full recording).

    Returns a Result whose failure is the reproduced one, or ``ok`` when the
    schedule now passes; raises :class:`ReplayDiverged` when the code no longer
    follows the schedule.
    """
    if not perturb.is_token(token):
        Schedule.from_token(token)  # a bad token fails here, before anything runs
    _check_bodies(threads, setup, invariant, teardown)
    # One schedule, whatever the environment says about exploring.
    settings = _settings(max_steps=max_steps, watchdog=watchdog, isolate=isolate,
                         eager_timeouts=eager_timeouts, max_threads=max_threads).replace(
        schedules=1, seed=0, time_budget=None, step_budget=None, check_determinism=False)
    cfg = _config(threads, setup, invariant, teardown, settings)
    return _replay(cfg, token)


def _replay(cfg: runner.Config, token: str) -> Result:
    """Run the schedule of ``token``; a perturb token re-runs its injection seed."""
    if perturb.is_token(token):
        notes: list[str] = []
        return _reported(cfg, perturb.replay(cfg, token, runner.use_fork(cfg, notes)), token)
    schedule = Schedule.from_token(token)
    strat = ReplayStrategy(schedule.choices, schedule.rseed)
    try:
        result = runner.explore(cfg, strat)
    except ReplayDiverged as exc:
        if schedule.python == PYTHON_TAG:
            raise
        raise ReplayDiverged(
            f"{exc} (the token was recorded on Python {schedule.python[0]}."
            f"{schedule.python[1:]}; bytecode differs between versions)") from None
    return _reported(cfg, result, token)


def check(
    fn: Callable[[], object],
    *,
    schedules: int | None = None,
    strategy: str | Strategy | None = None,
    seed: int | None = None,
    time_budget: float | None = None,
    max_steps: int | None = None,
    watchdog: float | None = None,
    replay: str | None = None,
    isolate: bool | None = None,
    eager_timeouts: bool | None = None,
    replay_line: str | None = None,
    progress: Callable[[int, int], object] | None = None,
    max_threads: int | None = None,
    check_determinism: bool | None = None,
    step_budget: int | None = None,
    shrink: bool | None = None,
    mode: str | None = None,
    jobs: int | None = None,
) -> Result:
    """Run a zero-argument function that starts its own threads under many schedules.

    The function itself runs as a managed thread and every thread it starts
    (``threading.Thread``, ``Timer``, ``ThreadPoolExecutor`` workers) is managed.
    ``replay_line`` is the text the report ends with, ``{token}`` standing for the
    token (the pytest plugin passes its marker line).
    Raises :class:`RaceFound` (or :class:`DeadlockFound`) carrying the report;
    returns the Result when every schedule passed.
    """
    if not callable(fn):
        raise InvalidArgument(f"check() needs a callable, got {type(fn).__name__}")
    _reject_async(fn, "check()")
    settings = _settings(schedules=schedules, strategy=strategy, seed=seed,
                         time_budget=time_budget, max_steps=max_steps, watchdog=watchdog,
                         isolate=isolate, eager_timeouts=eager_timeouts, max_threads=max_threads,
                         check_determinism=check_determinism, step_budget=step_budget,
                         shrink=shrink, mode=mode, jobs=jobs)
    cfg = _config([fn], None, None, None, settings, names=["main"], progress=progress,
                  replay_hint=replay_line
                  or f"racecheck.check({_name(fn)}, replay=\"{{token}}\")")
    if replay is not None:
        result = _replay(cfg, replay)
    else:
        result = _explore(cfg, settings)
    raise_for(result)
    return result


def raise_for(result: Result) -> None:
    """Raise RaceFound / DeadlockFound for a failed Result."""
    if result.failure is not None:
        if result.failure.kind == Verdict.DEADLOCK:
            raise DeadlockFound(result.failure)
        raise RaceFound(result.failure)


@overload
def racecheck(fn: F) -> F: ...
@overload
def racecheck(
    fn: None = None, *, schedules: int | None = ..., strategy: str | Strategy | None = ...,
    seed: int | None = ..., time_budget: float | None = ..., max_steps: int | None = ...,
    replay: str | None = ..., isolate: bool | None = ..., eager_timeouts: bool | None = ...,
    max_threads: int | None = ..., shrink: bool | None = ..., mode: str | None = ...,
    jobs: int | None = ...,
) -> Callable[[F], F]: ...


def racecheck(
    fn: Any = None,
    *,
    schedules: int | None = None,
    strategy: str | Strategy | None = None,
    seed: int | None = None,
    time_budget: float | None = None,
    max_steps: int | None = None,
    replay: str | None = None,
    isolate: bool | None = None,
    eager_timeouts: bool | None = None,
    max_threads: int | None = None,
    shrink: bool | None = None,
    mode: str | None = None,
    jobs: int | None = None,
) -> Any:
    """Decorator: each call of the function runs under many schedules (see :func:`check`)."""

    def wrap(f: F) -> F:
        if not callable(f):
            raise InvalidArgument(f"@racecheck decorates functions, not {type(f).__name__}")
        _reject_async(f, "@racecheck")

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            check(lambda: f(*args, **kwargs), schedules=schedules, strategy=strategy, seed=seed,
                  time_budget=time_budget, max_steps=max_steps, replay=replay,
                  isolate=isolate, eager_timeouts=eager_timeouts, max_threads=max_threads,
                  shrink=shrink, mode=mode, jobs=jobs)

        return wrapper  # type: ignore[return-value]

    if fn is not None:
        return wrap(fn)
    return wrap


# ------------------------------------------------------------------- validation


def _name(fn: object) -> str:
    qual = getattr(fn, "__qualname__", None)
    if isinstance(qual, str) and "<locals>" not in qual:
        return qual
    return str(getattr(fn, "__name__", None) or "fn")


def _reject_async(fn: object, where: str) -> None:
    call = inspect.getattr_static(type(fn), "__call__", None)  # an object with async __call__
    if (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
            or (not inspect.isroutine(fn) and not isinstance(fn, type)
                and inspect.iscoroutinefunction(call))):
        raise InvalidArgument(
            f"{where}: {_name(fn)} is an async function; racecheck explores threads. "
            "Wrap it: lambda: asyncio.run(fn())"
        )
    if inspect.isgeneratorfunction(fn):
        raise InvalidArgument(
            f"{where}: {_name(fn)} is a generator function, so calling it runs nothing; "
            "pass a function that does the work"
        )


def _seed(cfg: runner.Config) -> int:
    assert cfg.seed is not None
    return cfg.seed


def _settings(**given: object) -> Settings:
    """The environment's settings under the arguments given (None: not given)."""
    return Settings.from_env(**{k: v for k, v in given.items() if v is not None})


def _check_bodies(threads: object, setup: object, invariant: object, teardown: object) -> None:
    if callable(threads) and not isinstance(threads, (list, tuple)):
        raise InvalidArgument(
            "threads must be a list of callables, one per thread, e.g. [worker, worker]; "
            f"got a single callable {_name(threads)}: wrap it in a list"
        )
    if not isinstance(threads, (list, tuple)):
        raise InvalidArgument(f"threads must be a list of callables, got {type(threads).__name__}")
    if not threads:
        raise InvalidArgument("threads is empty: give at least one callable (two to find races)")
    for i, body in enumerate(threads):
        if not callable(body):
            raise InvalidArgument(f"threads[{i}] is not callable: {body!r}")
        _reject_async(body, f"threads[{i}]")
    for label, fn in (("setup", setup), ("invariant", invariant), ("teardown", teardown)):
        if fn is not None and not callable(fn):
            raise InvalidArgument(f"{label} must be callable or None, got {fn!r}")


def _config(
    threads: Sequence[Callable[..., object]],
    setup: object,
    invariant: object,
    teardown: object,
    settings: Settings,
    *,
    names: Sequence[str] | None = None,
    replay_hint: str | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> runner.Config:
    if len(threads) > settings.max_threads:
        raise InvalidArgument(f"{len(threads)} thread bodies exceed "
                              f"max_threads={settings.max_threads}; raise max_threads=")
    seed = settings.seed
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    body_names = list(names) if names is not None else [f"T{i + 1}" for i in range(len(threads))]
    if replay_hint is None:
        parts = [f"[{', '.join(_name(t) for t in threads)}]"]
        for label, fn in (("setup", setup), ("invariant", invariant), ("teardown", teardown)):
            if fn is not None:
                parts.append(f"{label}={_name(fn)}")
        replay_hint = f"racecheck.replay(\"{{token}}\", {', '.join(parts)})"
    return runner.Config(
        threads=list(threads), setup=cast("Callable[[], object] | None", setup),
        invariant=cast("Callable[..., object] | None", invariant),
        teardown=cast("Callable[..., object] | None", teardown),
        schedules=settings.schedules, seed=seed, time_budget=settings.time_budget,
        max_steps=settings.max_steps, max_threads=settings.max_threads,
        watchdog=float(settings.watchdog), names=body_names, replay_hint=replay_hint,
        eager_timeouts=settings.eager_timeouts, progress=progress, isolate=settings.isolate,
        check_determinism=settings.check_determinism, step_budget=settings.step_budget,
        shrink=settings.shrink, jobs=settings.jobs,
    )
