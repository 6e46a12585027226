#!/usr/bin/env python3
"""How much slower code runs under racecheck's controlled scheduler, on this interpreter.

    python bench/overhead.py              # the full run (15-35 s, depending on the version)
    python bench/overhead.py --markdown   # the same, tables in Markdown (docs/benchmarks.md)
    python bench/overhead.py --quick      # tiny sizes, 2 repeats: a smoke test, numbers meaningless

It works from a checkout without installing: ``src/`` is put first on sys.path.
``bench/run_overhead_all.sh`` runs it under every pyenv CPython 3.10-3.13.

Three measurements, each the median of ``--repeats`` repeats (default 7), with
the plain baseline measured in the same process, interleaved with the
controlled runs, with ``time.perf_counter``:

1. **Cost of one scheduling point.**  A loop of N attribute reads (``o.x`` in a
   ``while`` loop on locals: exactly one point per iteration) run by one managed
   thread through ``racecheck.explore([body], schedules=R)``, against the same
   loop called plainly.  ns per point is the slope between N and 0 iterations,
   so thread start-up and the per-schedule bookkeeping cancel out::

       ((controlled(N) - controlled(0)) - (plain(N) - plain(0))) / (points(N) - points(0))

   The same loop in two managed threads is then run under a strategy that never
   preempts (half the points are choices, none a switch), one that switches at
   every choice, and the uniform random walk, which splits the cost into a
   point, a choice and a switch.  A raw lock ping-pong between two plain
   threads gives the floor of a switch (a baton pass is two such locks).
2. **CPU-bound body**, two threads: a pure-Python loop doing arithmetic on
   locals, with an attribute read up front and a module-global read in a
   quarter of the iterations; the ratio of one controlled schedule to the same
   two bodies run in two plain threads.
3. **Lock-heavy body**, two threads each doing K ``with lock: counter.n += 1``.

2 and 3 run under the random walk, PCT, the portfolio (timed over one whole
rotation of its four members), the default ``auto`` (timed over two
rotations: on these bodies its first schedule is a ``dpor`` one, which finds
the test too large to prove, and it samples with the portfolio from then on)
and the never-preempting strategy, the floor no real strategy goes below.

Every row is timed over the schedules *after* an exploration's first one,
which is not a steady state: it is timed for ``Result.c_share`` on 3.10, 3.11
and 3.13 (every point reads the thread's CPU clock), and it is the ``dpor``
schedule under ``auto``.  What that first schedule costs is printed apart.

"points" is the number of scheduling points the execution itself counted
(``Execution.steps``), read through a wrapper around ``runner.run_one`` in an
extra untimed exploration with the same seed (so the same schedules); the
static count from ``racecheck._core.instrument.analyse`` is printed next to it
as a cross-check.  A controlled schedule is timed from the runner's side of
``run_one`` (setup, spawning the managed threads, running, joining); the
per-``explore()`` cost (patching, instrumentation) is reported separately.
The machine should be otherwise idle: switches cost what the OS makes a thread
handoff cost, and that moves with load and with CPU placement.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, "src"))

import racecheck  # noqa: E402
from racecheck._core import execution, instrument, runner  # noqa: E402
from racecheck.strategies.base import Strategy  # noqa: E402

SEED = 12345
MAX_STEPS = 10**9  # the bodies are long on purpose; the default step limit would stop them

# ------------------------------------------------------------------ workloads


class Obj:
    x = 1


class Counter:
    n = 0


class State:
    """What setup() returns: everything a body touches, reached through attributes."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.o = Obj()
        self.seed = 7
        self.out: list[int] = []
        self.lock = threading.Lock()  # a cooperative lock when made inside an exploration
        self.counter = Counter()


def attr_reads(o: Any, n: int) -> None:
    """One scheduling point per iteration: the LOAD_ATTR (the rest is on locals)."""
    i = 0
    while i < n:
        o.x  # noqa: B018 - the read is the point
        i += 1


def reads_thread(s: State) -> None:
    attr_reads(s.o, s.n)


MOD = 1_000_003  # a module global holding an int: reading it is a scheduling point


