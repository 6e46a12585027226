"""Exploration strategies: each file one algorithm behind :class:`Strategy`."""

from __future__ import annotations

from ..errors import InvalidArgument
from .base import Strategy
from .random import RandomStrategy
from .replay import ReplayStrategy

__all__ = ["RandomStrategy", "ReplayStrategy", "Strategy", "make_strategy"]

NAMES = ("random",)


def make_strategy(spec: object, seed: int) -> Strategy:
    """Turn ``strategy=`` (a name or a Strategy instance) into a Strategy."""
    if isinstance(spec, Strategy):
        return spec
    if spec == "random":
        return RandomStrategy(seed)
    raise InvalidArgument(
        f"unknown strategy {spec!r}: use one of {', '.join(map(repr, NAMES))} "
        "or pass a racecheck.strategies.Strategy instance"
    )
