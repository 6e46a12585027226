"""What one exploration produced: a Result, and a Failure when a schedule failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trace import Trace
    from .waitfor import Blocked, WaitEdge

#: The verdicts a failing schedule can have.
KINDS = ("violation", "deadlock", "hang", "crash")


@dataclass
class Failure:
    """One failing schedule, with everything needed to read and replay it."""

    kind: str
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
    #: The verdict rests on a wait racecheck cannot see into (a call blocked in C,
    #: real I/O that never came, a schedule that went silent): with code that passes
    #: on real threads, that is more likely racecheck's blind spot than a bug.
    unseen: bool = False

    def __str__(self) -> str:
        return self.report or f"{self.kind}: {self.message}\nreplay: {self.token}"


@dataclass
class Result:
    """The outcome of :func:`racecheck.explore`."""

    ok: bool
    schedules_run: int
    elapsed: float
    seed: int | None
    strategy: str
    failure: Failure | None = None
    evidence: str = ""
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.failure is not None:
            return str(self.failure)
        return f"racecheck: no failure in {self.evidence} ({self.elapsed:.2f}s)"
