"""What one exploration produced: a Result, its Evidence, and a Failure when a schedule failed."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    from .trace import Trace
    from .waitfor import Blocked, WaitEdge

class _Named(str, enum.Enum):
    """A name that compares, prints and serialises as its plain string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Verdict(_Named):
    """What a failing schedule found in the code under test (``Failure.kind``)."""

    VIOLATION = "violation"  # an exception escaped a thread, or the invariant failed
    DEADLOCK = "deadlock"  # every live thread blocked (a wait-for cycle when owners exist)
    HANG = "hang"  # a spin, a livelock, or a wait for the world that never ended
    CRASH = "crash"  # the schedule's process died (a segfault, os._exit)
    NONDETERMINISM = "nondeterminism"  # the same schedule ran two ways (check_determinism)


class Signal(_Named):
    """Why a schedule stopped without a finding: racecheck's control flow, never a verdict."""

    TOO_LONG = "too_long"  # the body outgrew max_steps or real time: NotExplorable
    DIVERGED = "diverged"  # a replayed schedule no longer fits the code: ReplayDiverged
    RETRY = "retry"  # stalled on a real lock found late: run the schedule again
    ERROR = "error"  # a usage error raised inside the schedule (UsageError)
    INTERNAL = "internal"  # racecheck's own bug, or a strategy's (InternalError)
    ABORTED = "aborted"  # Ctrl-C or the harness stopped the run


#: How a strategy's name reads in a sentence.
_SPOKEN = {"pct": "PCT"}


@dataclass(frozen=True)
class Evidence:
    """How much a pass is worth: the schedules run, and by which strategy.

    Returned by ``Strategy.evidence``; ``str()`` is the sentence reports show
    ("200 schedules (100 random, 100 PCT depth 2-3)").  Read the fields, never
    the sentence.
    """

    #: Schedules run.
    schedules: int
    #: (strategy name, schedules it ran, detail such as "depth 2-3"), one per strategy.
    strategies: tuple[tuple[str, int, str], ...] = ()
    #: Set by an exhaustive search that covered every schedule with at most
    #: this many preemptions (none does yet).
    exhaustive_up_to_preemptions: int | None = None
    #: PCT's guarantee (Burckhardt et al., ASPLOS 2010), per depth d it ran with:
    #: (d, an upper bound on the probability that a bug of depth d was missed,
    #: (1 - 1/(n k^(d-1)))^N for its N schedules, n threads and k choice points).
    pct_miss: tuple[tuple[int, float], ...] = ()

    def __str__(self) -> str:
        return self._counts() + "".join(
            f"; a bug of depth {d} is missed with probability <= {p:.2g} (PCT's bound)"
            for d, p in self.pct_miss if p <= 0.99)

    def _counts(self) -> str:
        words = [(f"{n} {_SPOKEN.get(name, name)} {detail}".rstrip(), name, detail)
                 for name, n, detail in self.strategies]
        if len(words) == 1:  # "200 random schedules", "200 PCT schedules (depth 3)"
            _, name, detail = words[0]
            text = f"{self.schedules} {_SPOKEN.get(name, name)} schedules"
            return f"{text} ({detail})" if detail else text
        if words:
            return f"{self.schedules} schedules ({', '.join(w for w, _, _ in words)})"
        return f"{self.schedules} schedules"


#: The verdicts a failing schedule can have.
KINDS = tuple(v.value for v in Verdict)


def parse_verdict(value: object) -> Verdict | Signal | None:
    """A verdict read back from a schedule's child process (plain data)."""
    if value is None:
        return None
    text = str(value)
    for kind in (Verdict, Signal):
        try:
            return kind(text)
        except ValueError:
            pass
    raise ValueError(f"not a racecheck verdict: {text!r}")


