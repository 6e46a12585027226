"""Virtual time for managed threads.

Inside a managed thread ``time.sleep`` is a scheduling point that blocks the
thread until the virtual clock reaches its deadline, and the clocks read the
virtual time; outside, everything is real.  The clock only moves when a
sleeping or timed-waiting thread is chosen to wake, or when every thread waits
and it jumps to the earliest deadline (see ``Execution._pass_baton``), so a
schedule takes no real time to sleep and always reads the same times.
"""

from __future__ import annotations

from .._core import raw
from .._core.execution import Sleep, current

# Fixed per process, so every schedule of every exploration reads the same times.
BASE_TIME = 1_700_000_000.0
BASE_MONO = 1_000.0


def sleep(secs: float) -> None:
    mt = current()
    if mt is None or mt.busy:
        raw.real_sleep(secs)
        return
    if mt.ex.aborted:
        return  # unwinding from an ended schedule: no time passes
    if not isinstance(secs, (int, float)) or isinstance(secs, bool):
        try:
            secs = float(secs)  # Fractions, Decimals and numpy scalars are accepted by time.sleep
        except (TypeError, ValueError):
            raise TypeError(
                f"'{type(secs).__name__}' object cannot be interpreted as an integer"
            ) from None
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    mt.ex.point(mt)
    if secs > 0:
        mt.ex.block(mt, Sleep(secs), secs)


def time() -> float:
    mt = current()
    return raw.real_time() if mt is None else BASE_TIME + mt.ex.clock


def monotonic() -> float:
    mt = current()
    return raw.real_monotonic() if mt is None else BASE_MONO + mt.ex.clock


def perf_counter() -> float:
    mt = current()
    return raw.real_perf_counter() if mt is None else BASE_MONO + mt.ex.clock


def time_ns() -> int:
    return int(time() * 1e9)


def monotonic_ns() -> int:
    return int(monotonic() * 1e9)


def perf_counter_ns() -> int:
    return int(perf_counter() * 1e9)
