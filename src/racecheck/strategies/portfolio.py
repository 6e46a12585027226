"""The default: a portfolio rotated per schedule, as Coyote does.

Even schedules use a random walk (finds most races at once), odd schedules
PCT with depth 2 and 3 in turn (finds races that need one thread held back
for long).  Both walks are sticky (``random.py``): uniform for their first
``WARM`` choices, which covers every run of the corpus, then keeping the
running thread at a rate drawn per schedule, so a long run pays for a few
hundred switches, a schedule's costliest part, not for thousands.  Each
member keeps its own state across the schedules it runs, so the portfolio
is as reproducible as its members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._core.outcome import Evidence
from .base import ScheduleSummary, Strategy
from .pct import PCTStrategy
from .random import RandomStrategy


class PortfolioStrategy(Strategy):
    name = "portfolio"

    def __init__(self, seed: int) -> None:
        self.members: list[Strategy] = [
            RandomStrategy(seed, sticky=True), PCTStrategy(seed, depth=2),
            RandomStrategy(seed + 1, sticky=True), PCTStrategy(seed, depth=3)]
        self._active: Strategy = self.members[0]
        self._runs = [0] * len(self.members)

    def begin(self, index: int) -> bool:
        slot = index % len(self.members)
        self._active = self.members[slot]
        self._runs[slot] += 1
        return self._active.begin(index)

    def choose(self, options: Sequence[int], current: int) -> int:
        return self._active.choose(options, current)

    def chooser(self) -> Callable[[Sequence[int], int], int]:
        return self._active.chooser()

    def independent(self) -> bool:
        return all(m.independent() for m in self.members)

    def member(self) -> str:
        return self._active.member()

    def end(self, summary: ScheduleSummary) -> None:
        # PCT draws its change points from the schedule length: teach it from
        # every schedule, so its first run is not blind (once per schedule).
        for member in self.members:
            if isinstance(member, PCTStrategy):
                member.observe(summary)
            elif member is self._active:
                member.end(summary)

    def evidence(self, schedules_run: int) -> Evidence:
        pct = self._runs[1] + self._runs[3]
        bounds = tuple((m.depth, m.miss_bound()) for m in self.members
                       if isinstance(m, PCTStrategy) and m.runs)
        return Evidence(schedules_run, (("random", schedules_run - pct, ""),
                                        ("pct", pct, "depth 2-3")), pct_miss=bounds)
