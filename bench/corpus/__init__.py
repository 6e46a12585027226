"""A corpus of race scenarios grounded in code others wrote.

Each ``s_*.py`` module defines ``SCENARIO`` (see ``_scenario.py``): a racy side
that must fail under some interleaving, its fixed side (or, for "correct code",
code that looks racy but is not) that must never fail, an invariant, a
category and a citation.  ``load_all()`` finds them; ``python -m
bench.corpus._selfcheck`` validates them without racecheck.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._scenario import CATEGORIES, Scenario, Side

__all__ = ["CATEGORIES", "Scenario", "Side", "load_all"]


def load_all() -> list[Scenario]:
    """Every scenario of the corpus, sorted by name.

    Modules are imported even when a scenario's third-party requirement is
    missing (they import it lazily); ``Scenario.missing()`` tells which.
    """
    scenarios = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("s_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        scenario = module.SCENARIO
        if not isinstance(scenario, Scenario) or scenario.name != info.name:
            raise TypeError(f"{info.name}.SCENARIO must be a Scenario named {info.name!r}")
        scenarios.append(scenario)
    return sorted(scenarios, key=lambda s: s.name)
