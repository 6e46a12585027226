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


def report_data(state: State) -> dict[str, Any]:
    """The whole run as data: the JSON report's content (docs/report-format.md)."""
    from racecheck import __version__
    from racecheck._data import SCHEMA_VERSION

    return {
        "schema_version": SCHEMA_VERSION,
        "racecheck_version": __version__,
        "seed": state.settings.seed,
        "tests": [dict(r, outcome=state.outcomes.get(r["nodeid"])) for r in _sorted(state)],
        "not_explored": [
            {"nodeid": nodeid, "reason": why, "outcome": state.outcomes.get(nodeid),
             **state.unexplored_detail.get(nodeid, {})}
            for nodeid, why in _not_explored(state).items()],
    }


def write_files(state: State, config: pytest.Config) -> None:
    """``--racecheck-report`` (JSON) and ``--racecheck-html``: one entry per explored test,
    and the tests not explored."""
    if not (state.settings.report or state.settings.html):
        return
    data = report_data(state)
    if state.settings.report:
        path = Path(config.invocation_params.dir, state.settings.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if state.settings.html:
        from racecheck._html import write_run_page

        path = Path(config.invocation_params.dir, state.settings.html)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_run_page(data, path)


def _sorted(state: State) -> list[dict[str, Any]]:
    return sorted(state.records, key=lambda r: str(r["nodeid"]))


def _not_explored(state: State) -> dict[str, str]:
    """nodeid -> why, for the tests that ran without a record of an exploration, sorted."""
    explored = {str(r["nodeid"]) for r in state.records}
    return {nodeid: why for nodeid, why in sorted(state.unexplored.items())
            if nodeid not in explored}


def terminal_summary(tr: Any, state: State) -> None:
    """The ``racecheck`` section: totals, tests not explored and why, the failures.

    One line per explored test only with ``-v``.  Each failure's report is
    printed once: a failed test's is in pytest's own failure section already,
    so here it gets one line (the whole report under ``--tb=no``); an expected
    failure (xfail) has nowhere else to show its report, so it is printed here.
    """
    records = _sorted(state)
    failures = [r for r in records if not r["ok"]]
    verbose = tr.config.get_verbosity() >= 1
    tracebacks = getattr(tr.config.option, "tbstyle", "auto") != "no"
    tr.write_sep("=", "racecheck")
    total = sum(int(r["schedules_run"]) for r in records)
    races = sum(1 for r in failures if r["verdict"] != "error")
    seed = state.settings.seed
    tr.write_line(f"{len(records)} test{'s' if len(records) != 1 else ''} explored, "
                  f"{total} schedule{'s' if total != 1 else ''} run, "
                  f"{races} race{'s' if races != 1 else ''} found, "
                  f"seed={seed} (replay with --racecheck-seed={seed})",
                  red=bool(races), green=not races)
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
                          f"{_clip((str(detail.get('detail', '')).splitlines() or [''])[0])})",
                          yellow=True)
    if failures:
        kinds: dict[str, int] = {}
        for r in failures:
            kinds[str(r["verdict"])] = kinds.get(str(r["verdict"]), 0) + 1
        tr.write_line("failures by verdict: "
                      + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for r in records:
        if r["ok"] and not verbose:
            continue
        tr.write_line(_test_line(r, state.outcomes.get(str(r["nodeid"]))),
                      red=not r["ok"] and state.outcomes.get(str(r["nodeid"])) == "failed",
                      green=bool(r["ok"]))
    for r in failures:
        if r["verdict"] == "error":
            continue  # pytest shows the error itself
        if state.outcomes.get(str(r["nodeid"])) == "failed" and tracebacks:
            continue  # pytest's failure section shows the report
        tr.write_sep("-", f"{r['nodeid']}: race found: {r['verdict']}")
        for line in str(r["report"]).splitlines():
            tr.write_line(line)
    if state.settings.report:
        tr.write_line(f"racecheck: JSON report written to {state.settings.report}")
    if state.settings.html:
        tr.write_line(f"racecheck: HTML report written to {state.settings.html}")


def _test_line(r: dict[str, Any], outcome: str | None) -> str:
    """``nodeid  pass  (200 schedules (...))``: one explored test's line in the summary."""
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
    shown = f" [{outcome}]" if outcome in ("xfailed", "xpassed") else ""
    verdict = ("pass" if r["ok"] else "error" if r["verdict"] == "error"
               else f"race found: {r['verdict']}")
    return f"{r['nodeid']}  {verdict}{shown}  ({count}{extra})"


def _clip(text: str, limit: int = 300) -> str:
    """``text`` cut to about ``limit`` characters at a word's end, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."
