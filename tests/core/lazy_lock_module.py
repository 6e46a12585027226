"""A module whose lock is made lazily, after racecheck may already have scanned it."""

from __future__ import annotations

import threading

_lock: threading.Lock | None = None
total = 0


def make_lock() -> None:
    global _lock
    _lock = threading.Lock()


def add() -> None:
    global total
    assert _lock is not None
    with _lock:
        value = total
        total = value + 1
