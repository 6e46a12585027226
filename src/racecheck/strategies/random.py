"""Random walks: at every choice point, any enabled thread, equally likely.

Switching at nearly every scheduling point is what finds most real races in
the first one or two schedules (frontrun's measurements on its corpus; Fray,
OOPSLA'25, found plain random search beat systematic tools on JVM benchmarks).
Each schedule gets its own generator seeded from ``(seed, index)``, so schedule
``i`` of seed ``s`` is the same whatever ran before it.

``sticky=True`` makes a walk that is uniform for its first ``WARM`` choices
and then keeps the running thread more often, at a rate drawn per schedule:
the running thread stays unless ``flips`` coin flips all come up heads,
``flips`` from 0 (the uniform walk) to ``MAX_FLIPS``, so the schedule switches
at about one choice in 2 to one in 8,192 from there on.  Coyote's
probabilistic random strategy keeps the running thread the same way with one
fixed number of flips.  Why: a switch is the costliest part of a schedule (an
OS-thread hand-off, about 8 us against 0.3 us for a point on 3.12), and a
uniform walk makes one at every other choice, so in a long run switches are
most of the time while the races themselves need one or two preemptions
(CHESS, Musuvathi & Qadeer PLDI 2007).  In a short run they cost nothing next
to starting the schedule, and the uniform walk finds races there in the
fewest schedules: a run of fewer than ``WARM`` choices is walked exactly as
the uniform walk does (docs/benchmarks.md, "Fewer switches").
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .base import Strategy

#: The most coin flips a sticky walk draws: it switches at one choice in 2**(MAX_FLIPS+1).
MAX_FLIPS = 12
#: Choices a sticky walk makes uniformly before its own rate applies: more than
#: any corpus scenario makes (at most 400 steps), a few ms of switches.
WARM = 512


def flips(seed: int, index: int) -> int:
    """The coin flips sticky schedule ``index`` of ``seed`` draws (0: the uniform walk),
    from a generator of its own, so a walk with no flips is the uniform one."""
    return random.Random(f"racecheck-flips:{seed}:{index}").randint(0, MAX_FLIPS)


class RandomStrategy(Strategy):
    name = "random"

    def __init__(self, seed: int, *, sticky: bool = False) -> None:
        self.seed = seed
        self.sticky = sticky
        self._rng = random.Random(0)
        #: The chance that a choice keeps the running thread before the uniform draw.
        self._stay = 0.0
        #: Uniform choices left before ``_stay`` applies.
        self._warm = 0

    def begin(self, index: int) -> bool:
        self._rng = random.Random(f"racecheck:{self.seed}:{index}")
        if self.sticky:
            self._stay = 1.0 - 0.5 ** flips(self.seed, index)
            self._warm = WARM
        return True

    def independent(self) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        # random() is C; randrange() is Python code, run at every choice point.
        draw = self._rng.random
        if self._warm:
            self._warm -= 1
        elif self._stay and current in options and draw() < self._stay:
            return current
        return options[int(draw() * len(options))]
