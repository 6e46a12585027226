"""The default: a proof when one is cheap, random and PCT sampling when it is not.

Schedules alternate between two searches that keep their own state: even
schedules belong to ``dpor`` (every schedule with at most 2 preemptions, up
to reordering independent steps, the bound deepening from 0), odd ones to
the portfolio of random walks and PCT.  A bug either finds quickly is found
within twice its count; when ``dpor`` completes, the exploration stops there
with a proof ("exhaustive: every schedule with <= 2 preemptions"), usually
long before the budget for small tests.  Chosen by measurement on the corpus:
docs/benchmarks.md, "Choosing the default".

Alternating (rather than ``dpor`` first, then sampling) keeps the worst case
bounded both ways: a bug that needs one early preemption in a long run, which
sampling finds in a few schedules, is not kept waiting behind a search that
tries deeper races first.

A test too large to prove stops getting ``dpor`` schedules, which cost more
than sampled ones (their steps are logged with their effects and sent back
from the schedule's child): when one of its schedules runs more than
``STEP_LIMIT`` steps, or its search without preemptions is still not complete
after ``PATIENCE`` schedules.  So does a test whose proof is already void
(fairness had to leave a runnable thread out of a choice, as around a
spin-wait, or a run did not repeat its prefix).  Both are counted, not timed, so the same seed
still gives the same schedules.  (A thread pool of 100 file-lock tasks in
filelock's suite: 7 s per forked ``dpor`` schedule against 0.9 s sampled.)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

from .._core.outcome import Evidence
from .base import ScheduleSummary, Strategy
from .dpor import DporStrategy
from .portfolio import PortfolioStrategy

#: A dpor schedule with more steps than this: the test is too large to prove.  No
#: test we know of proves near it: the largest corpus side proved within 2
#: preemptions runs 126 steps a schedule, the queue pools (350-550 steps) complete
#: only the search without preemptions in 200 schedules, and the thread-pool
#: DataFrame examples (6,000-6,900 steps, where a dpor schedule costs 8 times a
#: sampled one) only that too (docs/benchmarks.md, "Fewer switches, and a proof the
#: budget cannot reach").
STEP_LIMIT = 2_000
#: dpor schedules after which a search without preemptions must have completed.
PATIENCE = 16


class AutoStrategy(Strategy):
    name = "auto"
    # dpor's schedules need these; the runner reads them again for every schedule
    wants_options = True
    wants_accesses = True
    wants_steps = True

    def __init__(self, seed: int, preemptions: int = 2) -> None:
        self.seed = seed
        self.search = DporStrategy(seed, preemptions)
        self.sampler = PortfolioStrategy(seed)
        self._active: Strategy = self.search
        self._search_runs = 0
        self._sampler_runs = 0
        #: dpor's answer to its next ``begin``, asked as soon as its last schedule
        #: ended: False is a proof, which ends the exploration at once.
        self._search_next: bool | None = None
        #: The seed ``random`` gets this schedule: dpor's fixed one, else one made
        #: from the sampled schedule's number.
        self.rseed: int | None = self.search.rseed
        #: Why the search got no more schedules ("" while it does; "void": its
        #: evidence already says why it cannot prove).
        self.gave_up = ""

    def begin(self, index: int) -> bool:
        if self._search_next is False:
            return False  # a proof: nothing within the bound is left to run
        if index % 2 == 0 and not self.gave_up:
            ready: bool | None = self._search_next
            if ready is None:
                ready = self.search.begin(self._search_runs)
            self._search_next = None
            if not ready:
                return False
            self._active = self.search
            self._search_runs += 1
        else:
            self.begin_lane(self._sampler_runs)
            return True
        self.wants_options = self.wants_accesses = self.wants_steps = True
        self.rseed = self.search.rseed
        return True

    def begin_lane(self, number: int) -> None:
        if number != self._sampler_runs:
            raise ValueError(f"sampled schedules begin in order: {self._sampler_runs} is next, "
                             f"not {number}")
        self._active = self.sampler
        self._sampler_runs += 1
        self.sampler.begin(number)
        self.wants_options = self.wants_accesses = self.wants_steps = False
        # by its number, not its index: where a sampled schedule falls depends on the search
        self.rseed = zlib.crc32(f"racecheck-random:{self.seed}:sampled:{number}".encode())

    def lanes(self) -> int | None:
        # while the search goes on and sampling no longer learns from what ran
        if self.gave_up or self._search_next is False or not self.sampler.independent():
            return None
        return self._sampler_runs

    def lane(self) -> int | None:
        return self._sampler_runs - 1 if self._active is self.sampler else None

    def choose(self, options: Sequence[int], current: int) -> int:
        return self._active.choose(options, current)

    def chooser(self) -> Callable[[Sequence[int], int], int]:
        return self._active.chooser()

    def independent(self) -> bool:
        # once the search gave up, every schedule is the sampler's
        return bool(self.gave_up) and self.sampler.independent()

    def member(self) -> str:
        return self._active.member()

    def end(self, summary: ScheduleSummary) -> None:
        self._active.end(summary)
        if self._active is not self.search:
            return
        if summary.steps > STEP_LIMIT:
            self.gave_up = f"too large to prove: a schedule of {summary.steps:,} steps"
        elif self.search.unfair or self.search.diverged:
            # no proof can come of it any more (its evidence says why): sampled
            # schedules are cheaper
            self.gave_up = "void"
        elif self._search_runs >= PATIENCE and self.search.proved < 0:
            self.gave_up = (f"too large to prove: its search without preemptions not "
                            f"complete after {self._search_runs} schedules")
        if not self.gave_up:
            # prepares dpor's next schedule, or finds the search complete
            self._search_next = self.search.begin(self._search_runs)

    def evidence(self, schedules_run: int) -> Evidence:
        proof = self.search.evidence(self._search_runs)
        sampled = self.sampler.evidence(self._sampler_runs)
        if not self._sampler_runs:
            return proof
        # the search's sentence is a clause of this one: "6 dpor (exhaustive: ...)"
        stop = f"; {self.gave_up}" if self.gave_up not in ("", "void") else ""
        parts = tuple((name, n, f"({detail}{stop})" if detail else "")
                      for name, n, detail in proof.strategies)
        parts += tuple(p for p in sampled.strategies if p[1])
        return Evidence(schedules_run, parts,
                        exhaustive_up_to_preemptions=proof.exhaustive_up_to_preemptions,
                        pct_miss=sampled.pct_miss)
