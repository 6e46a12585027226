"""Validate the corpus without racecheck.

    python -m bench.corpus._selfcheck [--runs 20] [--walks 200] [--only NAME ...]

1. Serial runs (required to pass).  For every permutation of a side's thread
   bodies, each body runs alone until it finishes or blocks, then the next one
   starts; the invariant must hold for every fixed side and every racy side.
   A body that blocks (``q.get()`` before anything was put, ``Event.wait()``)
   is waiting for a later body: after a grace period the next body starts and
   unblocks it.  The switch interval is raised to 1 s meanwhile, so a running
   body is never preempted; it only yields the GIL when it blocks or ends.
   That makes a serial run one of the interleavings any correct invariant must
   accept, and it is as close to "call the bodies one after the other" as
   bodies that hand work to each other allow.

2. Real threads (informational).  Each side runs ``--runs`` times on real
   threads with ``sys.setswitchinterval(1e-6)`` and a 5 s join timeout; the
   report says how often each side broke its invariant, crashed or hung.  A
   racy side is not required to fail here (the GIL rarely switches at the one
   bad point), but a fixed side that ever fails is an error in the corpus.

3. Random walks (informational for racy sides).  ``_interleave`` runs each
   side up to ``--walks`` times under a crude opcode-level random scheduler:
   a racy side stops at its first failure and the report says which walk
   found it (showing the bug is reachable at bytecode granularity); a fixed
   or correct side runs every walk and must never fail.

Exit status 0 when every serial run passed and no fixed or correct side
failed, on real threads or on a walk.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import load_all
from ._interleave import run_interleaved, seeds
from ._scenario import Scenario, Side

GRACE = 0.15  # seconds a body may be silent before it counts as blocked
JOIN_TIMEOUT = 5.0


@dataclass
class Outcome:
    verdict: str  # "ok", "violation", "crash", "hung", "setup error"
    detail: str = ""


@dataclass
class Tally:
    runs: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    first_detail: dict[str, str] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.runs += 1
        self.verdicts[outcome.verdict] += 1
        self.first_detail.setdefault(outcome.verdict, outcome.detail)

    @property
    def failures(self) -> int:
        return self.runs - self.verdicts["ok"]

    def describe(self) -> str:
        bad = ", ".join(f"{v} {n}" for v, n in sorted(self.verdicts.items()) if v != "ok")
        return f"{self.failures}/{self.runs}" + (f" ({bad})" if bad else "")


class _ThreadErrors:
    """Collects exceptions that escape thread bodies during one run."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._saved = threading.excepthook

    def __enter__(self) -> _ThreadErrors:
        def hook(args: threading.ExceptHookArgs) -> None:
            self.errors.append(f"{args.exc_type.__name__}: {args.exc_value}")

        threading.excepthook = hook
        return self

    def __exit__(self, *exc: object) -> None:
        threading.excepthook = self._saved


def run_side(
    side: Side, order: Sequence[int] | None = None, walk: tuple[int, float] | None = None
) -> Outcome:
    """One run of ``side``: serial in ``order``, a random ``walk`` (seed, p), or free threads."""
    try:
        state = side.setup()
    except Exception as exc:
        return Outcome("setup error", f"{type(exc).__name__}: {exc}")
    with _ThreadErrors() as escaped:
        if walk is not None:
            hung = run_interleaved(side, state, *walk)
        else:
            hung = _run_threads(side, state, order)
    if hung:
        return Outcome("hung", f"still blocked: {hung}")
    if escaped.errors:
        return Outcome("crash", "; ".join(escaped.errors))
    if side.invariant is None:
        return Outcome("ok")
    try:
        result = side.invariant(state)
    except AssertionError as exc:
        return Outcome("violation", str(exc))
    except Exception as exc:
        return Outcome("crash", f"invariant raised {type(exc).__name__}: {exc}")
    if result is False:
        return Outcome("violation", "invariant returned False")
    return Outcome("ok")


def _run_threads(side: Side, state: object, order: Sequence[int] | None) -> list[str]:
    threads = [
        threading.Thread(target=body, args=(state,), name=f"corpus-{i}", daemon=True)
        for i, body in enumerate(side.threads)
    ]
    if order is None:
        for t in threads:
            t.start()
    else:
        for i in order:
            threads[i].start()
            threads[i].join(GRACE)  # finished, or blocked waiting for a later body
    deadline = time.monotonic() + JOIN_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


