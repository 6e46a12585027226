"""What the plugin reports: ``-v`` statuses, the terminal summary, the JSON report.

Everything here reads the per-test records (``run.Run._record``), which
travel from xdist workers as JSON: never a racecheck object, never its text
parsed back.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from .run import State


def test_status(report: pytest.TestReport
                ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """``-v`` shows what the exploration did: ``PASSED (racecheck: 200 schedules)``.

    Read from the report's user properties, so it works for xdist workers' reports too;
    xfail and skip reports are left to pytest.
    """
    if report.when != "call" or hasattr(report, "wasxfail") or report.skipped:
        return None
    props = dict(report.user_properties)
    if "racecheck_not_explored" in props and report.passed:
        return "passed", ".", (f"PASSED (racecheck: not explored, "
                               f"{props['racecheck_not_explored']})", {"green": True})
    if "racecheck_verdict" not in props:
        return None
    n = props.get("racecheck_schedules")
    counted = f"{n} schedule{'s' if n != 1 else ''}"
    if report.passed:
        return "passed", ".", (f"PASSED (racecheck: {counted})", {"green": True})
    verdict = props["racecheck_verdict"]
    what = ("pass" if verdict == "pass" else "exploration stopped" if verdict == "error"
            else f"race found: {verdict}")
    return "failed", "F", (f"FAILED (racecheck: {what}, {counted})", {"red": True})


def write_json(state: State, config: pytest.Config) -> None:
    """``--racecheck-report``: one entry per explored test, and the tests not explored."""
    report = state.settings.report
    if not report:
        return
    path = Path(config.invocation_params.dir, report)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "seed": state.settings.seed,
        "tests": [dict(r, outcome=state.outcomes.get(r["nodeid"])) for r in _sorted(state)],
        "not_explored": [
            {"nodeid": nodeid, "reason": why, "outcome": state.outcomes.get(nodeid),
             **state.unexplored_detail.get(nodeid, {})}
            for nodeid, why in _not_explored(state).items()],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _sorted(state: State) -> list[dict[str, Any]]:
    return sorted(state.records, key=lambda r: str(r["nodeid"]))


def _not_explored(state: State) -> dict[str, str]:
    """nodeid -> why, for the tests that ran without a record of an exploration, sorted."""
    explored = {str(r["nodeid"]) for r in state.records}
    return {nodeid: why for nodeid, why in sorted(state.unexplored.items())
            if nodeid not in explored}


def terminal_summary(tr: Any, state: State) -> None:
    """The ``racecheck`` section: counts, tests not explored and why, one line per test."""
    records = _sorted(state)
    failures = [r for r in records if not r["ok"]]
    tr.write_sep("=", "racecheck")
    total = sum(int(r["schedules_run"]) for r in records)
    seed = state.settings.seed
    tr.write_line(f"{len(records)} test{'s' if len(records) != 1 else ''} explored, "
                  f"{total} schedule{'s' if total != 1 else ''} run, "
                  f"seed={seed} (replay with --racecheck-seed={seed})")
    not_explored = _not_explored(state)
    if not_explored:
        reasons = collections.Counter(not_explored.values())
        left = len(not_explored)
        tr.write_line(f"{left} test{'s' if left != 1 else ''} not explored: "
                      + "; ".join(f"{n} {why}" for why, n in reasons.most_common()))
    for nodeid, why in not_explored.items():
        detail = state.unexplored_detail.get(nodeid)
        if detail is not None:
            n = int(detail.get("schedules_run") or 0)
            tr.write_line(f"{nodeid}  not explored: {why} "
                          f"(after {n} schedule{'s' if n != 1 else ''}; "
                          f"{(str(detail.get('detail', '')).splitlines() or [''])[0][:300]})")
    if failures:
        kinds: dict[str, int] = {}
        for r in failures:
            kinds[str(r["verdict"])] = kinds.get(str(r["verdict"]), 0) + 1
        tr.write_line("failures by verdict: "
                      + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for r in records:
        n = int(r["schedules_run"])
        count = f"{n} schedule{'s' if n != 1 else ''}"
        evidence = str(r["evidence"] or "")
        parts = r.get("evidence_detail") or []
        extra = ""
        if parts and parts[0]["schedules"] == n:
            count = evidence  # "200 schedules (100 random, 100 PCT depth 2-3)"
        elif evidence:
            extra = f"; {evidence}"
        if r["source"] != "exploration":
            extra += f"; from the {r['source']}"
        if r["note"]:
            extra += f"; {r['note']}"
        outcome = state.outcomes.get(str(r["nodeid"]))
        shown = f" [{outcome}]" if outcome in ("xfailed", "xpassed") else ""
        verdict = ("pass" if r["ok"] else "error" if r["verdict"] == "error"
                   else f"race found: {r['verdict']}")
        tr.write_line(f"{r['nodeid']}  {verdict}{shown}  ({count}{extra})")
    for r in failures:
        if r["verdict"] == "error":
            continue  # pytest shows the error itself
        tr.write_sep("-", f"{r['nodeid']}: race found: {r['verdict']}")
        for line in str(r["report"]).splitlines():
            tr.write_line(line)
    if state.settings.report:
        tr.write_line(f"racecheck: JSON report written to {state.settings.report}")
