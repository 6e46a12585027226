"""Time and runs to the first failure on the race corpus, racecheck versus the alternatives.

    python bench/run.py [--quick] [--seeds N] [--budget-seconds S] [--budget-runs R]
                        [--only NAME ...] [--tools TOOL ...] [--jobs J] [--out DIR]

For every scenario of ``bench/corpus`` and every tool, in the same run and on
the same machine, it measures how many runs (schedules) and how much wall time
it takes to see the racy side fail, and whether the fixed (or correct) side
ever fails with the same budget (a false alarm).  Tools:

``plain``        the side's bodies in real ``threading.Thread`` objects started
                 one after the other, joined with a timeout (a thread still alive
                 at the timeout is a ``hang``), then the invariant; repeated with
                 fresh ``setup()`` state until the first failure or the budget.
``barrier``      the same, every body first waits on a ``threading.Barrier`` and
                 ``sys.setswitchinterval(1e-6)`` is in force (pytest-run-parallel's
                 recipe plus the usual stress-test trick).
``sleep``        the same as ``plain``, each thread under ``sys.settrace`` with
                 opcode events: before an opcode, with probability ``P_SLEEP``,
                 ``time.sleep(uniform(0, MAX_SLEEP))`` from a seeded RNG.
``rc-random``, ``rc-pct``, ``rc-portfolio``, ``rc-dpor``, ``rc-auto``
                 ``racecheck.explore(..., strategy=..., seed=..., watchdog=2)``;
                 runs to failure = ``failure.schedule_index + 1``.
``fr-random``    frontrun's opcode-level random walk (``frontrun.explore(...,
                 strategy="random", seed=...)``), when frontrun is installed.
``fr-dpor``      frontrun's DPOR (preemption bound 2, its default); it is
                 deterministic, so it is run for the first seed only.

Every (scenario, side, tool, seed) measurement runs in a forked child process:
a child killed by a signal is recorded as ``crash``, one that outlives the hard
timeout is killed and recorded as ``timeout``.  Budgets are the same for every
tool: at most ``--budget-runs`` runs and ``--budget-seconds`` seconds per
measurement.  Results: medians over seeds (a seed that did not find the bug
counts as infinitely slow), ratios to the plain-thread median, false alarms on
every fixed side; a Markdown table on stdout and in ``<out>/latest.md``, the raw
measurements in ``<out>/latest.json``; progress lines on stderr.

Defaults: 5 seeds (2 on fixed sides), 1000 runs or 2 s per measurement, thread
join timeout 2 s, two measurements at once: about 5 minutes on 2 cores.
``--quick``: 6 scenarios, 2 seeds, 200 runs or 0.5 s, join timeout 0.5 s
(under a minute).  Results are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import racecheck  # noqa: E402
from bench.corpus import load_all  # noqa: E402
from bench.corpus._scenario import Scenario, Side  # noqa: E402

HARNESSES = ("plain", "barrier", "sleep")
RC_TOOLS = ("rc-random", "rc-pct", "rc-portfolio", "rc-dpor", "rc-auto")
FR_TOOLS = ("fr-random", "fr-dpor")
ALL_TOOLS = HARNESSES + RC_TOOLS + FR_TOOLS
SEED_INDEPENDENT = {"fr-dpor"}  # deterministic: measured for the first seed only

P_SLEEP = 0.02  # sleep injection: probability of a sleep before an opcode
MAX_SLEEP = 1e-4  # sleep injection: longest injected sleep, seconds
WATCHDOG = 2.0  # racecheck watchdog / frontrun deadlock timeout, seconds

QUICK_SCENARIOS = (
    "s_attr_increment",
    "s_db_value_sleep",
    "s_deadlock_logging_abba",
    "s_dict_get_plus_one",
    "s_close_before_last_write",
    "s_ok_list_append",
)


@dataclass(frozen=True)
class Budget:
    runs: int
    seconds: float
    join_timeout: float  # harnesses: a thread still alive after this is a hang


@dataclass(frozen=True)
class Task:
    scenario: str
    side: str  # "racy" or "fixed"
    tool: str
    seed: int


# ----------------------------------------------------------------- the harnesses


def _one_threaded_run(
    side: Side, tool: str, seed: int, run: int, join_timeout: float
) -> tuple[str, str]:
    """One run of ``side`` on real threads: (verdict, detail); verdict "ok" when it passed."""
    state = side.setup()
    n = len(side.threads)
    errors: list[str] = []
    barrier = threading.Barrier(n) if tool == "barrier" else None

    def wrap(body: Callable[[Any], None], idx: int) -> Callable[[], None]:
        def target() -> None:
            try:
                if barrier is not None:
                    barrier.wait()
                if tool == "sleep":
                    rng = random.Random((seed * 1_000_003 + run) * 8 + idx)
                    chance, uniform, nap = rng.random, rng.uniform, time.sleep

                    def local(frame: Any, event: str, arg: Any) -> Any:
                        if event == "opcode" and chance() < P_SLEEP:
                            nap(uniform(0.0, MAX_SLEEP))
                        return local

                    def tracer(frame: Any, event: str, arg: Any) -> Any:
                        frame.f_trace_opcodes = True
                        return local

                    sys.settrace(tracer)
                    try:
                        body(state)
                    finally:
                        sys.settrace(None)
                else:
                    body(state)
            except BaseException as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        return target

    threads = [
        threading.Thread(target=wrap(body, i), name=f"bench-{i}", daemon=True)
        for i, body in enumerate(side.threads)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + join_timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        return "hang", f"still running after {join_timeout}s: {', '.join(alive)}"
    if errors:
        return "exception", "; ".join(errors)
    if side.invariant is None:
        return "ok", ""
    try:
        held = side.invariant(state)
    except AssertionError as exc:
        return "violation", str(exc)
    except Exception as exc:
        return "exception", f"invariant raised {type(exc).__name__}: {exc}"
    if held is False:
        return "violation", "invariant returned False"
    return "ok", ""


def measure_harness(side: Side, tool: str, seed: int, budget: Budget) -> dict[str, Any]:
    saved = sys.getswitchinterval()
    if tool == "barrier":
        sys.setswitchinterval(1e-6)
    try:
        start = time.perf_counter()
        runs = 0
        while runs < budget.runs and time.perf_counter() - start < budget.seconds:
            runs += 1
            verdict, detail = _one_threaded_run(side, tool, seed, runs, budget.join_timeout)
            if verdict != "ok":
                return _found(verdict, runs, time.perf_counter() - start, detail)
        return _not_found(runs, time.perf_counter() - start)
    finally:
        sys.setswitchinterval(saved)


def measure_racecheck(side: Side, tool: str, seed: int, budget: Budget) -> dict[str, Any]:
    strategy = tool.removeprefix("rc-")
    start = time.perf_counter()
    result = racecheck.explore(
        list(side.threads),
        setup=side.setup,
        invariant=side.invariant,
        schedules=budget.runs,
        seed=seed,
        strategy=strategy,
        watchdog=WATCHDOG,
        time_budget=budget.seconds,
    )
    elapsed = time.perf_counter() - start
    f = result.failure
    if f is None:
        return _not_found(result.schedules_run, elapsed)
    return _found(f.kind, f.schedule_index + 1, elapsed, (f.message or "")[:300])


def measure_frontrun(
    side: Side, tool: str, seed: int, budget: Budget, requires: Sequence[str]
) -> dict[str, Any]:
    import frontrun
    from frontrun._cooperative import patch_locks

    # What `frontrun pytest` / --frontrun-patch-locks does; in this child only.
    patch_locks()
    invariant = side.invariant

    def holds(state: Any) -> bool:
        if invariant is None:
            return True
        try:
            return invariant(state) is not False
        except AssertionError:
            return False

    common: dict[str, Any] = dict(
        reproduce_on_failure=0,
        deadlock_timeout=WATCHDOG,
        timeout_per_run=WATCHDOG,
        total_timeout=budget.seconds,
        detect_io=False,
    )
    if requires:  # frontrun traces only user code unless told which packages to trace
        common["trace_packages"] = [p for m in requires for p in (m, f"{m}.*")]
    if tool == "fr-random":
        kw = dict(strategy="random", max_attempts=budget.runs, seed=seed)
    else:
        kw = dict(strategy="dpor", max_executions=budget.runs)
    start = time.perf_counter()
    result = frontrun.explore(side.setup, list(side.threads), holds, **kw, **common)
    elapsed = time.perf_counter() - start
    n = int(getattr(result, "num_explored", 0) or 0)
    if result.property_holds is False:
        text = str(getattr(result, "explanation", "") or "")
        kind = "deadlock" if text.lstrip().lower().startswith("deadlock") else "violation"
        return _found(kind, max(n, 1), elapsed, text[:300])
    out = _not_found(n, elapsed)
    if result.property_holds is None:
        out["detail"] = f"inconclusive: {getattr(result, 'inconclusive_reason', '')}"[:300]
    return out


def _found(kind: str, runs: int, seconds: float, detail: str) -> dict[str, Any]:
    return {"found": True, "kind": kind, "runs": runs, "seconds": seconds, "detail": detail}


def _not_found(runs: int, seconds: float) -> dict[str, Any]:
    return {"found": False, "kind": "", "runs": runs, "seconds": seconds, "detail": ""}


def measure(sc: Scenario, task: Task, budget: Budget) -> dict[str, Any]:
    side = sc.racy if task.side == "racy" else sc.fixed
    assert side is not None
    if task.tool in HARNESSES:
        return measure_harness(side, task.tool, task.seed, budget)
    if task.tool in RC_TOOLS:
        return measure_racecheck(side, task.tool, task.seed, budget)
    return measure_frontrun(side, task.tool, task.seed, budget, sc.requires)


# ----------------------------------------------------------------- child processes


def _child(conn: Any, sc: Scenario, task: Task, budget: Budget) -> None:
    # Silence the measured code (frontrun and tracebacks print a lot); keep fd 2
    # for a fatal error message.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        out = measure(sc, task, budget)
    except BaseException as exc:
        out = {
            "found": False,
            "kind": "error",
            "runs": 0,
            "seconds": 0.0,
            "detail": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-2000:],
        }
    try:
        conn.send(out)
        conn.close()
    finally:
        os._exit(0)  # never wait for abandoned (hung) threads


class Runner:
    """Runs tasks in forked children, ``jobs`` at a time."""

    def __init__(
        self, scenarios: dict[str, Scenario], budget: Budget, jobs: int, hard_timeout: float
    ) -> None:
        self.scenarios = scenarios
        self.budget = budget
        self.jobs = jobs
        self.hard_timeout = hard_timeout
        self.ctx = multiprocessing.get_context("fork")

    def run(self, tasks: list[Task], on_done: Callable[[Task, dict[str, Any]], None]) -> None:
        pending = list(reversed(tasks))
        live: list[tuple[Task, Any, Any, float]] = []
        while pending or live:
            while pending and len(live) < self.jobs:
                task = pending.pop()
                recv, send = self.ctx.Pipe(duplex=False)
                proc = self.ctx.Process(
                    target=_child,
                    args=(send, self.scenarios[task.scenario], task, self.budget),
                    daemon=True,
                )
                proc.start()
                send.close()
                live.append((task, proc, recv, time.perf_counter()))
            still: list[tuple[Task, Any, Any, float]] = []
            for task, proc, recv, started in live:
                result = self._poll(proc, recv, started)
                if result is None:
                    still.append((task, proc, recv, started))
                else:
                    recv.close()
                    on_done(task, result)
            live = still
            if live:
                time.sleep(0.002)

    def _poll(self, proc: Any, recv: Any, started: float) -> dict[str, Any] | None:
        if recv.poll():
            try:
                result = recv.recv()
            except EOFError:
                result = None
            if result is not None:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                return result  # type: ignore[no-any-return]
        if proc.exitcode is not None or not proc.is_alive():
            proc.join()
            if recv.poll():
                try:
                    return recv.recv()  # type: ignore[no-any-return]
                except EOFError:
                    pass
            code = proc.exitcode
            elapsed = time.perf_counter() - started
            if code is not None and code < 0:
                name = signal.Signals(-code).name
                return {
                    "found": True,
                    "kind": "crash",
                    "runs": 0,
                    "seconds": elapsed,
                    "detail": f"child killed by {name}",
                }
            return {
                "found": False,
                "kind": "error",
                "runs": 0,
                "seconds": elapsed,
                "detail": f"child exited with status {code} without a result",
            }
        if time.perf_counter() - started > self.hard_timeout:
            proc.kill()
            proc.join()
            return {
                "found": False,
                "kind": "timeout",
                "runs": 0,
                "seconds": time.perf_counter() - started,
                "detail": f"killed after the hard timeout of {self.hard_timeout:.0f}s",
            }
        return None


# ----------------------------------------------------------------- aggregation


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.inf


def aggregate(sc: Scenario, tool: str, side: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds; a seed that did not find the failure counts as infinitely slow."""
    failed = [r for r in rows if r["found"]]
    times = [r["seconds"] if r["found"] else math.inf for r in rows]
    runs = [float(r["runs"]) if r["found"] else math.inf for r in rows]
    kinds = sorted({r["kind"] for r in failed})
    problems = sorted({r["kind"] for r in rows if r["kind"] in ("error", "timeout")})
    return {
        "scenario": sc.name,
        "side": side,
        "tool": tool,
        "seeds": len(rows),
        "found": len(failed),
        "kinds": kinds,
        "problems": problems,
        "median_seconds": _median(times),
        "median_runs": _median(runs),
        "total_runs": sum(r["runs"] for r in rows),
        "details": sorted({r["detail"][:160] for r in rows if r.get("detail")})[:3],
    }


