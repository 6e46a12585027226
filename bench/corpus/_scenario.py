"""The shape every corpus scenario has.

A scenario is one small module ``s_<name>.py`` that defines ``SCENARIO``.  The
contract with racecheck is the one ``racecheck.explore`` already has: per
schedule, ``state = side.setup()``, then each callable in ``side.threads`` runs
as its own thread with ``state`` as its only argument, then
``side.invariant(state)`` raises ``AssertionError`` (or returns ``False``) when
the run went wrong.  A deadlock scenario's racy side simply deadlocks.

Thread bodies catch the exceptions the bug produces (``KeyError``,
``RuntimeError: dictionary changed size during iteration``...) and record them
in the state, so that the verdict always comes from the invariant and never
from how a tool happens to treat an exception escaping a thread.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CATEGORIES = (
    "lost update",
    "check-then-act",
    "atomicity violation",
    "order violation",
    "container corruption",
    "deadlock",
    "correct code",
)

# What the racy side must make a tool report.
EXPECTS = ("violation", "deadlock")

# One thread body: takes the state setup() returned.
Body = Callable[[Any], None]


@dataclass(frozen=True)
class Side:
    setup: Callable[[], Any]
    threads: Sequence[Body]
    invariant: Callable[[Any], object] | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.threads) <= 4:
            raise ValueError(f"a side has 1 to 4 thread bodies, not {len(self.threads)}")


@dataclass(frozen=True)
class Scenario:
    name: str  # module name
    category: str  # one of CATEGORIES
    citation: str  # URL(s) / reference
    summary: str  # one line
    racy: Side | None  # None for 'correct code' scenarios
    fixed: Side  # the fix, or the correct code
    # The verdict the racy side must produce: "violation" or "deadlock" ("" for correct code).
    expect: str
    requires: tuple[str, ...] = ()  # third-party imports needed

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.name}: unknown category {self.category!r}")
        if self.category == "correct code":
            if self.racy is not None or self.expect:
                raise ValueError(f"{self.name}: correct code has no racy side and no expect")
        else:
            if self.racy is None:
                raise ValueError(f"{self.name}: a {self.category} scenario needs a racy side")
            if self.expect not in EXPECTS:
                raise ValueError(f"{self.name}: expect must be one of {EXPECTS}")
            if (self.category == "deadlock") != (self.expect == "deadlock"):
                raise ValueError(
                    f"{self.name}: deadlock scenarios, and only they, expect 'deadlock'"
                )
        if not self.citation.strip() or "\n" in self.summary:
            raise ValueError(f"{self.name}: needs a citation and a one-line summary")

    def missing(self) -> tuple[str, ...]:
        """The third-party modules this scenario needs that are not importable."""
        return tuple(m for m in self.requires if importlib.util.find_spec(m) is None)


def check(invariant_holds: bool, message: str) -> None:
    """``assert`` that survives ``python -O``: invariants are the product here."""
    if not invariant_holds:
        raise AssertionError(message)
