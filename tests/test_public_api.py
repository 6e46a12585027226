"""The public surface: what ``racecheck`` and ``racecheck.strategies`` export, exactly.

A name added to or dropped from ``__all__`` is an API change; this test makes
it a deliberate one (update the sets below, the README and the CHANGELOG).
"""

from __future__ import annotations

import racecheck
import racecheck.strategies
import racecheck.trace

PUBLIC = {
    "DeadlockFound", "Evidence", "Failure", "InvalidArgument", "InvalidToken", "MissingDependency",
    "NestedExploration", "NotExplorable", "RaceFound", "RacecheckError", "ReplayDiverged",
    "Result", "ScheduleRun", "Settings", "UsageError", "Verdict",
    "__version__", "check", "explore", "racecheck", "replay",
}

STRATEGIES = {"Access", "AutoStrategy", "BoundedStrategy", "ChoicePoint", "DporStrategy", "Evidence", "PCTStrategy", "PortfolioStrategy", "RandomStrategy", "ReplayStrategy",
              "ScheduleSummary", "Strategy", "make_strategy"}


def test_racecheck_exports_exactly_its_public_names() -> None:
    assert set(racecheck.__all__) == PUBLIC
    for name in racecheck.__all__:
        assert getattr(racecheck, name) is not None


def test_strategies_export_exactly_their_public_names() -> None:
    assert set(racecheck.strategies.__all__) == STRATEGIES
    for name in racecheck.strategies.__all__:
        assert getattr(racecheck.strategies, name) is not None


TRACE = {"Blocked", "Step", "SyncEvent", "Trace", "WaitEdge"}


def test_trace_exports_exactly_its_public_names() -> None:
    assert set(racecheck.trace.__all__) == TRACE
    for name in racecheck.trace.__all__:
        assert getattr(racecheck.trace, name) is not None


def test_a_verdict_is_its_name_in_text_and_data() -> None:
    import json

    deadlock = racecheck.Verdict.DEADLOCK
    assert deadlock == "deadlock" and str(deadlock) == f"{deadlock}" == "deadlock"
    assert json.dumps({"kind": deadlock}) == '{"kind": "deadlock"}'


def test_every_error_is_a_racecheck_error() -> None:
    errors = [getattr(racecheck, n) for n in PUBLIC
              if isinstance(getattr(racecheck, n), type)
              and issubclass(getattr(racecheck, n), BaseException)]
    assert errors and all(issubclass(e, racecheck.RacecheckError) for e in errors)
    assert issubclass(racecheck.NotExplorable, racecheck.UsageError)
