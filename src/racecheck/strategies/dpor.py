"""Every schedule with at most P preemptions, up to reordering independent steps: a proof.

Dynamic partial-order reduction (Flanagan & Godefroid, "Dynamic Partial-Order
Reduction for Model Checking Software", POPL 2005) on top of the
preemption-bounded search of ``bounded.py`` (Musuvathi & Qadeer, PLDI 2007).
Two schedules that differ only in the order of *independent* steps (steps
of different threads whose effects do not conflict, ``_core/effects.py``)
end in the same state, so running one of them is enough.

Stateless and depth-first: every schedule replays a prefix of choices and
then lets the running thread go on (else the lowest runnable one).  After it
ran, ``end`` reads its steps with their effects, computes the happens-before
order with vector clocks, and finds the *races*: a step ``i`` of thread p
and the latest earlier step ``j`` of another thread that conflicts with it
and is not already ordered before it.  The other order of a race can only
be reached by running p (or, when p could not run there, any runnable
thread) at the choice point before ``j``: that thread joins the point's
*backtrack set*.  The search then backtracks to the deepest point with a
backtrack thread not yet run.  Alternatives that no race asks for are the
equivalent schedules it skips.

A preemption bound alone would make DPOR unsound: the schedule that reverses
a race may need one more preemption than allowed at ``j``, while an
equivalent one within the bound switches earlier (Coons, Musuvathi &
McKinley, "Bounded Partial-Order Reduction", OOPSLA 2013).  So each race
also adds its thread at the latest earlier point where the schedule already
switched threads (a switch that costs no new preemption), as their BPOR
does conservatively; the bound is applied only when choosing what to run.

Which thread is added for a race is one of its *initials* (the threads that
can run first in the reversed order), and none when one already waits there:
the source sets of Abdulla et al. (POPL 2014), without their sleep sets.
Sleep sets were tried: with the preemption bound they lost equivalence
classes on random programs (the schedule equivalent to a skipped one may
need more preemptions than the bound allows), so they wait for a sound
combination.  Locks get the treatment lock-aware DPORs give them: a release
followed by another thread's acquisition is reversed as the two
acquisitions (the lock cannot be taken before it is released).

The bound deepens: the search runs with 0 preemptions, then 1, up to P
(iterative context bounding, Musuvathi & Qadeer PLDI 2007), each a complete
depth-first search of its own.  Schedules with k + 1 preemptions wait until
every class with k was run, so a bug is found with the fewest preemptions it
needs, and a search cut short by its budget still proves the bounds it
completed ("exhaustive: every schedule with <= 1 preemptions; <= 2 not
complete").  Re-running the smaller bounds costs little: the number of
classes grows steeply with the bound (a Queue pool of 2 workers and 2 items:
2, 30, then 264 classes).  A search where no alternative was beyond the
bound is complete for every bound.

A completed search is a proof within the bound, stated in ``evidence``;
a run that did not follow its prefix (nondeterminism) or where fairness left
a runnable thread out of a choice voids it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._core.effects import conflict, dependent, in_line_only, observes_line
from .._core.outcome import Evidence
from ..errors import InvalidArgument
from ._prefix import PrefixSearch, followed, preemption
from .base import ScheduleSummary


@dataclass
class _Node:
    """One choice point on the current path."""

    options: tuple[int, ...]
    current: int
    chosen: int
    #: Preemptions spent by the choices before this one.
    spent: int
    backtrack: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def cost(self, choice: int) -> int:
        return preemption(self.options, self.current, choice)


class DporStrategy(PrefixSearch):
    name = "dpor"
    wants_options = True
    wants_accesses = True
    wants_steps = True

    def __init__(self, seed: int, preemptions: int = 2, *, start: int = 0) -> None:
        """``start``: the first bound searched, when every schedule with fewer
        preemptions is already known to pass (shrinking, after a search proved it)."""
        if isinstance(preemptions, bool) or not isinstance(preemptions, int) or preemptions < 0:
            raise InvalidArgument(f"preemptions must be an integer >= 0, got {preemptions!r}")
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= preemptions:
            raise InvalidArgument(f"start must be an integer from 0 to preemptions "
                                  f"({preemptions}), got {start!r}")
        self.seed = seed
        self.bound = preemptions
        #: The bound of the search under way: ``start``, then one more... up to ``bound``.
        self.level = start
        #: The highest bound whose search completed (-1: none yet).
        self.proved = -1
        #: The seed ``random`` gets in every schedule of the search (the runner reads it).
        self.rseed = seed
        self._stack: list[_Node] = []
        self._started = False
        self.complete = False
        #: Alternatives skipped as equivalent to a schedule run (no race asked for them).
        self.equivalent = 0
        #: Alternatives a race asked for that the preemption bound ruled out.
        self.bounded = 0
        #: Schedules that did not repeat their prefix (nondeterminism): no proof.
        self.diverged = 0
        #: Schedules where fairness kept a runnable thread out of a choice: no proof.
        self.unfair = 0
        self.runs = 0

    # ------------------------------------------------------------ one schedule

    def begin(self, index: int) -> bool:
        if self._started and not self._next():
            self.proved = self.level
            if self.level >= self.bound or not self.bounded:
                # no alternative was beyond this bound: a larger one changes nothing
                self.proved = self.bound
                self.complete = True
                return False
            # Iterative deepening: the search with one more preemption starts over.
            # It re-runs the classes of the smaller bound (a small share: their
            # number grows steeply with the bound), and finds a bug with the fewest
            # preemptions it needs before any schedule with more.
            self.level += 1
            self.equivalent = self.bounded = 0
            self._stack = []
        self._started = True
        self._replay(tuple(n.chosen for n in self._stack))
        return True

    # ------------------------------------------------------------ learning

    def end(self, summary: ScheduleSummary) -> None:
        self.runs += 1
        if summary.filtered:
            self.unfair += 1
        choices, currents, options = summary.choices, summary.currents, summary.options
        if len(options) < len(choices):  # a run that crashed or was cut: no proof from it
            self.diverged += 1
            choices, currents = choices[:len(options)], currents[:len(options)]
        stack = self._stack
        keep = followed(stack, choices, options)
        if keep < len(stack):
            self.diverged += 1
            del stack[keep:]
        for i in range(len(stack), len(choices)):
            spent = stack[-1].spent + stack[-1].cost(stack[-1].chosen) if stack else 0
            stack.append(_Node(options[i], currents[i], choices[i], spent,
                               {choices[i]}, {choices[i]}))
        if len(stack) > len(choices):
            del stack[len(choices):]
        steps = summary.transitions
        for j, i, initials in races(steps):
            self._backtrack(steps, j, i, initials)

    def _backtrack(self, steps: Sequence[list[Any]], j: int, i: int,
                   initials: frozenset[int]) -> None:
        """Make the search reverse the race (j, i): run one of its initials before step j."""
        point = steps[j][1]
        if point < 0 or point >= len(self._stack):
            return  # only one thread could run before j: another race reaches the other order
        self._add(self._stack[point], initials)
        for k in range(point - 1, -1, -1):  # BPOR's conservative point: the last switch before
            node = self._stack[k]
            if node.chosen != node.current:
                # the thread of i itself (the initials are those of the state before j)
                thread = steps[i][0]
                node.backtrack.update((thread,) if thread in node.options else node.options)
                break

    def _add(self, node: _Node, initials: frozenset[int]) -> None:
        """Source sets: one initial in the backtrack set is enough."""
        first = [t for t in sorted(initials) if t in node.options]
        if not first:
            node.backtrack.update(node.options)
            return
        within = [t for t in first if node.spent + node.cost(t) <= self.level]
        if any(t in node.backtrack for t in within):
            return
        node.backtrack.add((within or first)[0])

    def _next(self) -> bool:
        """Backtrack to the deepest point with a thread left to run; False: the search is done."""
        stack = self._stack
        while stack:
            node = stack[-1]
            for choice in sorted(node.backtrack - node.done):
                node.done.add(choice)
                if node.spent + node.cost(choice) > self.level:
                    self.bounded += 1
                    continue
                node.chosen = choice
                return True
            self.equivalent += sum(1 for o in node.options if o not in node.done
                                   and node.spent + node.cost(o) <= self.level)
            stack.pop()
        return False

    def evidence(self, schedules_run: int) -> Evidence:
        if self.complete and not self.diverged and not self.unfair:
            return Evidence(
                schedules_run,
                ((self.name, schedules_run,
                  f"exhaustive: every schedule with <= {self.bound} preemptions, "
                  f"{schedules_run} executions, {self.equivalent} pruned as "
                  "equivalent"),),
                exhaustive_up_to_preemptions=self.bound)
        if self.diverged:
            why = f"{self.diverged} did not repeat their prefix: no proof"
        elif self.unfair:
            why = "fairness left a runnable thread out of a choice: no proof"
        elif self.proved >= 0:
            # the searches with smaller bounds completed: a proof of their own
            return Evidence(
                schedules_run,
                ((self.name, schedules_run,
                  f"exhaustive: every schedule with <= {self.proved} preemptions; "
                  f"<= {self.bound} not complete"),),
                exhaustive_up_to_preemptions=self.proved)
        else:
            why = "not complete"
        return Evidence(schedules_run,
                        ((self.name, schedules_run, f"<= {self.bound} preemptions, {why}"),))


def races(steps: Sequence[list[Any]]) -> list[tuple[int, int, frozenset[int]]]:
    """The races of one run, with the threads that can start their reversal.

    A race is a pair (j, i), j < i, of conflicting steps of different threads
    that nothing else orders: happens-before by vector clocks over program
    order and conflicts (Flanagan & Godefroid, POPL 2005).  Reversing it means
    running, from the point before j, the steps after j that do not depend on
    j, then i; the threads that can run first in that sequence are its
    *initials* (the source sets of Abdulla et al., "Optimal Dynamic Partial
    Order Reduction", POPL 2014).
    """
    out: list[tuple[int, int, frozenset[int]]] = []
    by_thread: dict[int, list[int]] = {}
    local: list[int] = [0] * len(steps)
    clocks: list[dict[int, int]] = [{} for _ in steps]
    last: dict[int, dict[int, int]] = {}
    # Steps repeat the same few effects: name each distinct effect by a number and
    # decide each pair of numbers once (the scan below asks about many pairs).
    names: dict[tuple[tuple[Any, ...], ...], int] = {}
    kinds = [names.setdefault(tuple(map(tuple, step[2])), len(names)) for step in steps]
    decided: dict[int, bool] = {}
    lines: dict[int, list[Any]] = {}  # pairs of kinds that conflict only as waits in line
    seen_by: dict[Any, int] = {}  # queue -> the last step that sees its line
    width = len(names)
    for i, (p, _choice, atoms) in enumerate(steps):
        clock = dict(last.get(p, {}))
        clock[p] = clock.get(p, 0) + 1
        found: list[int] = []
        mine_kind = kinds[i]
        for q, mine in by_thread.items():
            if q == p:
                continue
            seen = clock.get(q, 0)
            for j in reversed(mine):
                if local[j] <= seen:
                    break  # j and everything before it in q already happen before i
                key = kinds[j] * width + mine_kind
                hit = decided.get(key)
                if hit is None:
                    hit = decided[key] = dependent(steps[j][2], atoms)
                    if hit:
                        wait = in_line_only(steps[j][2], atoms)
                        if wait is not None:
                            lines[key] = wait
                if hit and key in lines and _last_observer(steps, lines[key], seen_by) < i:
                    hit = False  # two waits in line, and nothing later sees their order
                if hit:
                    found.append(j)
                    break
        racing = [j for j in found
                  if not any(clocks[k].get(steps[j][0], 0) >= local[j] for k in found if k != j)]
        # A release then an acquisition of the lock: what can be reversed is the order
        # of the two acquisitions (the other thread takes the lock first).
        racing = [j if reversible(steps[j][2], atoms) else _acquired_by(steps, by_thread, j)
                  for j in racing if not _starts(steps[j][2], atoms)]
        for j in found:
            for t, n in clocks[j].items():
                if n > clock.get(t, 0):
                    clock[t] = n
        clocks[i] = clock
        last[p] = clock
        by_thread.setdefault(p, []).append(i)
        local[i] = clock[p]
        for j in racing:
            if j >= 0:
                out.append((j, i, _initials(steps, clocks, local, j, i)))
    return out


def _last_observer(steps: Sequence[list[Any]], wait: list[Any], seen_by: dict[Any, int]) -> int:
    """The index of the last step that sees the order of ``wait``'s queue's line (-1)."""
    last = seen_by.get(wait[1])
    if last is None:
        last = next((k for k in range(len(steps) - 1, -1, -1)
                     if observes_line(steps[k][2], wait)), -1)
        seen_by[wait[1]] = last
    return last


def reversible(first: list[Any], then: list[Any]) -> bool:
    """Whether running ``then`` before ``first`` could give another result.

    Conflicting steps are, except one shape: a release of a lock, then an
    acquisition of it.  The acquisition cannot come first (the lock was
    held); the other order is that thread trying, blocking, and taking the
    lock after the release, the same as this run.
    """
    for a in first:
        for b in then:
            if conflict(a, b) and not (a[0] == "s" and a[2:] == ["release"]
                                        and b[2:] == ["acquire"]):
                return True
    return False


def _starts(first: list[Any], then: list[Any]) -> bool:
    """Whether ``first`` starts the thread whose first step is ``then``: an order that
    cannot be reversed (the thread does not exist before it is started)."""
    started = {a[1] for a in first if a[0] == "s" and a[2:] == ["start"]}
    return bool(started) and any(b[0] == "s" and len(b) == 2 and b[1] in started
                                 for b in then)


def _acquired_by(steps: Sequence[list[Any]], by_thread: dict[int, list[int]], j: int) -> int:
    """The step in which step j's thread took the lock step j releases (-1: none logged)."""
    locks = {a[1] for a in steps[j][2] if a[0] == "s" and a[2:] == ["release"]}
    for k in reversed(by_thread[steps[j][0]]):
        if k < j and any(a[0] == "s" and a[1] in locks and a[2:] == ["acquire"]
                         for a in steps[k][2]):
            return k
    return -1


def _initials(steps: Sequence[list[Any]], clocks: list[dict[int, int]], local: list[int],
              j: int, i: int) -> frozenset[int]:
    """Threads that can run first in: the steps between j and i not after j, then i."""
    q = steps[j][0]
    first: dict[int, int] = {}  # thread -> its first step in the sequence
    out: set[int] = set()
    for k in [*range(j + 1, i), i]:
        if k != i and clocks[k].get(q, 0) >= local[j]:
            continue  # depends on j: it cannot move before it
        t = steps[k][0]
        if t not in first:
            if not any(clocks[k].get(u, 0) >= local[f] for u, f in first.items()):
                out.add(t)
            first[t] = k
    return frozenset(out)
