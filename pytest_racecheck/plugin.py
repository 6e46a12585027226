"""The ``pytest11`` entry point for racecheck (placeholder).

This only registers the option group and the marker, so that ``--racecheck``
and ``@pytest.mark.racecheck(...)`` are accepted under ``--strict-markers``.
It deliberately imports nothing from ``racecheck``: pytest loads this module
in every session where the distribution is installed, racecheck or not, so
the heavy parts are imported inside hooks once the real plugin lands.
"""

from __future__ import annotations

import pytest

MARKER = (
    "racecheck(schedules=None, strategy=None, seed=None, threads=None, replay=None): "
    "run the test under many controlled thread schedules and fail with a "
    "replayable report when one of them breaks it."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("racecheck", "racecheck: controlled thread scheduling")
    group.addoption(
        "--racecheck",
        action="store_true",
        default=False,
        help="Run tests marked with racecheck under the controlled scheduler.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
