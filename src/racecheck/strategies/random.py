"""Uniform random walk: at every choice point, any enabled thread, equally likely.

Switching at nearly every scheduling point is what finds most real races in
the first one or two schedules (frontrun's measurements on its corpus; Fray,
OOPSLA'25, found plain random search beat systematic tools on JVM benchmarks).
Each schedule gets its own generator seeded from ``(seed, index)``, so schedule
``i`` of seed ``s`` is the same whatever ran before it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .base import Strategy


class RandomStrategy(Strategy):
    name = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(0)

    def begin(self, index: int) -> bool:
        self._rng = random.Random(f"racecheck:{self.seed}:{index}")
        return True

    def independent(self) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        # random() is C; randrange() is Python code, run at every choice point.
        return options[int(self._rng.random() * len(options))]
