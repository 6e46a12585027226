"""Results as plain data: what the JSON report, the HTML page and the DataFrames are made of.

Every renderer that is not the terminal text reads these dicts, never a
racecheck object: the pytest plugin ships them from xdist workers as JSON and
renders the run page from them, and ``failure.to_html()`` renders the same
dict.  The layout is versioned (``SCHEMA_VERSION``) and documented, with a
JSON Schema that the tests validate against, in ``docs/report-format.md`` and
``docs/report-schema.json``.  Add fields freely; renaming or removing one is a
new version.
"""

from __future__ import annotations

import linecache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.outcome import Evidence, Failure, Result, ScheduleRun

#: The version of the layout below (the report's ``schema_version``).
SCHEMA_VERSION = 1

#: A failure's steps in the data at most: the first tenth of these and the rest from
#: the end, plus every step a lost update or a landed step names (``steps_left_out``
#: counts the others).  A schedule of 177,051 steps (sqlite work in persist-queue's
#: tests) made a 59 MB entry, and fourteen of them a 765 MB JSON report.
MAX_STEPS = 5000


def evidence_data(evidence: Evidence) -> dict[str, Any]:
    """How strong a pass is, as fields; ``text`` is the sentence the terminal shows."""
    return {
        "text": str(evidence),
        "schedules": evidence.schedules,
        "strategies": [{"name": name, "schedules": n, "detail": detail}
                       for name, n, detail in evidence.strategies],
        "exhaustive_up_to_preemptions": evidence.exhaustive_up_to_preemptions,
        "pct_miss": [{"depth": d, "probability": p} for d, p in evidence.pct_miss],
    }


def run_data(run: ScheduleRun) -> dict[str, Any]:
    return {"index": run.index, "strategy": run.strategy, "steps": run.steps,
            "choices": run.choices, "preemptions": run.preemptions,
            "verdict": run.verdict or "pass", "seconds": run.seconds}


def failure_data(failure: Failure) -> dict[str, Any]:
    """One failing schedule: the verdict, the interleaving as steps, the replay line."""
    from ._report import display_order

    trace = failure.trace
    steps: list[dict[str, Any]] = []
    threads: dict[int, str] = {}
    order = display_order(trace) if trace is not None else []
    left_out = 0
    if len(order) > MAX_STEPS and trace is not None:
        named = {i for pair in trace.lost_update_steps for i in pair}
        named.update(i for pair in trace.landed for i in pair)
        head, tail = MAX_STEPS // 10, MAX_STEPS - MAX_STEPS // 10
        kept = [i for n, i in enumerate(order)
                if n < head or n >= len(order) - tail or i in named]
        left_out, order = len(order) - len(kept), kept
    for i in order:
        assert trace is not None
        s = trace.steps[i]
        threads.setdefault(s.tid, s.thread)
        steps.append({
            "index": i, "tid": s.tid, "thread": s.thread, "file": s.filename, "line": s.lineno,
            "source": linecache.getline(s.filename, s.lineno).strip(), "op": s.op,
            "kind": s.kind, "access": s.access, "target": s.target, "value": s.value,
            "note": s.note, "chosen": s.chosen, "preempted": s.preempted,
        })
    exc = failure.exception
    return {
        "verdict": str(failure.kind),
        "message": failure.message,
        "token": failure.token,
        "replay_line": failure.replay_line,
        "schedule_index": failure.schedule_index,
        "seed": failure.seed,
        "thread": failure.thread_name,
        "exception": None if exc is None else {"type": type(exc).__name__, "message": str(exc)},
        "traceback": failure.traceback_text,
        "preemptions": failure.preemptions,
        "found_preemptions": failure.found_preemptions,
        "shrink_runs": failure.shrink_runs,
        "replayed": None if failure.replayed is None else str(failure.replayed),
        "unseen": failure.unseen,
        "threads": [{"tid": tid, "name": name} for tid, name in threads.items()],
        "steps": steps,
        "steps_left_out": left_out,
        "lost_updates": [
            {"write": w, "lost": lost, "text": text} for (w, lost), text in zip(
                trace.lost_update_steps if trace is not None else [],
                trace.lost_updates if trace is not None else [], strict=False)],
        "sync_events": [{"step": e.step, "tid": e.tid, "op": e.op, "resource": e.resource}
                        for e in (trace.sync_events if trace is not None else [])],
        "landed": [{"step": i, "before": j} for i, j in (trace.landed if trace is not None
                                                          else [])],
        "cycle": [{"waiter": e.waiter, "resource": e.resource, "holder": e.holder,
                   "timed_out": e.timed_out} for e in failure.cycle],
        "blocked": [{"thread": b.thread, "resource": b.resource, "holders": list(b.holders),
                     "note": b.note, "holds": list(b.holds), "stack": list(b.stack),
                     "in_call": b.in_call} for b in failure.blocked],
        "notes": list(failure.notes),
        "report": failure.report,
    }


def result_data(result: Result) -> dict[str, Any]:
    """One exploration: its verdict, evidence, every schedule run, and the failure if any."""
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": result.ok,
        "verdict": "pass" if result.failure is None else str(result.failure.kind),
        "schedules_run": result.schedules_run,
        "parallel_from": result.parallel_from,
        "elapsed": round(result.elapsed, 4),
        "seed": result.seed,
        "strategy": result.strategy,
        "evidence": evidence_data(result.evidence),
        "notes": list(result.notes),
        "runs": [run_data(r) for r in result.runs],
        "failure": None if result.failure is None else failure_data(result.failure),
    }
