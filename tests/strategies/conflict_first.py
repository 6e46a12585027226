"""A strategy written outside racecheck, in one file, from its public interface only.

Issue 12's proof that a new search is a new module: it asks for pending
accesses (``wants_accesses``) and, when the running thread is about to write
what another runnable thread is about to touch, runs that other thread first:
the preemption that splits a read-modify-write.  A thread whose next access
is not known yet (it has not reached its first point) runs first, so that it
is; otherwise it keeps the running thread, or picks at random.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from racecheck.strategies import Access, ChoicePoint, Strategy


class ConflictFirst(Strategy):
    name = "conflict-first"
    wants_accesses = True

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        #: Every access seen at a choice point (in-process explorations only).
        self.seen: list[Access] = []

    def begin(self, index: int) -> bool:
        self.rng = random.Random(f"{self.seed}:{index}")
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        return self.rng.choice(list(options))

    def choose_point(self, point: ChoicePoint) -> int:
        mine = point.pending.get(point.current)
        self.seen.extend(a for a in point.pending.values() if a is not None)
        unknown = [t for t in point.options if point.pending.get(t) is None]
        if unknown and self.rng.random() < 0.5:
            return unknown[0]
        if mine is not None and mine.writes:
            others = [t for t in point.options if t != point.current
                      and mine.conflicts(point.pending.get(t))]
            if others:
                return others[0]
        if point.current in point.options and self.rng.random() < 0.9:
            return point.current
        return self.choose(point.options, point.current)
