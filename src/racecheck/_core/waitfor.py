"""The wait-for graph: who waits for what, held by whom, as data.

A blocked thread waits on a resource; the resource's holders are the threads
that can end the wait (a lock's owner, the thread being joined).  A deadlock
is a cycle in that graph (Coffman et al., "System Deadlocks", 1971; CHESS
reports it the same way).  The kernel builds ``WaitEdge`` and ``Blocked``
values; the report layer turns them into sentences (``str()`` is that
sentence, for convenience), and they cross from a schedule's child process as
plain lists.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

from .threads import BLOCKED, ManagedThread, user_stack


@dataclass(frozen=True)
class WaitEdge:
    """``waiter`` waits for ``resource``, which ``holder`` holds (None: no managed holder).

    ``timed_out``: the wait ended by its timeout while no other thread could
    run (a deadlock a timeout papered over).
    """

    waiter: str
    resource: str
    holder: str | None = None
    timed_out: bool = False

    def __str__(self) -> str:
        if self.timed_out:
            return (f"{self.waiter} timed out waiting for {self.resource} while no other "
                    "thread could run")
        held = f" held by {self.holder}" if self.holder else ""
        return f"{self.waiter} waits for {self.resource}{held}"

    def to_data(self) -> list[Any]:
        return list(astuple(self))

    @classmethod
    def from_data(cls, row: Sequence[Any]) -> WaitEdge:
        waiter, resource, holder, timed_out = row
        return cls(str(waiter), str(resource), None if holder is None else str(holder),
                   bool(timed_out))


@dataclass(frozen=True)
class Blocked:
    """A thread blocked when the schedule ended: what it waits for and what it holds.

    ``note`` says why a held resource has no managed holder; ``stack`` is the
    thread's innermost user frames (``file:line in function: source``).
    """

    thread: str
    resource: str
    holders: tuple[str, ...] = ()
    note: str = ""
    holds: tuple[str, ...] = ()
    stack: tuple[str, ...] = ()
    #: The thread is stuck inside a call racecheck cannot see into (a watchdog's finding).
    in_call: bool = False

    def __str__(self) -> str:
        if self.in_call:
            head = f"{self.thread} is blocked in {self.resource}"
            return head + "".join(f"\n    {line}" for line in self.stack)
        head = f"{self.thread} waits for {self.resource}"
        if self.holders:
            head += f" (held by {', '.join(self.holders)})"
        elif self.note:
            head += f" ({self.note})"
        if self.holds:
            head += f"; holds {', '.join(self.holds)}"
        return head + "".join(f"\n      {line}" for line in self.stack)

    def to_data(self) -> list[Any]:
        return [self.thread, self.resource, list(self.holders), self.note, list(self.holds),
                list(self.stack), self.in_call]

    @classmethod
    def from_data(cls, row: Sequence[Any]) -> Blocked:
        thread, resource, holders, note, holds, stack, in_call = row
        return cls(str(thread), str(resource), tuple(map(str, holders)), str(note),
                   tuple(map(str, holds)), tuple(map(str, stack)), bool(in_call))


def _waits_for(t: ManagedThread) -> list[ManagedThread]:
    """The blocked threads holding what ``t`` waits on (the graph's edges out of ``t``)."""
    res = t.waiting_on
    return [h for h in res.holders() if h.status == BLOCKED] if res is not None else []


def find_cycle(live: Sequence[ManagedThread]) -> list[WaitEdge]:
    """The wait-for cycle reached from the threads in ``live``, or []."""
    for start in live:
        path: list[ManagedThread] = []
        seen: dict[ManagedThread, int] = {}
        node: ManagedThread | None = start
        while node is not None and node not in seen:
            seen[node] = len(path)
            path.append(node)
            nxt = _waits_for(node)
            node = nxt[0] if nxt else None
        if node is not None:
            return [WaitEdge(t.name, t.waiting_on.describe() if t.waiting_on else "?",
                             _waits_for(t)[0].name) for t in path[seen[node]:]]
    return []


def blocked(t: ManagedThread) -> Blocked:
    """What the blocked thread ``t`` waits for, who holds it, what ``t`` holds."""
    res = t.waiting_on
    holders = tuple(h.name for h in res.holders()) if res is not None else ()
    note = res.unowned() if res is not None and not holders else ""
    # A Condition waiter's own wake-up lock is "held" only as a parking spot.
    holds = tuple(r.describe() for r in t.held if not r.parking)
    stack = user_stack(sys._current_frames().get(t.ident))
    return Blocked(t.name, res.describe() if res is not None else "?", holders, note, holds,
                   tuple(stack[-4:]))
