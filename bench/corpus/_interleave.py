"""A crude opcode-level random scheduler, only for validating the corpus.

It is not racecheck and makes no claim to be: it exists so the self-check can
show, before racecheck exists, that each racy side has a failing interleaving
at bytecode granularity and that each fixed side survives many.

Each thread body runs on a real thread under ``sys.settrace`` with opcode
events.  Only the thread holding the baton may execute; before every opcode
the holder, with probability ``p``, passes the baton to a random runnable
thread (possibly itself).
Blocking needs no shims: a watchdog in the calling thread notices when the
holder has made no progress for ``STALL`` seconds (it is blocked in a lock,
an Event, a queue, or sleeping) and hands the baton to a thread that is
parked, waiting for its turn; threads blocked in C are never chosen.  When
no thread makes progress for ``HANG`` seconds the run is a hang; the parked
threads are released and the blocked ones are abandoned (they are daemons).

It is neither deterministic (real blocking decides some of the timing) nor
exhaustive; it is a random walk that switches often, which is enough to find
shallow bugs: a peer's random walk that switches at nearly every bytecode
found almost every real bug of its corpus within two schedules.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from ._scenario import Side

STALL = 0.003  # holder silent this long: treat it as blocked, pass the baton
HANG = 2.0  # nobody progressed this long: the run hangs


class _Baton:
    """Who may run.  ``parked`` threads wait for their turn and are runnable;
    a thread that is neither parked nor holding the baton is blocked (or
    sleeping) in C, and is never handed the baton until it parks again."""

    def __init__(self, n: int, rng: random.Random, p: float) -> None:
        self.cv = threading.Condition(threading.Lock())
        self.rng = rng
        self.p = p
        self.alive = set(range(n))
        self.parked: set[int] = set()
        self.current = -2  # -2: not started; -1: free, the next thread to park takes it
        self.steps = 0
        self.abandoned = False

    def park(self, me: int) -> None:
        with self.cv:
            if self.current == -1:
                self.current = me
            self.parked.add(me)
            while self.current != me and not self.abandoned:
                self.cv.wait()
            self.parked.discard(me)

    def _give(self, choices: list[int]) -> int:
        """Hand the baton to one of ``choices`` (under the lock); -1 if empty."""
        self.current = self.rng.choice(choices) if choices else -1
        self.cv.notify_all()
        return self.current

    def step(self, me: int) -> None:
        if self.abandoned:
            return
        if self.current != me:
            self.park(me)
        self.steps += 1
        if self.rng.random() < self.p:
            # A thread just released from a lock or an Event in C needs the
            # GIL to reach its park; give it a moment, or it could never be
            # chosen in the window right after its wake-up.
            for _ in range(3):
                if len(self.parked) + 1 >= len(self.alive):
                    break
                time.sleep(0.0001)
            with self.cv:
                nxt = self._give(sorted(self.parked | {me}))
            if nxt != me:
                self.park(me)

    def unstall(self) -> None:
        """The holder made no progress: it is blocked; let a parked thread run."""
        with self.cv:
            if self.parked and self.current not in self.parked:
                self._give(sorted(self.parked))

    def finished(self, me: int) -> None:
        with self.cv:
            self.alive.discard(me)
            if self.current == me:
                self._give(sorted(self.parked))


def run_interleaved(side: Side, state: Any, seed: int, p: float) -> list[str]:
    """Run ``side``'s bodies on ``state``; return the names of threads that hung."""
    rng = random.Random(seed)
    baton = _Baton(len(side.threads), rng, p)

    def make_tracer(me: int) -> Any:
        def local(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "opcode":
                baton.step(me)
            return None if baton.abandoned else local

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            if baton.abandoned:
                return None
            frame.f_trace_opcodes = True
            return local

        return tracer

    def wrapper(me: int) -> None:
        # Wait for the first turn before tracing starts: the scheduler's own
        # Condition must never be traced, or a switch inside Condition.wait()
        # would re-enter it.  (Code run from inside the trace function is not
        # traced, so step() is safe.)
        baton.park(me)
        sys.settrace(make_tracer(me))
        try:
            side.threads[me](state)
        finally:
            sys.settrace(None)
            baton.finished(me)

    threads = [
        threading.Thread(target=wrapper, args=(i,), name=f"interleave-{i}", daemon=True)
        for i in range(len(side.threads))
    ]
    for t in threads:
        t.start()
    with baton.cv:  # start only once every thread is parked, so any may go first
        while len(baton.parked) < len(threads):
            baton.cv.wait(0.01)
        baton._give(sorted(baton.parked))

    last_steps, idle = -1, 0.0
    while any(t.is_alive() for t in threads):
        time.sleep(STALL)
        if baton.steps != last_steps:
            last_steps, idle = baton.steps, 0.0
            continue
        idle += STALL
        if idle >= HANG:
            with baton.cv:
                baton.abandoned = True
                baton.cv.notify_all()
            for t in threads:
                t.join(0.5)
            return [t.name for t in threads if t.is_alive()]
        baton.unstall()
    return []


def seeds(count: int, base: int = 0) -> Sequence[tuple[int, float]]:
    """(seed, switch probability) pairs: a spread of switch rates."""
    rates = (0.05, 0.15, 0.3, 0.5)
    return [(base + i, rates[i % len(rates)]) for i in range(count)]