def _fmt_time(s: float) -> str:
    if math.isinf(s):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _fmt_runs(r: float) -> str:
    return "—" if math.isinf(r) else (f"{r:.0f}" if r == int(r) else f"{r:.1f}")


def _fmt_ratio(x: float) -> str:
    if x >= 10:
        return f"x{x:.0f}"
    if x >= 0.1:
        return f"x{x:.2f}"
    return f"x{x:.3f}" if x >= 0.001 else f"x{x:.1e}"


def cell(agg: dict[str, Any] | None, expect: str, plain: dict[str, Any] | None) -> str:
    if agg is None:
        return "n/a"
    if agg["problems"] and not agg["found"]:
        return "/".join(agg["problems"])
    if math.isinf(agg["median_seconds"]):
        text = "not found" + (f" ({agg['found']}/{agg['seeds']})" if agg["found"] else "")
        return text + (f" [{'/'.join(agg['problems'])}]" if agg["problems"] else "")
    text = f"{_fmt_runs(agg['median_runs'])} · {_fmt_time(agg['median_seconds'])}"
    if agg["found"] < agg["seeds"]:
        text += f" ({agg['found']}/{agg['seeds']})"
    odd = [k for k in agg["kinds"] if k != expect and not (k == "hang" and expect == "deadlock")]
    if odd:
        text += f" [{'/'.join(odd)}]"
    if plain is not None and agg["tool"] != "plain" and not math.isinf(plain["median_seconds"]):
        text += f" {_fmt_ratio(agg['median_seconds'] / plain['median_seconds'])}"
    return text


