"""The one interface every exploration strategy implements.

A strategy only ever answers one question: *of these threads, which runs
next?*  The scheduler asks it at each choice point (a scheduling point where
more than one thread could run) and records the answer, so the recorded
choices alone determine the execution (see ``_core/schedule.py``).  Shaped
after Shuttle's three-method ``Scheduler`` trait.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._core.outcome import Evidence

if TYPE_CHECKING:
    from .._core.access import Access


@dataclass(frozen=True)
class ScheduleSummary:
    """What one schedule did, handed to :meth:`Strategy.end`."""

    index: int
    #: None for a pass, else the verdict ("violation", "deadlock", "hang", ...).
    verdict: str | None
    #: Scheduling points reached.
    steps: int
    #: The thread chosen at every choice point, in order.
    choices: tuple[int, ...]
    #: The thread that reached each of those points (-1: it blocked or finished).
    currents: tuple[int, ...] = ()
    #: The runnable threads at each of those points (only for ``wants_options``).
    options: tuple[tuple[int, ...], ...] = ()
    #: Every step run, in order (only for ``wants_steps``): [thread, index of the
    #: choice that started it or -1, its effect as atoms (``_core/effects.py``)].
    transitions: tuple[list[Any], ...] = ()
    #: Fairness left a runnable thread out of some choice (no branching there).
    filtered: bool = False

    @property
    def failed(self) -> bool:
        return self.verdict is not None

    @property
    def preemptions(self) -> int:
        """Choices of another thread where the running one could have gone on."""
        return count_preemptions(self.choices, self.currents)


def count_preemptions(choices: Sequence[int], currents: Sequence[int]) -> int:
    """How many ``choices`` took the baton from the thread in ``currents`` (-1: none ran)."""
    return sum(1 for chosen, cur in zip(choices, currents, strict=False)
               if cur != -1 and chosen != cur)


@dataclass(frozen=True)
class ChoicePoint:
    """A scheduling point where more than one thread could run.

    ``pending`` maps each option to the access it will make when it runs (see
    ``racecheck._core.access.Access``; None when unknown), and is filled only
    for strategies whose ``wants_accesses`` is true: decoding costs time at
    every point, and uniform random and PCT do not need it.
    """

    options: tuple[int, ...]
    #: The thread that reached the point, or -1 when it cannot continue.
    current: int
    pending: Mapping[int, Access | None] = field(default_factory=dict)
    #: Options that are timed waits (a sleep, a wait with a timeout) whose choice
    #: makes the wait time out now; only under ``eager_timeouts``.
    timed: tuple[int, ...] = ()


class Strategy(abc.ABC):
    """Decides, at every choice point of every schedule, which thread runs next."""

    #: The name users pass as ``strategy=``.
    name: str = ""
    #: True: the scheduler decodes every runnable thread's pending access and
    #: calls :meth:`choose_point` with it (slower; for conflict-aware search).
    wants_accesses: bool = False
    #: True: :meth:`end` gets every choice point's options (``ScheduleSummary.options``),
    #: which a search over the space of schedules needs to know what is left.
    wants_options: bool = False
    #: True: :meth:`end` gets every step's effect (``ScheduleSummary.transitions``),
    #: which partial-order reduction needs to tell independent steps apart.
    wants_steps: bool = False

    @abc.abstractmethod
    def begin(self, index: int) -> bool:
        """Prepare schedule number ``index`` (0-based).

        Return False when the strategy has nothing left to try (an exhaustive
        strategy that covered its whole space); the exploration then stops with
        the evidence :meth:`evidence` describes.
        """

    @abc.abstractmethod
    def choose(self, options: Sequence[int], current: int) -> int:
        """Return one of ``options`` (thread ids in increasing order, at least two).

        ``current`` is the id of the thread that reached the point, or -1 when
        it cannot continue (it blocked or finished).
        """

    def chooser(self) -> Callable[[Sequence[int], int], int]:
        """What makes this schedule's choices: :meth:`choose`, unless the strategy
        hands the schedule to a member (the portfolio, ``auto``), whose chooser it
        returns.  Looked up once per schedule, after :meth:`begin`, so a choice
        costs one call however deep the delegation."""
        return self.choose

    def choose_point(self, point: ChoicePoint) -> int:
        """Return one of ``point.options``; by default :meth:`choose` decides.

        Called instead of :meth:`choose` when ``wants_accesses`` is true.
        """
        return self.choose(point.options, point.current)

    def end(self, summary: ScheduleSummary) -> None:  # noqa: B027 - optional hook
        """Called after each schedule with what it did.

        The schedule may have run in another process (a forked child): state the
        strategy changed inside :meth:`choose` is not seen here; learn from
        ``summary`` instead.
        """

    def independent(self) -> bool:
        """True when its schedules may from now on run in parallel (``jobs=``).

        That is: the schedule :meth:`begin` prepares depends only on the
        ``begin`` calls made before it, in index order, and never on
        :meth:`end` (which may then come late, for a schedule begun many
        schedules ago, or never in the process that runs the next one).  A
        uniform random walk seeded per index is; a search that picks its next
        schedule from the last one's trace is not.  Default False.
        """
        return False

    def lanes(self) -> int | None:
        """The number of the next schedule of an independent part, if it has one.

        A strategy that alternates a search (each schedule picked from the last
        one's trace) with sampling (each schedule a function of its number in
        the sampled sequence, as :meth:`independent` describes) returns here,
        between schedules, the number the next sampled schedule will have; then
        ``jobs=`` workers run the sampled schedules by number
        (:meth:`begin_lane`) while the search runs in the exploring process.
        None (the default): no such part, or not yet.
        """
        return None

    def lane(self) -> int | None:
        """After :meth:`begin`: this schedule's number in the independent part, or None."""
        return None

    def begin_lane(self, number: int) -> None:
        """Prepare sampled schedule ``number`` as :meth:`begin` does when it comes to it.

        Called in a worker for every number from :meth:`lanes` on, in order.
        """
        raise NotImplementedError(f"{type(self).__name__} has no independent part")

    def member(self) -> str:
        """The name of the strategy choosing the schedule begun last (a portfolio's member)."""
        return self.name

    def evidence(self, schedules_run: int) -> Evidence:
        """How strong a pass after ``schedules_run`` clean schedules is."""
        return Evidence(schedules_run, ((self.name, schedules_run, ""),))
