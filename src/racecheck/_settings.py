"""Defaults for every knob, in one frozen object; ``RACECHECK_*`` variables override them.

Precedence everywhere: an explicit argument (or pytest marker) > command line >
ini file > ``RACECHECK_*`` environment > these defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InvalidArgument


@dataclass(frozen=True)
class Settings:
    schedules: int = 200
    strategy: str = "portfolio"
    seed: int | None = None
    max_steps: int = 200_000
    max_threads: int = 64
    watchdog: float = 5.0


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"environment variable {name}={raw!r} is not an integer") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidArgument(f"environment variable {name}={raw!r} is not a number") from None


def from_env() -> Settings:
    base = Settings()
    return Settings(
        schedules=_env_int("RACECHECK_SCHEDULES", base.schedules) or base.schedules,
        strategy=os.environ.get("RACECHECK_STRATEGY") or base.strategy,
        seed=_env_int("RACECHECK_SEED", None),
        max_steps=_env_int("RACECHECK_MAX_STEPS", base.max_steps) or base.max_steps,
        max_threads=base.max_threads,
        watchdog=_env_float("RACECHECK_WATCHDOG", base.watchdog),
    )


DEFAULTS = from_env()
