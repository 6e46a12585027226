"""The uncontrolled-nondeterminism check: the same schedule twice, compared.

After Shuttle's ``UncontrolledNondeterminismCheck`` (shuttle#96): a schedule is
run, then replayed from its own choices in the same process, after it, with
the clock bases moved, and the two recorded traces are compared step by step.
Code that depends on what racecheck does not control parts the two runs:
state kept between runs (module-level counters, caches), ``id()`` or hash
order, generators seeded from the OS, real I/O, the absolute time.  The
first step where they part is reported with the likeliest cause, read off
the lines that thread ran just before.
"""

from __future__ import annotations

import linecache
import os
from typing import TYPE_CHECKING, Any

from ..strategies.replay import ReplayStrategy
from .trace import Recorder

if TYPE_CHECKING:
    from ..strategies.base import Strategy
    from . import isolate
    from .patching import Patches
    from .runner import Config, Outcome

#: Seconds the second run's clock bases are moved by: a branch on the absolute
#: time (not on differences) takes the other way.
CLOCK_SHIFT = 1.37


def run_twice(cfg: Config, strategy: Strategy, patches: Patches, rseed: int, record: bool,
               send: isolate.Send | None = None) -> Outcome:
    """Shuttle's uncontrolled-nondeterminism check: the same schedule twice, compared.

    The second run replays the first one's choices in the same process, after
    it, with the clock bases moved: code that depends on state kept between
    runs (module-level counters, caches), on ``id()``/hash order, on unseeded
    generators, on real I/O or on the absolute time parts from the first run.
    """
    from .outcome import Signal, Verdict
    from .runner import RAISED, run_one

    first = run_one(cfg, strategy, Recorder(), None, patches, rseed=rseed, send=send)
    if first.verdict in RAISED or first.verdict == Signal.RETRY:
        return first
    again = ReplayStrategy(first.choices, rseed)
    again.begin(0)
    second = run_one(cfg, again, Recorder(), None, patches, rseed=rseed, clock_shift=CLOCK_SHIFT,
                     send=send)
    parted = _where_parted(first, second)
    if parted:
        first.verdict = Verdict.NONDETERMINISM
        first.message = parted
        first.exception = None
        first.traceback_text = ""
    if not record:
        first.trace = None
    return first


def _where_parted(a: Outcome, b: Outcome) -> str:
    steps_a = a.trace.steps if a.trace is not None else []
    steps_b = b.trace.steps if b.trace is not None else []
    for i, (x, y) in enumerate(zip(steps_a, steps_b, strict=False)):
        if (x.tid, x.filename, x.lineno, x.op, x.access) != (y.tid, y.filename, y.lineno, y.op,
                                                             y.access):
            return _parted_message(i, x, y, steps_a[:i])
    if len(steps_a) != len(steps_b) or a.verdict != b.verdict:
        i = min(len(steps_a), len(steps_b))
        return (f"the same schedule ran twice took {len(steps_a)} and {len(steps_b)} steps "
                f"and ended {a.verdict or 'passing'} and {b.verdict or 'passing'} (they "
                f"agree on the first {i} steps): {_LIKELY}")
    return ""


_LIKELY = ("likely causes: unseeded randomness (random.Random(), os.urandom, uuid4), real "
           "or absolute time, real I/O, id()/hash order, thread names from a module-level "
           "counter, state kept between schedules")


def _parted_message(i: int, x: Any, y: Any, before: list[Any]) -> str:
    source = linecache.getline(x.filename, x.lineno).strip()
    where = f"{x.thread} at {os.path.basename(x.filename)}:{x.lineno} ({source})"
    if (x.filename, x.lineno) == (y.filename, y.lineno):
        what = f"first run: {x.access or x.op}; second run: {y.access or y.op}"
    else:
        what = (f"the second run went to {os.path.basename(y.filename)}:{y.lineno} "
                f"in {y.thread} instead")
    # The value that differs was made earlier: look back along this thread's lines.
    lines: list[tuple[str, str]] = [(f"{os.path.basename(x.filename)}:{x.lineno}", source)]
    for step in reversed(before[-200:]):
        if step.tid == x.tid:
            text = linecache.getline(step.filename, step.lineno).strip()
            place = f"{os.path.basename(step.filename)}:{step.lineno}"
            if (place, text) not in lines:
                lines.append((place, text))
        if len(lines) >= 30:
            break
    return f"the same schedule run twice parted at step {i + 1}: {where}; {what}. {_cause(lines)}"


_CAUSES = (
    (("random", "uuid", "urandom", "shuffle", "choice("), "unseeded randomness"),
    (("time(", "time_ns", "clock", "datetime", "now("), "the absolute time"),
    (("id(", "hash(", "set(", "frozenset("), "id()/hash order"),
    (("count", "name="), "a counter kept between runs (thread names?)"),
    (("open(", "read(", "recv", "socket", "os."), "real I/O"),
)


def _cause(lines: list[tuple[str, str]]) -> str:
    """The likeliest source of the difference: the nearest line that reads one."""
    for place, text in lines:
        lowered = text.lower()
        for needles, cause in _CAUSES:
            if any(n in lowered for n in needles):
                return f"Likely cause: {cause}, read at {place} ({text})."
    return ("Likely cause: state kept between schedules (module-level counters, caches), "
            "or another source of nondeterminism: " + _LIKELY.split(": ", 1)[1] + ".")