def _gmean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


def summarize(
    scenarios: list[Scenario], tools: list[str], aggs: dict[tuple[str, str, str], dict[str, Any]]
) -> dict[str, Any]:
    """Per tool: racy sides found (median finite), median/worst time, false alarms."""
    racy = [sc for sc in scenarios if sc.racy is not None]
    per_tool: dict[str, Any] = {}
    for tool in tools:
        rows = [aggs.get((sc.name, "racy", tool)) for sc in racy]
        rows = [r for r in rows if r is not None]
        found = [r for r in rows if not math.isinf(r["median_seconds"])]
        times = [r["median_seconds"] for r in found]
        runs = [r["median_runs"] for r in found]
        worst = max(found, key=lambda r: r["median_seconds"], default=None)
        most_runs = sorted(found, key=lambda r: -r["median_runs"])[:3]
        fixed = [aggs.get((sc.name, "fixed", tool)) for sc in scenarios]
        alarms = [r for r in fixed if r is not None and r["found"]]
        per_tool[tool] = {
            "racy_measured": len(rows),
            "racy_found": len(found),
            "not_found": [r["scenario"] for r in rows if math.isinf(r["median_seconds"])],
            "median_seconds": statistics.median(times) if times else None,
            "median_runs": statistics.median(runs) if runs else None,
            "worst_seconds": worst["median_seconds"] if worst else None,
            "worst_scenario": worst["scenario"] if worst else None,
            "most_runs": [(r["scenario"], r["median_runs"]) for r in most_runs],
            "fixed_measured": len([r for r in fixed if r is not None]),
            "false_alarms": [
                (r["scenario"], r["kinds"], f"{r['found']}/{r['seeds']}") for r in alarms
            ],
        }
    # Ratios of each racecheck strategy to each alternative on scenarios both found.
    ratios: dict[str, dict[str, Any]] = {}
    for rc in [t for t in tools if t in RC_TOOLS]:
        for other in [t for t in tools if t not in RC_TOOLS]:
            both, both_runs, only_rc, only_other = [], [], 0, 0
            for sc in racy:
                a, b = aggs.get((sc.name, "racy", rc)), aggs.get((sc.name, "racy", other))
                if a is None or b is None:
                    continue
                fa, fb = not math.isinf(a["median_seconds"]), not math.isinf(b["median_seconds"])
                if fa and fb:
                    both.append(a["median_seconds"] / b["median_seconds"])
                    both_runs.append(a["median_runs"] / b["median_runs"])
                only_rc += fa and not fb
                only_other += fb and not fa
            ratios[f"{rc}/{other}"] = {
                "both_found": len(both),
                "geomean_time_ratio": _gmean(both) if both else None,
                "median_time_ratio": statistics.median(both) if both else None,
                "geomean_runs_ratio": _gmean(both_runs) if both_runs else None,
                "found_only_by_racecheck": only_rc,
                "found_only_by_other": only_other,
            }
    return {"tools": per_tool, "ratios": ratios}