def serial_check(side: Side) -> Tally:
    tally = Tally()
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        for order in itertools.permutations(range(len(side.threads))):
            outcome = run_side(side, order)
            if outcome.verdict != "ok":
                outcome.detail = f"order {order}: {outcome.detail}"
            tally.add(outcome)
    finally:
        sys.setswitchinterval(saved)
    return tally


def thread_check(side: Side, runs: int) -> Tally:
    tally = Tally()
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(runs):
            tally.add(run_side(side))
    finally:
        sys.setswitchinterval(saved)
    return tally


def walk_check(side: Side, walks: int, stop_at_first: bool) -> tuple[Tally, int | None]:
    """Random opcode-level walks; returns the tally and the first failing walk (1-based)."""
    tally = Tally()
    first: int | None = None
    for k, walk in enumerate(seeds(walks), start=1):
        outcome = run_side(side, walk=walk)
        if outcome.verdict != "ok":
            outcome.detail = f"walk seed={walk[0]} p={walk[1]}: {outcome.detail}"
            if first is None:
                first = k
        tally.add(outcome)
        if first is not None and stop_at_first:
            break
    return tally, first


def _detail(tally: Tally) -> str:
    return next(d for v, d in sorted(tally.first_detail.items()) if v != "ok")


def check_scenario(sc: Scenario, runs: int, walks: int) -> tuple[list[str], list[str], bool | None]:
    """Report lines, errors, and whether the walks found the racy side's bug (None: no racy side)."""
    lines: list[str] = []
    errors: list[str] = []
    found: bool | None = None
    sides = [("fixed" if sc.racy is not None else "correct", sc.fixed)]
    if sc.racy is not None:
        sides.insert(0, ("racy", sc.racy))
    for label, side in sides:
        racy = label == "racy"
        serial = serial_check(side)
        parts = [f"serial {serial.runs - serial.failures}/{serial.runs} orders ok"]
        if serial.failures:
            errors.append(f"{sc.name} {label}: serial run failed: {_detail(serial)}")
        if runs:
            real = thread_check(side, runs)
            parts.append(f"threads failed {real.describe()}")
            if real.failures and not racy:
                errors.append(f"{sc.name} {label}: failed on real threads: {_detail(real)}")
        if walks:
            walked, first = walk_check(side, walks, stop_at_first=racy)
            if racy:
                found = first is not None
                verdict = next((v for v in sorted(walked.verdicts) if v != "ok"), "")
                parts.append(
                    f"walks: {verdict} at walk {first}" if found else f"walks: none in {walks}"
                )
                if found:
                    parts.append(_detail(walked)[:100])
            else:
                parts.append(f"walks failed {walked.describe()}")
                if walked.failures:
                    errors.append(f"{sc.name} {label}: failed on a random walk: {_detail(walked)}")
        lines.append(f"    {label:7} " + "; ".join(parts))
    return lines, errors, found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus._selfcheck")
    parser.add_argument("--runs", type=int, default=20, help="real-thread runs per side (0: skip)")
    parser.add_argument(
        "--walks", type=int, default=200, help="random-walk runs per side (0: skip)"
    )
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to check")
    args = parser.parse_args(argv)

    scenarios = load_all()
    if args.only:
        scenarios = [s for s in scenarios if s.name in set(args.only)]
    errors: list[str] = []
    skipped: list[str] = []
    not_found: list[str] = []
    racy_total = 0
    started = time.monotonic()
    for sc in scenarios:
        missing = sc.missing()
        head = f"{sc.name}  [{sc.category}]" + (f" expect {sc.expect}" if sc.expect else "")
        if missing:
            print(f"{head}\n    skipped: not installed: {', '.join(missing)}", flush=True)
            skipped.append(sc.name)
            continue
        lines, errs, found = check_scenario(sc, args.runs, args.walks)
        print(head, *lines, sep="\n", flush=True)
        errors += errs
        if found is not None:
            racy_total += 1
            if not found:
                not_found.append(sc.name)

    checked = len(scenarios) - len(skipped)
    print(
        f"\n{checked} scenarios checked, {len(skipped)} skipped, in {time.monotonic() - started:.0f}s"
    )
    print(f"categories: {dict(Counter(s.category for s in scenarios))}")
    if args.walks:
        print(
            f"racy sides whose bug a random walk found: {racy_total - len(not_found)}/{racy_total}"
        )
        if not_found:
            print(f"  not found: {', '.join(not_found)}")
    if errors:
        print(f"\n{len(errors)} ERRORS:", *errors, sep="\n  ")
        return 1
    print("every serial run passed; no fixed or correct side failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