def cpu_work(s: State, n: int) -> int:
    """Arithmetic on locals; FOR_ITER is a point, and a global read every 4th iteration."""
    seed = s.seed
    acc = 0
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        acc += (seed >> 7) % 251 - (i & 15)
        if seed & 3 == 0:
            acc = (acc * 31 + i) % MOD
    return acc


def cpu_thread(s: State) -> None:
    s.out.append(cpu_work(s, s.n))


def lock_thread(s: State) -> None:
    lock = s.lock
    counter = s.counter
    for _ in range(s.n):
        with lock:
            counter.n += 1


def lock_ok(s: State) -> bool:
    return s.counter.n == 2 * s.n


class NeverPreempt(Strategy):
    """Every choice keeps the running thread: the cost of choosing without switching."""

    name = "never-preempt"

    def begin(self, index: int) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        return current if current in options else options[0]


class AlwaysSwitch(Strategy):
    """Every choice hands the baton to the next thread: the cost of a switch."""

    name = "always-switch"

    def begin(self, index: int) -> bool:
        return True

    def choose(self, options: Sequence[int], current: int) -> int:
        for tid in options:
            if tid > current:
                return tid
        return options[0]


# ------------------------------------------------------------------ measuring


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


class Counts:
    def __init__(self, steps: float, choices: float, switches: float) -> None:
        self.steps, self.choices, self.switches = steps, choices, switches


def count(
    threads: Sequence[Callable[[State], None]],
    n: int,
    schedules: int,
    strategy: Strategy | str | None = None,
    check: Callable[[State], object] | None = None,
    skip: int = 1,
) -> Counts:
    """Untimed: the points, choices and preemptive switches per schedule, as the execution
    counts them, over ``schedules`` schedules after the first ``skip`` (see controlled)."""
    per: list[tuple[int, int]] = []
    switches = [0]
    switches_at: list[int] = []
    orig_run_one = runner.run_one
    orig_switch = execution.Execution._switch

    def run_one(*args: Any, **kwargs: Any) -> Any:
        switches_at.append(switches[0])
        out = orig_run_one(*args, **kwargs)
        per.append((out.steps, len(out.choices)))
        return out

    def switch(*args: Any, **kwargs: Any) -> Any:
        switches[0] += 1
        return orig_switch(*args, **kwargs)

    runner.run_one = run_one
    execution.Execution._switch = switch  # type: ignore[method-assign]
    try:
        res = racecheck.explore(
            list(threads),
            setup=lambda: State(n),
            seed=SEED,
            strategy=strategy,
            max_steps=MAX_STEPS,
            invariant=check,
            isolate=False,  # counted here, in this process
            schedules=schedules + skip,
        )
    finally:
        runner.run_one = orig_run_one
        execution.Execution._switch = orig_switch  # type: ignore[method-assign]
    if not res.ok:
        raise SystemExit(f"benchmark body failed under racecheck: {res.failure}")
    per = per[skip:]
    k = len(per)
    return Counts(sum(p[0] for p in per) / k, sum(p[1] for p in per) / k,
                  (switches[0] - switches_at[skip]) / k)


def controlled(
    threads: Sequence[Callable[[State], None]],
    n: int,
    schedules: int,
    strategy: Strategy | str | None = None,
    skip: int = 1,
) -> tuple[float, float, float]:
    """One explore() of ``skip + schedules`` schedules: (seconds per schedule over the
    last ``schedules``, seconds outside schedules, seconds of the first schedule).

    The first schedule of every exploration is not a steady state: on 3.10, 3.11
    and 3.13 it is timed for ``Result.c_share`` (every point reads the thread's CPU
    clock), and under ``auto`` it is a ``dpor`` schedule, which logs every step's
    effects.  Its cost is the third value, reported apart."""
    spent: list[float] = []
    orig_run_one = runner.run_one

    def run_one(*args: Any, **kwargs: Any) -> Any:
        # time.perf_counter is racecheck's virtual clock only inside managed threads;
        # this is the runner thread, so it reads real time.
        t0 = time.perf_counter()
        out = orig_run_one(*args, **kwargs)
        spent.append(time.perf_counter() - t0)
        return out

    runner.run_one = run_one
    try:
        t0 = time.perf_counter()
        res = racecheck.explore(
            list(threads),
            setup=lambda: State(n),
            seed=SEED,
            strategy=strategy,
            max_steps=MAX_STEPS,
            isolate=False,  # run_one is timed here, in this process (children are timed apart)
            schedules=schedules + skip,
        )
        total = time.perf_counter() - t0
    finally:
        runner.run_one = orig_run_one
    if not res.ok:
        raise SystemExit(f"benchmark body failed under racecheck: {res.failure}")
    return sum(spent[skip:]) / len(spent[skip:]), total - sum(spent), spent[0]


