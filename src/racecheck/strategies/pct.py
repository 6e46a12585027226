"""PCT: probabilistic concurrency testing with priority change points.

Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with
Probabilistic Guarantees of Finding Bugs", ASPLOS 2010.  Every thread gets a
random priority when first seen; the highest-priority enabled thread always
runs; at ``depth - 1`` change points, drawn uniformly from the expected number
of steps ``k``, the running thread's priority drops below every initial one.
A bug of depth d is then found per run with probability at least
1 / (n * k^(d-1)).  Unlike a uniform random walk, PCT keeps a thread suspended
for a long stretch, which is what order violations behind a thread start or a
work queue need.  ``k`` is learned from the first ``LEARN`` schedules run
(every strategy's, in a portfolio: 64) and then kept: from there on a schedule
depends only on its seed and index, so schedules can run in parallel
(``Strategy.independent``) and still be the ones a serial run makes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .._core.outcome import Evidence
from .base import ScheduleSummary, Strategy

#: Schedules PCT learns ``k`` and ``n`` from; later ones change neither.
#: Schedule lengths have a long tail (a thread pool's: 200-370 choices in the
#: first 8 schedules, up to 2,222 in 60), and a PCT that learned from 8 missed
#: the pool example's race that it finds at schedule 52 learning from all; 64
#: keeps every schedule of a short exploration as it was.
LEARN = 64


class PCTStrategy(Strategy):
    name = "pct"

    def __init__(self, seed: int, depth: int = 3) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be at least 1")
        self.seed = seed
        self.depth = depth
        self.k = 16  # expected choice points per schedule; grows with what we see
        self.n = 1  # threads seen in one schedule
        self.runs = 0  # schedules this strategy ran
        self.observed = 0  # schedules it learned from (at most LEARN)
        self._rng = random.Random(0)
        self._priority: dict[int, float] = {}
        self._changes: list[int] = []
        self._step = 0

    def begin(self, index: int) -> bool:
        self.runs += 1
        self._rng = random.Random(f"racecheck-pct:{self.seed}:{index}")
        self._priority = {}
        self._step = 0
        count = min(self.depth - 1, self.k)
        self._changes = sorted(self._rng.sample(range(1, self.k + 1), count))
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        self._step += 1
        priority = self._priority
        if len(options) == 2 and not (self._changes and self._step >= self._changes[0]):
            a, b = options  # the common choice: two threads, both seen, no change point
            if a in priority and b in priority:
                return a if priority[a] >= priority[b] else b
        for tid in options:
            if tid not in priority:
                priority[tid] = self.depth + self._rng.random()
        if self._changes and self._step >= self._changes[0]:
            self._changes.pop(0)
            victim = current if current in priority else _highest(options, priority)
            priority[victim] = float(len(self._changes))  # below every initial priority
        return _highest(options, priority)

    def end(self, summary: ScheduleSummary) -> None:
        self.observe(summary)

    def observe(self, summary: ScheduleSummary) -> None:
        """Learn the length and the threads of a schedule (also ones other strategies ran)."""
        if self.observed >= LEARN:
            return
        self.observed += 1
        self.k = max(self.k, len(summary.choices))
        threads = set(summary.choices) | {c for c in summary.currents if c >= 0}
        self.n = max(self.n, len(threads))

    def independent(self) -> bool:
        return self.observed >= LEARN

    def miss_bound(self) -> float:
        """An upper bound on P(a bug of depth ``depth`` was missed) after the runs so far.

        Burckhardt et al. (ASPLOS 2010), theorem 5: one PCT run finds a bug of
        depth d with probability at least 1 / (n k^(d-1)), n threads, k steps
        (here: the choice points, where the change points are drawn).
        """
        found = 1.0 / (self.n * self.k ** (self.depth - 1))
        return float((1.0 - found) ** self.runs)

    def evidence(self, schedules_run: int) -> Evidence:
        return Evidence(schedules_run, ((self.name, schedules_run, f"depth {self.depth}"),),
                        pct_miss=((self.depth, self.miss_bound()),))


def _highest(options: Sequence[int], priority: dict[int, float]) -> int:
    """The option of highest priority, the first of equals (``max`` with a key, at a
    choice's price: this runs at every choice point of a PCT schedule)."""
    if len(options) == 2:
        a, b = options
        return a if priority[a] >= priority[b] else b
    return max(options, key=priority.__getitem__)

