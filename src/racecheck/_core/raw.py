"""Primitives saved before racecheck patches anything.

racecheck's own machinery (gates between managed threads, the runner's wait)
must never go through the cooperative shims it installs, so it takes these
references at import time, before any patching can have happened.
"""

from __future__ import annotations

import _thread
import sys
import threading
import time

allocate_lock = _thread.allocate_lock
getframe = sys._getframe
get_ident = _thread.get_ident
start_new_thread = _thread.start_new_thread
real_sleep = time.sleep
real_time = time.time
real_monotonic = time.monotonic
real_perf_counter = time.perf_counter
real_time_ns = time.time_ns
real_monotonic_ns = time.monotonic_ns
real_perf_counter_ns = time.perf_counter_ns
real_thread_time = time.thread_time
active_limbo_lock = threading._active_limbo_lock  # type: ignore[attr-defined]
active_threads: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]

#: racecheck's own source directory: its frames are never instrumented or reported.
PACKAGE_DIR = __file__.rsplit("/", 2)[0]


def _plugin_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pytest_racecheck")  # found, not imported
    origin = spec.origin if spec is not None else None
    return origin.rsplit("/", 1)[0] + "/" if origin else PACKAGE_DIR


#: racecheck's and its pytest plugin's directories (the plugin's frames run test bodies).
OWN_DIRS = (PACKAGE_DIR, _plugin_dir())


_harness: tuple[str, ...] = ()


def harness_dirs() -> tuple[str, ...]:
    """pytest's and pluggy's directories, once they are imported: the test harness.

    A schedule of a pytest test sets up and tears down its fixtures through
    them; they are never instrumented (no scheduling points in pytest's own
    bookkeeping, only in the fixtures' code) nor shown in an interleaving.
    """
    global _harness
    if len(_harness) < 2:
        dirs = []
        for name in ("_pytest", "pluggy"):
            path = getattr(sys.modules.get(name), "__file__", None)
            if path:
                dirs.append(path.rsplit("/", 1)[0] + "/")
        _harness = tuple(dirs)
    return _harness