def plain_call(body: Callable[[State], None], n: int, runs: int) -> float:
    """The body called directly in this thread: seconds per call."""
    states = [State(n) for _ in range(runs)]
    t0 = time.perf_counter()
    for s in states:
        body(s)
    return (time.perf_counter() - t0) / runs


def plain_threads(threads: Sequence[Callable[[State], None]], n: int, runs: int) -> float:
    """The bodies in real threads, as a test without racecheck runs them: seconds per run."""
    total = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        s = State(n)
        ts = [threading.Thread(target=b, args=(s,)) for b in threads]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        total += time.perf_counter() - t0
    return total / runs


def lock_pingpong(rounds: int) -> float:
    """Seconds per handoff between two OS threads through two raw locks (a baton switch's floor)."""
    import _thread

    a = _thread.allocate_lock()
    b = _thread.allocate_lock()
    a.acquire()
    b.acquire()
    done = _thread.allocate_lock()
    done.acquire()

    def other() -> None:
        for _ in range(rounds):
            a.acquire()
            b.release()
        done.release()

    _thread.start_new_thread(other, ())
    t0 = time.perf_counter()
    for _ in range(rounds):
        a.release()
        b.acquire()
    elapsed = time.perf_counter() - t0
    done.acquire()
    return elapsed / (2 * rounds)


def static_points(fn: Callable[..., object]) -> int:
    code = fn.__code__
    return len(instrument.analyse(code, fn.__globals__))


# --------------------------------------------------------------------- report


