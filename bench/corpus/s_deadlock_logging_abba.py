"""Deadlock (ABBA): logging's module lock versus a handler's lock.

``logging.config.dictConfig`` takes the logging module lock and then each
handler's lock (to flush and close the old handlers), while a custom
``Handler.emit`` runs with its handler lock held and may call into code that
does ``logging.getLogger()``, which takes the module lock: the two threads
take the same two locks in opposite orders (python/cpython#96727, "logging
deadlock when dictConfig or fileConfig used concurrently with custom
handlers").  Re-expressed with two RLocks, as logging uses.  The fix takes
them in one order: ``emit`` resolves the logger before taking its handler
lock.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/python/cpython/issues/96727"


class Handler:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.records: list[str] = []
        self.flushed = False


class Logging:
    def __init__(self) -> None:
        self.module_lock = threading.RLock()  # logging._lock
        self.loggers: dict[str, str] = {}
        self.handler = Handler()

    def get_logger(self, name: str) -> str:
        with self.module_lock:
            return self.loggers.setdefault(name, name)


def dict_config(lg: Logging) -> None:
    with lg.module_lock:  # noqa: SIM117  (dictConfig: module lock first...)
        with lg.handler.lock:  # ...then each handler (flush/close)
            lg.handler.flushed = True


def emit(lg: Logging) -> None:
    with lg.handler.lock:  # Handler.handle() holds the handler lock...
        name = lg.get_logger("library")  # ...and emit() calls getLogger()
        lg.handler.records.append(f"{name}: hello")


def emit_fixed(lg: Logging) -> None:
    name = lg.get_logger("library")  # resolve outside the handler lock
    with lg.handler.lock:
        lg.handler.records.append(f"{name}: hello")


def invariant(lg: Logging) -> None:
    check(
        lg.handler.flushed and lg.handler.records == ["library: hello"], "a thread did not finish"
    )


SCENARIO = Scenario(
    name="s_deadlock_logging_abba",
    category="deadlock",
    citation=CITATION,
    summary="dictConfig takes module lock then handler lock; emit takes handler lock then module lock",
    racy=Side(Logging, [dict_config, emit], invariant),
    fixed=Side(Logging, [dict_config, emit_fixed], invariant),
    expect="deadlock",
)
