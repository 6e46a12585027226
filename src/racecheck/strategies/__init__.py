"""Exploration strategies: each file one algorithm behind :class:`Strategy`."""

from __future__ import annotations

from .._core.access import Access
from .._core.outcome import Evidence
from ..errors import InvalidArgument
from .auto import AutoStrategy
from .base import ChoicePoint, ScheduleSummary, Strategy
from .bounded import BoundedStrategy
from .dpor import DporStrategy
from .pct import PCTStrategy
from .portfolio import PortfolioStrategy
from .random import RandomStrategy
from .replay import ReplayStrategy

__all__ = ["Access", "AutoStrategy", "BoundedStrategy", "ChoicePoint", "DporStrategy", "Evidence", "PCTStrategy", "PortfolioStrategy", "RandomStrategy",
           "ReplayStrategy", "ScheduleSummary", "Strategy", "make_strategy"]

NAMES = ("auto", "portfolio", "random", "pct", "bounded", "dpor")


def make_strategy(spec: object, seed: int) -> Strategy:
    """Turn ``strategy=`` (a name or a Strategy instance) into a Strategy."""
    if isinstance(spec, Strategy):
        return spec
    if spec == "auto":
        return AutoStrategy(seed)
    if spec == "random":
        return RandomStrategy(seed)
    if spec == "pct":
        return PCTStrategy(seed)
    if spec == "portfolio":
        return PortfolioStrategy(seed)
    if spec == "bounded":
        return BoundedStrategy(seed)
    if spec == "dpor":
        return DporStrategy(seed)
    raise InvalidArgument(
        f"unknown strategy {spec!r}: use one of {', '.join(map(repr, NAMES))} "
        "or pass a racecheck.strategies.Strategy instance"
    )