def checkout() -> str:
    """The commit measured, best effort ("+dirty" when src/ has uncommitted changes)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", _ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", _ROOT, "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    return f"commit {head}{'+dirty' if dirty else ''}" if head else "unknown commit"


def backend_name() -> str:
    return "sys.monitoring" if hasattr(sys, "monitoring") else "sys.settrace"


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1e3:.2f} ms"


def print_text(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        print("   " + "  ".join(cells))


def print_markdown(rows: list[list[str]]) -> None:
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(rows[0]) - 1)) + "|")
    for r in rows[1:]:
        print("| " + " | ".join(r) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and 2 repeats (smoke test)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (7)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 7)
    if args.quick:
        n_point, n_point2, n_cpu, n_lock, sched, runs = 2_000, 300, 500, 50, 2, 3
    else:
        n_point, n_point2, n_cpu, n_lock, sched, runs = 20_000, 2_000, 6_000, 1_000, 2, 5
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()

    # Warm up: imports, code caches, specialisation, instrumentation analysis.
    plain_call(reads_thread, n_point, 2)
    controlled([reads_thread, reads_thread], 10, 1, "random")

    # ---- 1. one scheduling point
    one = [reads_thread]
    two = [reads_thread, reads_thread]
    never, always = NeverPreempt(), AlwaysSwitch()
    c1n, c1z = count(one, n_point, 1, "random"), count(one, 0, 1, "random")
    c2sn, c2sz = count(two, n_point2, sched, never), count(two, 0, sched, never)
    c2an, c2az = count(two, n_point2, sched, always), count(two, 0, sched, always)
    c2rn, c2rz = count(two, n_point2, sched, "random"), count(two, 0, sched, "random")

    pts: dict[str, list[float]] = {
        k: []
        for k in (
            "p1n",
            "p1z",
            "c1n",
            "c1z",
            "p2n",
            "p2z",
            "c2sn",
            "c2sz",
            "c2an",
            "c2az",
            "c2rn",
            "c2rz",
            "fixed",
        )
    }
    for _ in range(repeats):
        pts["p1n"].append(plain_call(reads_thread, n_point, runs))
        pts["p1z"].append(plain_call(reads_thread, 0, runs))
        c, fixed, _ = controlled(one, n_point, sched, "random")
        pts["c1n"].append(c)
        pts["fixed"].append(fixed)
        pts["c1z"].append(controlled(one, 0, sched, "random")[0])
        pts["p2n"].append(2 * plain_call(reads_thread, n_point2, runs))
        pts["p2z"].append(2 * plain_call(reads_thread, 0, runs))
        pts["c2sn"].append(controlled(two, n_point2, sched, never)[0])
        pts["c2sz"].append(controlled(two, 0, sched, never)[0])
        pts["c2an"].append(controlled(two, n_point2, sched, always)[0])
        pts["c2az"].append(controlled(two, 0, sched, always)[0])
        pts["c2rn"].append(controlled(two, n_point2, sched, "random")[0])
        pts["c2rz"].append(controlled(two, 0, sched, "random")[0])
    m = {k: _median(v) for k, v in pts.items()}
    handoff = _median([lock_pingpong(2_000 if not args.quick else 200) for _ in range(repeats)])

    def per_point(
        cn: str, cz: str, pn: str, pz: str, counts_n: Counts, counts_z: Counts
    ) -> tuple[float, float, float]:
        dpts = counts_n.steps - counts_z.steps
        controlled_ns = (m[cn] - m[cz]) / dpts * 1e9
        plain_ns = (m[pn] - m[pz]) / dpts * 1e9
        return controlled_ns, plain_ns, controlled_ns - plain_ns

    rows1 = [
        ("1 thread (no choice)", c1n, c1z, per_point("c1n", "c1z", "p1n", "p1z", c1n, c1z)),
        (
            "2 threads, never preempt",
            c2sn,
            c2sz,
            per_point("c2sn", "c2sz", "p2n", "p2z", c2sn, c2sz),
        ),
        (
            "2 threads, always switch",
            c2an,
            c2az,
            per_point("c2an", "c2az", "p2n", "p2z", c2an, c2az),
        ),
        ("2 threads, random walk", c2rn, c2rz, per_point("c2rn", "c2rz", "p2n", "p2z", c2rn, c2rz)),
    ]

    # Split the added time into: every point, + each choice, + each switch (in ns).
    def added_total(cn: str, cz: str) -> float:
        return ((m[cn] - m[cz]) - (m["p2n"] - m["p2z"])) * 1e9

    point_ns = rows1[0][3][2]
    never_choices = c2sn.choices - c2sz.choices
    choice_ns = (added_total("c2sn", "c2sz") - (c2sn.steps - c2sz.steps) * point_ns) / never_choices
    switch_ns = (
        added_total("c2an", "c2az")
        - (c2an.steps - c2az.steps) * point_ns
        - (c2an.choices - c2az.choices) * choice_ns
    ) / (c2an.switches - c2az.switches)

    # ---- 2./3. ratios to plain execution
    # Each strategy on each workload.  The portfolio rotates random, PCT(2), the
    # sticky random walk, PCT(3) per schedule, so it is timed over one whole rotation.
    # The default, auto, runs one dpor schedule on these bodies, finds it too large
    # to prove (auto.STEP_LIMIT) and samples with the portfolio from then on: it is
    # timed over the two rotations after that first schedule.
    strategies: list[tuple[str, Strategy | str, int]] = [
        ("random walk", "random", sched),
        ("PCT", "pct", sched),
        ("portfolio", "portfolio", 4),
        ("default (auto)", "auto", 8),
        ("never preempt (floor)", never, sched),
    ]
    bodies_of = {
        "cpu-bound": ([cpu_thread, cpu_thread], n_cpu, None),
        "lock-heavy": ([lock_thread, lock_thread], n_lock, lock_ok),
    }
    rows2 = []
    firsts: dict[tuple[str, str], list[float]] = {}
    for wname, (bodies, n, check) in bodies_of.items():
        for sname, strat, schedules in strategies:
            counts = count(bodies, n, schedules, strat, check)
            plain, ctl = [], []
            for _ in range(repeats):
                plain.append(plain_threads(bodies, n, runs))
                per, _, first = controlled(bodies, n, schedules, strat)
                ctl.append(per)
                firsts.setdefault((wname, sname), []).append(first)
            rows2.append((f"{wname}, {sname}", n, _median(plain), _median(ctl), counts))

    elapsed = time.perf_counter() - started

    # ---- print
    impl = platform.python_implementation()
    head = (
        f"racecheck {racecheck.__version__} scheduling overhead: {impl} "
        f"{platform.python_version()} ({backend_name()} backend), {os.cpu_count()} CPUs, "
        f"{platform.machine()}, {checkout()}"
    )
    method = (
        f"median of {repeats} repeats; {sched} schedules per explore(); plain baseline: "
        f"{runs} runs per repeat{' [--quick]' if args.quick else ''}; "
        f"1-min load average before the run {load_before:.2f}"
    )
    table1 = [
        ["", "points/sched", "choices", "switches", "plain ns/it", "ctl ns/pt", "added ns/pt"]
    ]
    for label, cn, _cz, (ctl_ns, plain_ns, added) in rows1:
        table1.append(
            [
                label,
                f"{cn.steps:.0f}",
                f"{cn.choices:.0f}",
                f"{cn.switches:.0f}",
                f"{plain_ns:.1f}",
                f"{ctl_ns:.0f}",
                f"{added:.0f}",
            ]
        )
    notes1 = [
        f"breakdown: a point {point_ns:.0f} ns, + a choice {choice_ns:.0f} ns, + a switch "
        f"{switch_ns:.0f} ns; raw lock handoff between two OS threads {handoff * 1e9:.0f} ns "
        "(the floor of a switch)",
        f"empty schedule (setup + spawn + join): 1 thread {fmt_time(m['c1z'])}, 2 threads "
        f"{fmt_time(m['c2rz'])}; explore() fixed cost (patching, instrumentation): "
        f"{fmt_time(m['fixed'])}",
    ]
    plain_cpu = next(p for label, _n, p, _c, _k in rows2 if label.startswith("cpu-bound"))
    first_auto = _median(firsts[("cpu-bound", "default (auto)")])
    first_random = _median(firsts[("cpu-bound", "random walk")])
    notes2 = [
        f"an exploration's first schedule, cpu-bound body: {fmt_time(first_auto)} "
        f"({first_auto / plain_cpu:.0f}x) under auto (a dpor schedule), "
        f"{fmt_time(first_random)} ({first_random / plain_cpu:.0f}x) under the random walk "
        f"({'timed for c_share' if runner.TIMING_WORKS else 'not timed on this version'})",
    ]
    table2 = [
        ["", "iters/thread", "plain", "controlled", "ratio", "points/sched", "switches/sched"]
    ]
    for label, n, p, c, counts in rows2:
        table2.append(
            [
                label,
                f"{n}",
                fmt_time(p),
                fmt_time(c),
                f"{c / p:.1f}x",
                f"{counts.steps:.0f}",
                f"{counts.switches:.0f}",
            ]
        )
    title1 = (
        f"1. cost of one scheduling point (loop of attribute reads, "
        f"{static_points(attr_reads)} static point per iteration)"
    )
    title2 = "2./3. one controlled schedule vs the same bodies in two plain threads"
    if args.markdown:
        print(f"{head}  \n{method}\n")
        print(f"{title1}:\n")
        print_markdown(table1)
        print()
        for note in notes1:
            print(f"- {note}")
        print(f"\n{title2}:\n")
        print_markdown(table2)
        print()
        for note in notes2:
            print(f"- {note}")
        print(f"\ntotal benchmark time {elapsed:.1f} s")
    else:
        print(head)
        print(method)
        print()
        print(title1)
        print_text(table1)
        for note in notes1:
            print(f"   {note}")
        print()
        print(title2)
        print_text(table2)
        for note in notes2:
            print(f"   {note}")
        print()
        print(f"total benchmark time {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
