"""Shrinking a failing schedule: fewer preemptions, then fewer steps, same failure.

The schedule a search hits first is a long random walk: dozens or thousands
of preemptions, most of them beside the point.  Before it is reported, the
pipeline's shrink stage looks for a simpler schedule that fails the same way
(the same verdict; for a violation, the same exception type raised at the
same line), preferring fewer preemptions, then fewer scheduling points.

A schedule is rewritten as its *preemptions*, each named by where it happened
in the preempted thread's own life: "after its k-th choice point, thread T
gave the baton to U".  Named so, a preemption means the same place in the
code whichever other preemptions are kept, where a position in the choice
sequence would shift as soon as one earlier choice changed.  A candidate is a
subset of the preemptions, run under ``Guided``: at each choice point the
current thread goes on unless the subset preempts it there; when it cannot
go on, the thread the failing run chose at that (free) choice is taken, else
the lowest.  What actually ran is recorded and, when it fails the same way
and is simpler, becomes the new best.

The subset is minimised with delta debugging (Zeller & Hildebrandt,
"Simplifying and Isolating Failure-Inducing Input", TSE 2002): halves, then
quarters..., and their complements, so a bug needing one preemption out of
thousands is isolated in a few dozen runs.  When more than one is left, a
search below the best run's preemptions follows, since the bug may need one
the search never took: ``dpor`` from the floor up where the runs log their
steps (the default's environment), else every single preemption in turn,
then the bounded strategy's search (iterative context bounding); either
way the first failure alike has the fewest preemptions any such schedule
has.  The floor is what the search proved: no schedule with fewer
preemptions than its exhaustive bound plus one fails, so no candidate below
it runs.  Schedule simplification by moving preemptions is Jalbert & Sen's
idea ("A Trace Simplification Technique for Effective Debugging of
Concurrent Programs", FSE 2010).  A budget of runs and of seconds bounds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..strategies.base import ScheduleSummary, Strategy, count_preemptions
from . import raw
from .outcome import Verdict

#: At most this many candidate schedules, and this many seconds, per failure.
MAX_RUNS = 600
MAX_SECONDS = 10.0

#: A preemption: (preempted thread, its choice points so far) -> the thread chosen.
Key = tuple[int, int]


@dataclass(frozen=True)
class Run:
    """What a candidate (or the original) schedule did, as far as shrinking cares."""

    choices: tuple[int, ...]
    currents: tuple[int, ...]
    steps: int
    signature: tuple[str, ...]
    #: Each choice point's options (only when the strategy kept them).
    options: tuple[tuple[int, ...], ...] = ()
    #: Every step with its effect, and whether fairness filtered a choice (only
    #: when the strategy asked for steps): what ``dpor`` learns from.
    transitions: tuple[list[Any], ...] = ()
    filtered: bool = False

    @property
    def summary(self) -> ScheduleSummary:
        """This run as a strategy's ``end`` reads it."""
        verdict = None if self.signature == ("pass",) else self.signature[0]
        return ScheduleSummary(0, verdict, self.steps, self.choices, self.currents,
                               self.options, self.transitions, self.filtered)

    @property
    def preemptions(self) -> int:
        return count_preemptions(self.choices, self.currents)

    def simpler_than(self, other: Run) -> bool:
        return (self.preemptions, self.steps) < (other.preemptions, other.steps)

    def named(self) -> tuple[dict[Key, int], dict[Key, int]]:
        """Its preemptions by where they happened, and its free choices, named alike.

        A free choice (nobody running) is named by the thread chosen at the choice
        before it and how many free choices followed that thread's turns so far.
        """
        seen: dict[int, int] = {}
        free_seen: dict[int, int] = {}
        preempted: dict[Key, int] = {}
        free: dict[Key, int] = {}
        previous = -1
        for chosen, current in zip(self.choices, self.currents, strict=False):
            if current == -1:
                k = free_seen.get(previous, 0)
                free_seen[previous] = k + 1
                free[(previous, k)] = chosen
            else:
                k = seen.get(current, 0)
                seen[current] = k + 1
                if chosen != current:
                    preempted[(current, k)] = chosen
            previous = chosen
        return preempted, free


