"""Every schedule with at most P preemptions, each run once: a proof within the bound.

Iterative context bounding (Musuvathi & Qadeer, "Iterative Context Bounding
for Systematic Testing of Multithreaded Programs", PLDI 2007, the search of
CHESS): most concurrency bugs need one or two preemptions, and the schedules
with few preemptions are few enough to run them all.  A *preemption* is a
choice of another thread while the running one could have gone on; choosing
when the running thread blocked or finished costs nothing, so the thread
orders those choices allow are all covered.

Schedules run by number of preemptions: all with none, then all with one,
and so on (the "iterative" of the paper's title), so the first failure found
has the fewest preemptions any failure has.  Each level is a stateless
depth-first walk: a schedule follows a prefix, then lets the running thread
go on (else the lowest runnable thread).  After it ran, ``end`` pushes its
new choice points on the stack with their free alternatives (who runs when
nobody is running), queues each preemption it could take as the root of
work at the next level, and backtracks to the deepest choice left.
``begin`` returns False when no work is left: every schedule within the
bound ran, once, and :meth:`evidence` says so.  Every schedule of a search starts
``random`` from the same seed, so a prefix means the same run each time.

No partial-order reduction yet: two schedules that only reorder independent
steps are both run, so the count of schedules grows with the choice points
(fine for small tests; a budget bounds it, and an incomplete search is
never called a proof).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .._core.outcome import Evidence
from ..errors import InvalidArgument
from ._prefix import PrefixSearch, followed, preemption
from .base import ScheduleSummary


@dataclass
class _Node:
    """One choice point on the search stack."""

    options: tuple[int, ...]
    current: int
    chosen: int
    #: Preemptions spent by the choices before this one.
    spent: int
    #: Alternatives still to run here.
    todo: list[int] = field(default_factory=list)


class BoundedStrategy(PrefixSearch):
    name = "bounded"
    wants_options = True

    def __init__(self, seed: int, preemptions: int = 2) -> None:
        if isinstance(preemptions, bool) or not isinstance(preemptions, int) or preemptions < 0:
            raise InvalidArgument(f"preemptions must be an integer >= 0, got {preemptions!r}")
        self.seed = seed
        self.bound = preemptions
        #: The seed ``random`` gets in every schedule of the search (the runner reads it).
        self.rseed = seed
        #: Work left, by preemptions spent: (prefix ending in a preemption, preemptions).
        self._queue: list[deque[tuple[tuple[int, ...], int]]] = [
            deque() for _ in range(preemptions + 1)]
        self._queue[0].append(((), 0))
        self._root: tuple[int, ...] = ()
        self._root_spent = 0
        #: The choice points after the root, with their non-preemptive alternatives left.
        self._stack: list[_Node] = []
        self._level = 0
        self.complete = False
        #: Schedules whose run did not follow their prefix (nondeterminism): no proof.
        self.diverged = 0

    def begin(self, index: int) -> bool:
        if not self._stack:  # the current root's subtree is done: the next root
            for level, work in enumerate(self._queue):
                if work:
                    self._root, self._root_spent = work.popleft()
                    self._level = level
                    break
            else:
                self.complete = True
                return False
        self._replay(self._root + tuple(n.chosen for n in self._stack))
        return True

    def end(self, summary: ScheduleSummary) -> None:
        choices, currents, options = summary.choices, summary.currents, summary.options
        root, stack = self._root, self._stack
        if choices[:len(root)] != root:
            self.diverged += 1  # the run left its root: this subtree cannot be trusted
            stack.clear()
            return
        keep = followed(stack, choices, options, len(root))
        if keep < len(stack):
            self.diverged += 1
            del stack[keep:]
        spent = self._root_spent
        for i in range(len(root) + keep, len(choices)):
            node = _Node(options[i], currents[i], choices[i], spent)
            for o in options[i]:
                if o == choices[i]:
                    continue
                if not preemption(options[i], currents[i], o):
                    node.todo.append(o)  # who runs when nobody is running: free
                elif spent + 1 <= self.bound:  # a preemption: at the next level
                    self._queue[spent + 1].append(((*choices[:i], o), spent + 1))
            stack.append(node)
            spent += preemption(options[i], currents[i], choices[i])
        while stack and not stack[-1].todo:
            stack.pop()
        if stack:
            stack[-1].chosen = stack[-1].todo.pop(0)
        elif not any(self._queue):
            self.complete = True

    def evidence(self, schedules_run: int) -> Evidence:
        if self.complete and not self.diverged:
            return Evidence(schedules_run,
                            ((self.name, schedules_run,
                              f"exhaustive: every schedule with <= {self.bound} preemptions"),),
                            exhaustive_up_to_preemptions=self.bound)
        if self.diverged:
            why = f"{self.diverged} did not repeat their prefix: no proof"
        else:
            why = (f"not complete: every schedule with < {self._level} preemptions ran"
                   if self._level else "not complete")
        return Evidence(schedules_run,
                        ((self.name, schedules_run, f"<= {self.bound} preemptions, {why}"),))
