"""Check-then-act on ``concurrent.futures.Future``: ``cancelled()`` then ``set_result()``.

Since Python 3.8 ``Future.set_result`` raises ``InvalidStateError`` on a
cancelled future (bpo-33238, PR #7056).  Executors that check
``if not fut.cancelled(): fut.set_result(x)`` race with a caller's
``fut.cancel()`` between the check and the set: curio's ``UniversalQueue``
has exactly this window (dabeaz/curio#374), and pebble users met the same
``InvalidStateError`` after a cancel (noxdafox/pebble#75).  The documented
protocol is ``set_running_or_notify_cancel()``: once it returns True the
future is RUNNING and ``cancel()`` can no longer succeed.  Uses the real
stdlib ``concurrent.futures.Future`` (pure Python, built on a Condition).
"""

from __future__ import annotations

from concurrent.futures import Future, InvalidStateError
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/dabeaz/curio/issues/374; https://github.com/python/cpython/pull/7056 (bpo-33238); "
    "https://docs.python.org/3/library/concurrent.futures.html#concurrent.futures.Future.set_running_or_notify_cancel"
)


def setup() -> SimpleNamespace:
    return SimpleNamespace(fut=Future(), errors=[])


def worker(s: SimpleNamespace) -> None:
    if not s.fut.cancelled():
        try:
            s.fut.set_result(42)
        except InvalidStateError as exc:
            s.errors.append(f"InvalidStateError: {exc}")


def worker_fixed(s: SimpleNamespace) -> None:
    if s.fut.set_running_or_notify_cancel():
        s.fut.set_result(42)


def caller(s: SimpleNamespace) -> None:
    s.fut.cancel()


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(
        s.fut.cancelled() or s.fut.result(timeout=0) == 42, "future neither cancelled nor resolved"
    )


SCENARIO = Scenario(
    name="s_future_cancel_set_result",
    category="check-then-act",
    citation=CITATION,
    summary="Future: `if not f.cancelled(): f.set_result()` vs f.cancel() raises InvalidStateError",
    racy=Side(setup, [worker, caller], invariant),
    fixed=Side(setup, [worker_fixed, caller], invariant),
    expect="violation",
)