class Guided(Strategy):
    """Preempts exactly at the named places; elsewhere the current thread goes on."""

    name = "shrink"

    def __init__(self, preempt: dict[Key, int], free: dict[Key, int] | None = None) -> None:
        self.preempt = preempt
        self.free = free or {}
        self._seen: dict[int, int] = {}
        self._free_seen: dict[int, int] = {}
        self._previous = -1

    def begin(self, index: int) -> bool:
        self._seen, self._free_seen, self._previous = {}, {}, -1
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        chosen = self._choose(options, current)
        self._previous = chosen
        return chosen

    def _choose(self, options: Sequence[int], current: int) -> int:
        if current == -1:
            k = self._free_seen.get(self._previous, 0)
            self._free_seen[self._previous] = k + 1
            wanted = self.free.get((self._previous, k))
            return wanted if wanted is not None and wanted in options else options[0]
        k = self._seen.get(current, 0)
        self._seen[current] = k + 1
        if current not in options:  # it gave way (a spin): not a preemption to name
            return options[0]
        target = self.preempt.get((current, k))
        return target if target is not None and target in options else current


_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def signature(verdict: object, exception: BaseException | None, traceback_text: str) -> tuple[str, ...]:
    """What "fails the same way" compares: the verdict (None: a pass), and for a
    violation the exception's type and the innermost line of its traceback."""
    if verdict is None:
        return ("pass",)
    if verdict != Verdict.VIOLATION:
        return (str(verdict),)
    where = _LINE.findall(traceback_text or "")
    last = f"{where[-1][0]}:{where[-1][1]}" if where else ""
    return (str(verdict), type(exception).__name__ if exception is not None else "", last)


class _Budget:
    def __init__(self, run: Callable[[Strategy], Run | None], best: Run, floor: int = 0) -> None:
        self.run = run
        self.best = best
        #: No schedule with fewer preemptions fails (a search proved it).
        self.floor = floor
        self.tried = 0
        self.deadline = raw.real_monotonic() + MAX_SECONDS
        self.seen: set[frozenset[tuple[Key, int]]] = set()
        self.free = best.named()[1]

    def spent(self) -> bool:
        """Out of runs or seconds, or at the floor: nothing simpler can fail."""
        return (self.tried >= MAX_RUNS or raw.real_monotonic() > self.deadline
                or self.best.preemptions <= self.floor)

    def fails(self, keep: Sequence[tuple[Key, int]],
              free: dict[Key, int] | None = None) -> list[tuple[Key, int]] | None:
        """Run with only the preemptions ``keep``; the ones that ran, if it failed alike.

        ``free``: the choices where no thread was running (the first thread,
        the next after one ended); by default the failing run's.
        """
        free = self.free if free is None else free
        key = frozenset([*keep, ((-1, -len(free) - 1), -1)])
        if key in self.seen or self.spent() or len(keep) < self.floor:
            return None  # (a run preempts at most where it is told to)
        self.seen.add(key)
        self.tried += 1
        found = self.run(Guided(dict(keep), free))
        if found is None or found.signature != self.best.signature:
            return None
        if found.simpler_than(self.best):
            self.best = found
        return sorted(found.named()[0].items())