@dataclass
class Failure:
    """One failing schedule, with everything needed to read and replay it."""

    kind: Verdict
    message: str
    token: str
    schedule_index: int
    seed: int | None
    exception: BaseException | None = None
    thread_name: str | None = None
    traceback_text: str = ""
    #: The wait-for cycle of a deadlock, one edge per thread.
    cycle: list[WaitEdge] = field(default_factory=list)
    #: The threads blocked when the schedule ended (deadlock, hang).
    blocked: list[Blocked] = field(default_factory=list)
    trace: Trace | None = None
    notes: list[str] = field(default_factory=list)
    replay_line: str = ""
    report: str = ""
    #: What the recorded replay of this schedule gave (None: it passed); the trace
    #: and the report are that run's only when it is ``kind`` again.
    replayed: Verdict | Signal | None = None
    #: Why the replay ended otherwise (its own verdict's message), else "".
    replay_message: str = ""
    #: Preemptions in the reported schedule, and in the one the search found
    #: before shrinking (shrink.py) made it simpler in ``shrink_runs`` runs.
    preemptions: int = 0
    found_preemptions: int = 0
    shrink_runs: int = 0
    #: The verdict rests on a wait racecheck cannot see into (a call blocked in C,
    #: real I/O that never came, a schedule that went silent): with code that passes
    #: on real threads, that is more likely racecheck's blind spot than a bug.
    unseen: bool = False

    def __str__(self) -> str:
        return self.report or f"{self.kind}: {self.message}\nreplay: {self.token}"

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data: the verdict, the interleaving as steps, the replay line
        (the ``failure`` object of docs/report-format.md)."""
        from .._data import failure_data

        return failure_data(self)

    def to_html(self, path: str | os.PathLike[str]) -> None:
        """Write one self-contained HTML page of this failure: a lane per thread."""
        from .._html import write_failure_page

        write_failure_page(self.to_data(), path)

    def to_dataframe(self) -> Any:
        """The interleaving as a pandas DataFrame, one row per step (pandas imported here)."""
        from .._frames import steps_frame

        return steps_frame(self.to_data())


@dataclass(frozen=True)
class ScheduleRun:
    """What one schedule of an exploration did (``Result.runs``)."""

    index: int
    #: The strategy that chose this schedule ("dpor", "random", "pct"...).
    strategy: str
    #: Scheduling points reached, choice points met, preemptions among them.
    steps: int
    choices: int
    preemptions: int
    #: None for a pass, else the verdict.
    verdict: str | None
    seconds: float


@dataclass
class Result:
    """The outcome of :func:`racecheck.explore`."""

    ok: bool
    schedules_run: int
    elapsed: float
    seed: int | None
    strategy: str
    failure: Failure | None = None
    evidence: Evidence = field(default_factory=lambda: Evidence(0))
    notes: list[str] = field(default_factory=list)
    #: Every schedule run, in order (the shrinker's and the report's replays excluded).
    runs: list[ScheduleRun] = field(default_factory=list)
    #: Share of the code's own time in the first controlled schedule spent in steps
    #: of more than 100 us (calls into C), which the controlled mode cannot
    #: interleave inside; None when not measured.  ``mode="auto"`` adds perturbed
    #: runs when it is 0.5 or more.
    c_share: float | None = None
    #: The first schedule run in worker processes (``jobs=``); None: all ran here.
    parallel_from: int | None = None

    def __bool__(self) -> bool:
        return self.ok

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data (docs/report-format.md): verdict, evidence, runs, failure."""
        from .._data import result_data

        return result_data(self)

    def to_html(self, path: str | os.PathLike[str]) -> None:
        """Write one self-contained HTML page: the evidence of a pass, or the failure drawn."""
        from .._html import write_result_page

        write_result_page(self.to_data(), path)

    def to_dataframe(self) -> Any:
        """One row per schedule run, as a pandas DataFrame (pandas imported here)."""
        from .._frames import runs_frame

        return runs_frame(self.to_data())

    def __str__(self) -> str:
        if self.failure is not None:
            return str(self.failure)
        return f"racecheck: no failure in {self.evidence} ({self.elapsed:.2f}s)"
