"""The event stream of one schedule, and the protocol of those who consume it.

The scheduler, the instrumentation and the cooperative primitives report what
happens (a thread reached a point, a choice was made, a thread blocked, took
or let go of a lock, started, ended) to the execution's observers.  The trace
recorder and the crash log are observers; so will be a happens-before race
detector or the real-thread mode: each is a new ``Observer`` subclass, not a
change to the scheduler.  (The step log partial-order reduction reads,
``Execution.step_log``, is kept by the execution itself: a step starts when
its thread gets the baton, which only the scheduler sees.)

Observers are called by the thread holding the baton, as racecheck's own work
(no scheduling point can happen inside them), and must neither block nor
call back into the scheduler.  Only the methods a class overrides are called:
an observer that does not want steps costs nothing at every point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access import Access
    from .threads import ManagedThread, Resource


class Observer:
    """A consumer of one schedule's events; every method is a no-op until overridden."""

    #: Decode each step's pending access (``step``'s ``access``) even when the
    #: strategy does not ask for it.
    wants_accesses = False

    def step(self, mt: ManagedThread, frame: Any, offset: int, access: Access | None) -> None:
        """``mt`` reached the scheduling point before instruction ``offset`` of ``frame``."""

    def choice(self, current: int, chosen: int) -> None:
        """At a choice point the strategy gave the baton to ``chosen`` (``current``: the
        thread that reached the point, -1 when it could not go on)."""

    def blocked(self, mt: ManagedThread, resource: Resource) -> None:
        """``mt`` blocks on ``resource`` and hands the baton on."""

    def acquired(self, mt: ManagedThread, resource: Resource) -> None:
        """``mt`` took the lock ``resource``."""

    def released(self, mt: ManagedThread, resource: Resource) -> None:
        """``mt`` let go of the lock ``resource``."""

    def thread_started(self, mt: ManagedThread) -> None:
        """``mt`` was spawned (it runs when chosen)."""

    def thread_done(self, mt: ManagedThread) -> None:
        """``mt``'s body returned or raised."""


#: The events, by the name of the Observer method that receives each.
EVENTS = ("step", "choice", "blocked", "acquired", "released", "thread_started", "thread_done")


def overriding(observers: list[Observer], method: str) -> list[Any]:
    """The bound ``method`` of each observer whose class overrides it."""
    base = getattr(Observer, method)
    return [getattr(o, method) for o in observers if getattr(type(o), method) is not base]
