"""Replays one recorded schedule exactly, and says so loudly when it cannot."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ReplayDiverged
from .base import Strategy


class ReplayStrategy(Strategy):
    name = "replay"

    def __init__(self, choices: Sequence[int], rseed: int = 0) -> None:
        self.choices = tuple(choices)
        self.rseed = rseed  # the seed ``random`` gets at the start of the schedule
        self.position = 0

    def begin(self, index: int) -> bool:
        self.position = 0
        return index == 0

    def choose(self, options: Sequence[int], current: int) -> int:
        if self.position >= len(self.choices):
            raise ReplayDiverged(
                f"the schedule ended after {len(self.choices)} choices but the code "
                "reached another choice point: it no longer follows the recorded schedule"
            )
        choice = self.choices[self.position]
        if choice not in options:
            raise ReplayDiverged(
                f"at choice {self.position} the schedule picks thread {choice}, but only "
                f"threads {list(options)} can run: the code no longer follows the schedule"
            )
        self.position += 1
        return choice

    def unused(self) -> int:
        return len(self.choices) - self.position
