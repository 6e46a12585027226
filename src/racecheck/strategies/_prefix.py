"""What the systematic searches (``bounded``, ``dpor``) share.

Both are stateless: each schedule replays a prefix of choices, then lets the
running thread go on (else the lowest runnable one), so a prefix means the
same run every time; after it ran, they compare the choice points they
expected with the ones it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .base import Strategy


def preemption(options: Sequence[int], current: int, choice: int) -> int:
    """1 when ``choice`` takes the baton from ``current``, which could have gone on."""
    return 1 if current in options and choice != current else 0


class _Point(Protocol):
    options: tuple[int, ...]
    chosen: int


def followed(points: Sequence[_Point], choices: Sequence[int],
             options: Sequence[tuple[int, ...]], start: int = 0) -> int:
    """How many of ``points`` a run repeated (the same options, the same choice), from
    its choice number ``start``: fewer than all means the run was not deterministic."""
    n = 0
    while n < len(points) and start + n < len(choices) \
            and points[n].options == options[start + n] and points[n].chosen == choices[start + n]:
        n += 1
    return n


class PrefixSearch(Strategy):
    """A strategy that replays ``_prefix``, then lets the running thread go on."""

    _prefix: tuple[int, ...] = ()
    _position = 0

    def _replay(self, prefix: tuple[int, ...]) -> None:
        self._prefix = prefix
        self._position = 0

    def choose(self, options: Sequence[int], current: int) -> int:
        i = self._position
        self._position += 1
        if i < len(self._prefix) and self._prefix[i] in options:
            return self._prefix[i]
        return current if current in options else options[0]
