"""Virtual time for managed threads (and for the runner while it runs a schedule).

Inside a managed thread ``time.sleep`` is a scheduling point that blocks the
thread until the virtual clock reaches its deadline, and the clocks read the
virtual time.  The clock only moves when a sleeping or timed-waiting thread is
chosen to wake, or when every thread waits and it jumps to the earliest
deadline (see ``Execution._pass_baton``), so a schedule takes no real time to
sleep and always reads the same *relative* times.

Where the clock starts.  Code reads the real clocks before a schedule starts
(at import, in ``setup``, in a fixture) and compares those readings with ones
taken inside it: the virtual clock must never run behind them (issue 9: a
fixed base three years in the past made ``time.time() >= t0`` fail and a
Snowflake ID generator answer "clock moved backwards" forever).  So each
schedule's clocks start at the real reading taken when the schedule starts,
rounded *up* to a whole second: never behind anything read before, and the
same sub-second phase in every schedule and every replay, so per-second
windows, millisecond timestamps and every difference between two readings
replay exactly.  What a replay does not reproduce is the absolute reading
(the date): code that branches on it (``int(time.time()) % 60``) is flagged by
the nondeterminism check, which shifts the base between its two runs.

The runner thread reads the same virtual clock while it runs ``setup``,
``invariant`` and ``teardown`` of a schedule, so a timestamp taken in
``setup`` and one taken in a thread are on one clock.  Threads racecheck does
not manage (a pytest-timeout timer, a server thread started by a fixture)
keep real time; ``datetime.now()`` and file times are real too.
"""

from __future__ import annotations

import math

from .._core import execution, raw, threads
from .._core.access import Access
from .._core.threads import Sleep

_registry_get = threads.registry.get


def bases() -> tuple[float, float]:
    """The clock bases of a schedule starting now: (wall, monotonic), whole seconds ahead."""
    wall = math.floor(raw.real_time()) + 1.0
    mono = math.floor(max(raw.real_monotonic(), raw.real_perf_counter())) + 1.0
    return wall, mono


def _execution() -> execution.Execution | None:
    """The execution whose clock the caller reads; a managed thread's read takes time."""
    ident = raw.get_ident()
    mt = _registry_get(ident)
    if mt is not None:
        ex = mt.ex
        if not mt.busy:
            _tick(ex)
        return ex
    runner = threads.runner_view
    if runner is not None and runner[0] == ident:
        return runner[1]
    return None


#: Reading a clock takes virtual time: 1 us per read, doubling every READS_PER_DOUBLING
#: reads of one schedule, up to MAX_TICK.  A loop that polls the clock
#: (``while monotonic() < deadline``, ``multiprocessing.connection.wait``'s timeout
#: loop, a stress test that runs "for 5 seconds") waits for time to pass; on a clock
#: that only moves when every thread waits it would never end (issue 9).  The growth
#: is a time warp for such loops: a five-second stopwatch loop ends after a few
#: thousand iterations.  Deterministic: it depends only on the number of reads.
#: The count starts again whenever a timed wait or sleep ends and moves the clock
#: (``Execution._time_out``): code that reads the clock around its sleeps (10
#: threads timing 100 uses of a cache each, dogpile.cache's tests) is no spin, and
#: its readings must add up to its sleeps, not to ten milliseconds a read.
FIRST_TICK = 1e-6
READS_PER_DOUBLING = 256
MAX_TICK = 0.01


def _tick(ex: execution.Execution) -> None:
    reads = ex.clock_reads
    ex.clock_reads = reads + 1
    ex.clock += min(FIRST_TICK * (1 << min(reads // READS_PER_DOUBLING, 40)), MAX_TICK)


def sleep(secs: float) -> None:
    mt = threads.current()
    if mt is None or mt.busy:
        raw.real_sleep(secs)
        return
    if mt.ex.over:
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
    if mt.ex.wants_accesses:
        mt.pending = Access("sync", None, "clock" if secs else "yield", "sleep")
    if secs == 0:
        mt.ex.yield_point(mt)  # sleep(0) is a yield: a spin loop's way of letting others run
        return
    mt.ex.point(mt)
    mt.ex.block(mt, Sleep(secs), secs)


def time() -> float:
    ex = _execution()
    return raw.real_time() if ex is None else ex.base_time + ex.clock


def monotonic() -> float:
    ex = _execution()
    return raw.real_monotonic() if ex is None else ex.base_mono + ex.clock


def perf_counter() -> float:
    ex = _execution()
    return raw.real_perf_counter() if ex is None else ex.base_mono + ex.clock


def time_ns() -> int:
    ex = _execution()
    if ex is None:
        return raw.real_time_ns()
    return int(ex.base_time) * 1_000_000_000 + round(ex.clock * 1e9)


def monotonic_ns() -> int:
    ex = _execution()
    if ex is None:
        return raw.real_monotonic_ns()
    return int(ex.base_mono) * 1_000_000_000 + round(ex.clock * 1e9)


def perf_counter_ns() -> int:
    ex = _execution()
    if ex is None:
        return raw.real_perf_counter_ns()
    return int(ex.base_mono) * 1_000_000_000 + round(ex.clock * 1e9)
