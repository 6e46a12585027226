"""bench/run.py end to end, on two scenarios with tiny budgets (a few seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_run_quick_finds_the_race_and_raises_no_false_alarm(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--seeds",
            "1",
            "--only",
            "s_db_value_sleep",
            "s_ok_list_append",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 30
    assert "s_db_value_sleep racy rc-portfolio" in proc.stderr  # progress lines
    assert (tmp_path / "latest.md").read_text().count("db_value_sleep") >= 1

    data = json.loads((tmp_path / "latest.json").read_text())
    rows = data["measurements"]
    racy = [
        r
        for r in rows
        if r["scenario"] == "s_db_value_sleep"
        and r["side"] == "racy"
        and r["tool"].startswith("rc-")
    ]
    assert {r["tool"] for r in racy} == {"rc-random", "rc-pct", "rc-portfolio", "rc-dpor",
                                         "rc-auto"}
    for r in racy:
        assert r["found"] and r["kind"] == "violation", r
        assert r["runs"] >= 1
    fixed = [r for r in rows if r["side"] == "fixed"]
    assert {r["scenario"] for r in fixed} == {"s_db_value_sleep", "s_ok_list_append"}
    correct = [r for r in fixed if r["scenario"] == "s_ok_list_append"]
    assert correct and all(r["tool"] for r in correct)
    for r in fixed:
        if r["tool"].startswith("rc-") or r["tool"] in ("plain", "barrier", "sleep"):
            assert not r["found"], r  # no false alarm


def test_overhead_quick_runs_and_reports_a_point_cost() -> None:
    """bench/overhead.py end to end at tiny sizes (it once divided by zero: its timing
    hooks ran in forked children and never came back)."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "overhead.py"), "--quick"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "a point" in proc.stdout and "ns" in proc.stdout
    # the default is timed apart from an exploration's first schedule, which is printed
    assert "default (auto)" in proc.stdout and "an exploration's first schedule" in proc.stdout


def test_shrinking_bench_runs_and_every_failure_comes_out_simpler() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "shrinking.py"), "--seeds", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.startswith("| ")]
    found = {r[1].strip(): float(r[2]) for r in rows if "(max" in r[3]}
    shrunk = {r[1].strip(): float(r[3].split()[0]) for r in rows if "(max" in r[3]}
    assert len(shrunk) == 4, proc.stdout
    assert all(shrunk[name] < found[name] for name in shrunk), proc.stdout
    assert all(shrunk[name] <= 1 for name in shrunk if "+= 1" in name), proc.stdout
    proofs = [r for r in rows if "exhaustive: every schedule with <= 2 preemptions" in r[4]]
    assert len(proofs) == 4, proc.stdout  # both lock forms, in-process and forked