TOOL_TITLES = {
    "plain": "plain threads",
    "barrier": "Barrier + switchinterval",
    "sleep": "sleep injection",
    "rc-random": "racecheck random",
    "rc-pct": "racecheck pct",
    "rc-portfolio": "racecheck portfolio",
    "rc-dpor": "racecheck dpor",
    "rc-auto": "racecheck auto",
    "fr-random": "frontrun random",
    "fr-dpor": "frontrun DPOR",
}


def markdown(
    meta: dict[str, Any],
    scenarios: list[Scenario],
    tools: list[str],
    aggs: dict[tuple[str, str, str], dict[str, Any]],
    summary: dict[str, Any],
    not_run: dict[str, str],
) -> str:
    b = meta["budget"]
    lines = [
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['cpu']} ({meta['cores']} cores), {meta['os']}; Python {meta['python']}; "
        f"racecheck {meta['racecheck']}"
        + (f"; frontrun {meta['frontrun']}" if meta.get("frontrun") else "")
        + "  ",
        f"Budget per measurement: {b['runs']} runs or {b['seconds']:g} s; "
        f"thread join timeout {b['join_timeout']:g} s; seeds {meta['seeds']} "
        f"(fixed sides: {meta['fixed_seeds']}); jobs {meta['jobs']}; "
        f"wall time {meta['wall_seconds']:.0f} s",
        "",
        "Racy sides: median over seeds of runs · wall time to the first failure "
        '("k/N": only k of N seeds found it; "[kind]": reported as something other than '
        'the expected verdict; "xr": ratio of the median time to plain threads\'). '
        "False alarms: tools that ever failed the fixed/correct side.",
        "",
    ]
    head = ["scenario", "category"] + [TOOL_TITLES[t] for t in tools] + ["false alarms"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for sc in scenarios:
        plain = aggs.get((sc.name, "racy", "plain"))
        row = [f"`{sc.name.removeprefix('s_')}`", sc.category]
        for t in tools:
            row.append(
                cell(aggs.get((sc.name, "racy", t)), sc.expect, plain)
                if sc.racy is not None
                else ""
            )
        alarms = []
        for t in tools:
            a = aggs.get((sc.name, "fixed", t))
            if a is not None and (a["found"] or a["problems"]):
                what = "/".join(a["kinds"] + a["problems"])
                alarms.append(f"{t} {a['found']}/{a['seeds']} {what}")
        row.append("; ".join(alarms) or "none")
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "| tool | racy sides found (median) | median runs | median time "
        "| worst time (scenario) | most runs | false alarms |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tools:
        s = summary["tools"][t]
        med = _fmt_time(s["median_seconds"]) if s["median_seconds"] is not None else "—"
        worst = (
            f"{_fmt_time(s['worst_seconds'])} ({s['worst_scenario'].removeprefix('s_')})"
            if s["worst_seconds"] is not None
            else "—"
        )
        most = ", ".join(f"{n.removeprefix('s_')} {_fmt_runs(r)}" for n, r in s["most_runs"])
        fa = "; ".join(f"{n.removeprefix('s_')} {'/'.join(k)} {c}" for n, k, c in s["false_alarms"])
        mruns = _fmt_runs(s["median_runs"]) if s["median_runs"] is not None else "—"
        lines.append(
            f"| {TOOL_TITLES[t]} | {s['racy_found']}/{s['racy_measured']} | {mruns} | {med} | "
            f"{worst} | {most} | {len(s['false_alarms'])}/{s['fixed_measured']}"
            + (f" ({fa})" if fa else "")
            + " |"
        )
    if summary["ratios"]:
        lines += [
            "",
            "Ratios over the scenarios both found (racecheck ÷ the other; below 1: "
            "racecheck faster or fewer runs).",
            "",
            "| racecheck vs | both found | time ratio (geomean) | time ratio (median) "
            "| runs ratio (geomean) | found only by racecheck | found only by the other |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, r in summary["ratios"].items():
            g = _fmt_ratio(r["geomean_time_ratio"]) if r["geomean_time_ratio"] else "—"
            m = _fmt_ratio(r["median_time_ratio"]) if r["median_time_ratio"] else "—"
            rr = _fmt_ratio(r["geomean_runs_ratio"]) if r["geomean_runs_ratio"] else "—"
            rc, other = key.split("/")
            lines.append(
                f"| {TOOL_TITLES[rc]} vs {TOOL_TITLES[other]} | {r['both_found']} | "
                f"{g} | {m} | {rr} | {r['found_only_by_racecheck']} | "
                f"{r['found_only_by_other']} |"
            )
    for tool, why in not_run.items():
        lines.append(f"\n{TOOL_TITLES.get(tool, tool)}: not run: {why}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- main


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown CPU"


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and math.isinf(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _warm_up() -> None:
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, 6 scenarios, small budgets (under a minute)"
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds per measurement (5)")
    parser.add_argument(
        "--fixed-seeds",
        type=int,
        default=None,
        help="seeds for the fixed sides (2; quick: --seeds)",
    )
    parser.add_argument(
        "--budget-seconds", type=float, default=None, help="seconds per measurement (2; quick 0.5)"
    )
    parser.add_argument(
        "--budget-runs",
        type=int,
        default=None,
        help="runs/schedules per measurement (1000; quick 200)",
    )
    parser.add_argument(
        "--join-timeout",
        type=float,
        default=None,
        help="harness join timeout = hang, seconds (2; quick 0.5)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        help="scenario names (with or without the s_ prefix)",
    )
    parser.add_argument(
        "--tools",
        nargs="+",
        default=None,
        choices=ALL_TOOLS,
        metavar="TOOL",
        help=f"subset of {', '.join(ALL_TOOLS)}",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="measurements run at once (min(2, cores); 1: no interference)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="directory for latest.md and latest.json",
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="only rebuild the report from an earlier run's latest.json",
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        return render_only(args.render, args.out)

    seeds = args.seeds or (2 if args.quick else 5)
    fixed_seeds = args.fixed_seeds or (seeds if args.quick else min(2, seeds))
    budget = Budget(
        runs=args.budget_runs or (200 if args.quick else 1000),
        seconds=args.budget_seconds or (0.5 if args.quick else 2.0),
        join_timeout=args.join_timeout or (0.5 if args.quick else 2.0),
    )
    hard_timeout = 3 * budget.seconds + 3 * budget.join_timeout + 4 * WATCHDOG + 20

    everything = load_all()
    # One exploration before forking, as in a test session where the first
    # exploration pays for scanning the loaded modules and later ones reuse it
    # (_core/patching.py); every child inherits the warm cache.
    racecheck.explore([_warm_up], schedules=1, seed=0)
    if args.only:
        wanted = {n if n.startswith("s_") else f"s_{n}" for n in args.only}
        unknown = wanted - {s.name for s in everything}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        scenarios = [s for s in everything if s.name in wanted]
    elif args.quick:
        scenarios = [s for s in everything if s.name in QUICK_SCENARIOS]
    else:
        scenarios = everything
    skipped = {s.name: s.missing() for s in scenarios if s.missing()}
    scenarios = [s for s in scenarios if s.name not in skipped]

    tools = list(args.tools or ALL_TOOLS)
    not_run: dict[str, str] = {}
    fr_version = None
    if any(t in FR_TOOLS for t in tools):
        if importlib.util.find_spec("frontrun") is None:
            for t in FR_TOOLS:
                if t in tools:
                    not_run[t] = "frontrun is not installed (pip install frontrun)"
            tools = [t for t in tools if t not in FR_TOOLS]
        else:
            from importlib.metadata import version

            # Not imported here: every child would inherit its modules, and
            # racecheck's per-exploration patching scans all loaded modules.
            fr_version = version("frontrun")

    tasks: list[Task] = []
    for sc in scenarios:
        for side, n in (("racy", seeds), ("fixed", fixed_seeds)):
            if side == "racy" and sc.racy is None:
                continue
            for seed in range(n):
                for tool in tools:
                    if tool in SEED_INDEPENDENT and seed > 0:
                        continue
                    tasks.append(Task(sc.name, side, tool, seed))

    meta = {
        "command": " ".join(["python bench/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "racecheck": racecheck.__version__,
        "frontrun": fr_version,
        "seeds": seeds,
        "fixed_seeds": fixed_seeds,
        "jobs": args.jobs,
        "budget": {
            "runs": budget.runs,
            "seconds": budget.seconds,
            "join_timeout": budget.join_timeout,
        },
        "hard_timeout": hard_timeout,
        "p_sleep": P_SLEEP,
        "max_sleep": MAX_SLEEP,
        "watchdog": WATCHDOG,
        "tools": tools,
        "not_run": not_run,
        "skipped_scenarios": {k: list(v) for k, v in skipped.items()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name, missing in skipped.items():
        print(f"skipped {name}: not installed: {', '.join(missing)}", file=sys.stderr)
    for tool, why in not_run.items():
        print(f"{tool}: not run: {why}", file=sys.stderr)
    print(
        f"{len(tasks)} measurements: {len(scenarios)} scenarios x {len(tools)} tools, "
        f"seeds {seeds}/{fixed_seeds}, budget {budget.runs} runs / {budget.seconds:g} s, "
        f"jobs {args.jobs}",
        file=sys.stderr,
        flush=True,
    )

    raw: list[dict[str, Any]] = []
    started = time.perf_counter()

    def on_done(task: Task, result: dict[str, Any]) -> None:
        row = {
            "scenario": task.scenario,
            "side": task.side,
            "tool": task.tool,
            "seed": task.seed,
            **result,
        }
        raw.append(row)
        what = (
            f"{result['kind']} at run {result['runs']}"
            if result["found"]
            else f"{result['kind'] or 'nothing'} in {result['runs']} runs"
        )
        print(
            f"[{len(raw)}/{len(tasks)} {time.perf_counter() - started:5.0f}s] "
            f"{task.scenario} {task.side} {task.tool} seed={task.seed}: {what} "
            f"({_fmt_time(result['seconds'])})",
            file=sys.stderr,
            flush=True,
        )

    by_name = {s.name: s for s in scenarios}
    Runner(by_name, budget, max(1, args.jobs), hard_timeout).run(tasks, on_done)
    meta["wall_seconds"] = time.perf_counter() - started
    write_report(meta, scenarios, tools, raw, not_run, args.out)
    return 0


def write_report(
    meta: dict[str, Any],
    scenarios: list[Scenario],
    tools: list[str],
    raw: list[dict[str, Any]],
    not_run: dict[str, str],
    out: Path,
) -> None:
    aggs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for sc in scenarios:
        for side in ("racy", "fixed"):
            for tool in tools:
                rows = [
                    r
                    for r in raw
                    if r["scenario"] == sc.name and r["side"] == side and r["tool"] == tool
                ]
                if rows:
                    aggs[(sc.name, side, tool)] = aggregate(sc, tool, side, rows)
    summary = summarize(scenarios, tools, aggs)
    md = markdown(meta, scenarios, tools, aggs, summary, not_run)

    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(md)
    payload = {
        "meta": meta,
        "scenarios": {
            sc.name: {"category": sc.category, "expect": sc.expect, "has_racy": sc.racy is not None}
            for sc in scenarios
        },
        "aggregates": list(aggs.values()),
        "summary": summary,
        "measurements": raw,
    }
    (out / "latest.json").write_text(json.dumps(_json_safe(payload), indent=1) + "\n")
    print(md)
    print(
        f"wrote {out / 'latest.md'} and {out / 'latest.json'} in {meta['wall_seconds']:.0f}s",
        file=sys.stderr,
    )


def render_only(path: Path, out: Path) -> int:
    """Rebuild latest.md / latest.json from the measurements of an earlier run."""
    payload = json.loads(path.read_text())
    meta = payload["meta"]
    scenarios = [s for s in load_all() if s.name in payload["scenarios"]]
    write_report(
        meta,
        scenarios,
        list(meta["tools"]),
        payload["measurements"],
        dict(meta.get("not_run") or {}),
        out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
