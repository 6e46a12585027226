"""Order violation: a constructor starts its background thread before setting the attributes it uses.

prime-rl's ``PrimeMetric.__init__`` started the metrics thread before
assigning ``socket_path``, so the thread sometimes ran first and died with
"'PrimeMetric' object has no attribute 'socket_path'" (PrimeIntellect-ai/
prime-rl PR #317).  livekit/agents PR #969 ("the thread could start and then
lock would be undefined") and AdaCore/e3-core PR #343 ("Job slot attribute
should be set before starting the thread") fixed the same order.  It is the
Mozilla ``PR_CreateThread`` order violation of Lu et al. (ASPLOS'08).

Re-expressed with the thread's start modelled by an Event: the constructing
thread runs ``__init__`` and "starts" the reporter by setting the Event; the
reporter thread waits for the start and then reads ``socket_path``.  The fix
assigns every attribute before starting.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/PrimeIntellect-ai/prime-rl/pull/317; https://github.com/livekit/agents/pull/969; "
    "https://github.com/AdaCore/e3-core/pull/343"
)


class PrimeMetric:
    def __init__(self, shared: SimpleNamespace, fixed: bool) -> None:
        shared.metric = self
        if fixed:
            self.socket_path = "/tmp/com_prime.sock"
            shared.started.set()  # self._thread.start(), now last
        else:
            shared.started.set()  # self._thread.start(), too early
            self.socket_path = "/tmp/com_prime.sock"


def setup() -> SimpleNamespace:
    return SimpleNamespace(started=threading.Event(), metric=None, sent=[], errors=[])


def construct(s: SimpleNamespace) -> None:
    PrimeMetric(s, fixed=False)


def construct_fixed(s: SimpleNamespace) -> None:
    PrimeMetric(s, fixed=True)


def metrics_thread(s: SimpleNamespace) -> None:
    s.started.wait()
    try:
        s.sent.append(s.metric.socket_path)
    except AttributeError as exc:
        s.errors.append(f"AttributeError: {exc}")


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(s.sent == ["/tmp/com_prime.sock"], f"metrics thread sent {s.sent}")


SCENARIO = Scenario(
    name="s_thread_started_in_init",
    category="order violation",
    citation=CITATION,
    summary="__init__ starts its thread before setting socket_path; the thread reads it first",
    racy=Side(setup, [construct, metrics_thread], invariant),
    fixed=Side(setup, [construct_fixed, metrics_thread], invariant),
    expect="violation",
)
