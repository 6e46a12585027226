"""Locks that exist before any exploration starts: the hard case, and the common one."""

from __future__ import annotations

import functools
import threading
from threading import RLock  # bound at import, before racecheck patches threading

_module_lock = threading.Lock()
_module_rlock = RLock()
total = 0


def add_with_module_lock() -> None:
    global total
    with _module_lock:
        value = total
        total = value + 1


def add_with_module_rlock() -> None:
    global total
    with _module_rlock, _module_rlock:
        value = total
        total = value + 1


class Registry:
    class_lock = threading.Lock()  # made in the class body

    def __init__(self) -> None:
        self._lock = threading.Lock()  # made when REGISTRY is built, at import
        self.items: dict[str, int] = {}
        self.count = 0

    def register(self, name: str) -> None:
        with self._lock:
            n = self.count
            self.items[name] = n
            self.count = n + 1

    def register_class_locked(self, name: str) -> None:
        with Registry.class_lock:
            n = self.count
            self.items[name] = n
            self.count = n + 1

    def register_unlocked(self, name: str) -> None:
        n = self.count
        self.items[name] = n
        self.count = n + 1


REGISTRY = Registry()


class Expensive:
    computed = 0

    @functools.cached_property
    def value(self) -> int:
        Expensive.computed += 1
        return 42


SHARED = Expensive()


import time as _time_module  # noqa: E402
from time import monotonic as clock  # noqa: E402  - bound before patching, as queue.py does
from time import time as wall  # noqa: E402


def elapsed_with_default(start: float, timer=_time_module.monotonic) -> float:  # type: ignore[no-untyped-def]
    _time_module.sleep(5)
    return timer() - start  # type: ignore[no-any-return]


def read_bound_clocks() -> tuple[float, float]:
    return clock(), wall()