def _ddmin(items: list[tuple[Key, int]], budget: _Budget) -> list[tuple[Key, int]]:
    """Delta debugging: a small subset of ``items`` that still fails (Zeller's ddmin)."""
    ran = budget.fails([])
    if ran is not None:
        return ran
    n = 2
    while len(items) >= 2 and not budget.spent():
        size = -(-len(items) // n)  # ceil
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for part in chunks + [[x for x in items if x not in chunk] for chunk in chunks]:
            ran = budget.fails(part)
            if ran is not None:
                items, n = ran, max(2 if part in chunks else n - 1, 2)
                break
        else:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    return items


def shrink(best: Run, run: Callable[[Strategy], Run | None], *, floor: int = 0,
           steps: bool = False) -> tuple[Run, int]:
    """The simplest run found from ``best``: (that run, candidates tried).

    ``run(strategy)`` runs one schedule under the strategy and returns what it
    did, or None when it ended in something other than a verdict.  ``floor``:
    no schedule with fewer preemptions fails (the search's ``dpor`` completed
    the smaller bounds before the failure was found), so shrinking stops there
    and never runs a candidate below it.  ``steps``: runs log their steps'
    effects (the environment was installed for a reduction), so the search
    below the best run's preemptions is ``dpor`` rather than every schedule.
    """
    if best.preemptions <= floor:
        return best, 0
    budget = _Budget(run, best, floor)
    kept = _ddmin(sorted(best.named()[0].items()), budget)
    if len(kept) > 1:
        # Two preemptions can be one with another thread first: T2 preempted at its
        # very first point is T1 starting.  Each one alone, lowest thread first.
        for one in kept:
            if budget.fails([one], free={}) is not None:
                break
    if budget.best.preemptions > 1 and not budget.spent():
        if steps:
            _reduced_below(budget)
        else:
            _one_anywhere(budget)
            if budget.best.preemptions > 1:
                _bounded_below(budget)
    return budget.best, budget.tried


def _reduced_below(budget: _Budget) -> None:
    """``dpor`` below the best run's preemptions, from the floor up, for the same failure.

    Its bound deepens one preemption at a time, each bound a complete search of
    the classes of schedules (``strategies/dpor.py``), so the first run that
    fails alike has the fewest preemptions any failing schedule has.  One
    schedule per class, where ``_one_anywhere`` and ``_bounded_below`` run every
    schedule of one preemption, then of every bound: on the corpus's bugs that
    need two preemptions, a third fewer runs, each dearer by its step log, so
    about the same time (docs/benchmarks.md); the difference grows with the
    program, and the budget of runs reaches further.
    """
    from ..strategies.dpor import DporStrategy

    below = budget.best.preemptions - 1
    search = DporStrategy(seed=0, preemptions=below, start=min(budget.floor, below))
    index = 0
    while not budget.spent() and search.begin(index):
        budget.tried += 1
        found = budget.run(search)
        if found is None:
            return  # racecheck's own signal: the search cannot go on from it
        if found.signature == budget.best.signature and found.simpler_than(budget.best):
            budget.best = found
            return
        search.end(found.summary)
        index += 1


def _bounded_below(budget: _Budget) -> None:
    """Search every schedule with fewer preemptions, fewest first, for the same failure.

    The bounded strategy's iterative context bounding: the first schedule
    that fails alike has the fewest preemptions any such schedule has.
    """
    from ..strategies.base import ScheduleSummary
    from ..strategies.bounded import BoundedStrategy

    search = BoundedStrategy(seed=0, preemptions=budget.best.preemptions - 1)
    index = 0
    while not budget.spent() and search.begin(index):
        budget.tried += 1
        found = budget.run(search)
        if found is None or len(found.options) < len(found.choices):
            return  # racecheck's own signal, or no options kept: the tree cannot go on
        if found.signature == budget.best.signature and found.simpler_than(budget.best):
            budget.best = found
            return
        search.end(ScheduleSummary(index, None, found.steps, found.choices, found.currents,
                                   found.options))
        index += 1


def _one_anywhere(budget: _Budget) -> None:
    """Every single preemption the best run could take, earliest first, until one fails.

    ddmin only drops preemptions the search took; the bug may need one it did
    not take.  With one preemption the space is small: at each of a thread's
    choice points, each other thread.
    """
    best = budget.best
    counts: dict[int, int] = {}
    threads: set[int] = set()
    for chosen, current in zip(best.choices, best.currents, strict=False):
        threads.add(chosen)
        if current != -1:
            counts[current] = counts.get(current, 0) + 1
    for k in range(max(counts.values(), default=0)):
        for t in sorted(counts):
            if k >= counts[t]:
                continue
            for u in sorted(threads - {t}):
                if budget.spent():
                    return
                if budget.fails([((t, k), u)]) is not None and budget.best.preemptions <= 1:
                    return
