"""Every error a racecheck user can see.

All of them derive from :class:`RacecheckError`, so ``except RacecheckError``
catches anything racecheck raises on purpose.  Errors about the *caller's*
input derive from :class:`InvalidArgument` (also a ``TypeError``/``ValueError``
where that is what Python would raise), and name what is wrong and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core.outcome import Failure

__all__ = [
    "DeadlockFound",
    "InternalError",
    "InvalidArgument",
    "InvalidToken",
    "MissingDependency",
    "NestedExploration",
    "NotExplorable",
    "RaceFound",
    "RacecheckError",
    "ReplayDiverged",
    "UsageError",
]


class RacecheckError(Exception):
    """Base class of every exception racecheck raises deliberately."""


class InvalidArgument(RacecheckError, ValueError):
    """An argument given to racecheck is not usable; the message says how to fix it."""


class InvalidToken(InvalidArgument):
    """A replay token is malformed, truncated, or from another racecheck version."""


class UsageError(RacecheckError, RuntimeError):
    """racecheck was used in a way it does not support (for example nested explorations)."""


class InternalError(RacecheckError):
    """racecheck itself (or a strategy passed to it) failed: a bug to report, not a race."""


class MissingDependency(UsageError, ImportError):
    """A feature needs an optional package that is not installed; the message says which."""


class NestedExploration(UsageError):
    """explore()/check() was called from code that racecheck is already exploring."""


class NotExplorable(UsageError):
    """racecheck cannot explore this code meaningfully; no race was found or ruled out.

    ``reason`` says why in one line (a body too long for ``max_steps``, more
    threads than ``max_threads``, a wait on something outside racecheck's
    view), the message what to do; ``schedules_run`` counts the schedules that
    completed before it.  The pytest plugin reports such a test as not
    explored, with the reason, and keeps the test's own outcome.
    """

    def __init__(self, message: str, reason: str = "", schedules_run: int = 0) -> None:
        super().__init__(message)
        self.reason = reason or message.split("\n")[0]
        self.schedules_run = schedules_run


class ReplayDiverged(RacecheckError):
    """The code under test no longer follows the schedule recorded in a token.

    A replay that does not reproduce is an error, never a silent pass: either the
    code changed since the token was printed, or it depends on something that is
    not under racecheck's control (real time, real I/O, randomness without a seed).
    """


class RaceFound(RacecheckError, AssertionError):
    """A schedule broke an invariant, raised, or hung; ``failure`` holds the report."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class DeadlockFound(RaceFound):
    """A schedule ended with every live thread blocked; ``failure`` holds the wait-for cycle."""
