"""Check-then-act in a lock-free ``cached_property``: the getter runs twice.

Python 3.12 removed the (class-wide) lock from ``functools.cached_property``
(gh-87634, PR #101890); the 3.12 "what's new" warns that "a cached property
getter function could now run more than once for a single instance, if two
threads race", and tells users who need synchronisation to lock inside the
getter.  A getter with a side effect, such as opening a connection, then
leaks one.  Re-expressed with our own lock-free descriptor so the scenario
behaves the same on every Python version; the fix locks per instance and
re-checks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/python/cpython/issues/87634; https://github.com/python/cpython/pull/101890; "
    "https://docs.python.org/3/whatsnew/3.12.html (cached_property locking removed)"
)

_MISSING = object()


class lockfree_cached_property:
    """What functools.cached_property does since 3.12, minus the details."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        value = cache.get(self.name, _MISSING)
        if value is _MISSING:
            value = self.func(instance)
            cache[self.name] = value
        return value


class locked_cached_property(lockfree_cached_property):
    """The fix: a per-instance lock around compute-and-store, with a re-check."""

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        value = cache.get(self.name, _MISSING)
        if value is _MISSING:
            with instance.lock:
                value = cache.get(self.name, _MISSING)
                if value is _MISSING:
                    value = self.func(instance)
                    cache[self.name] = value
        return value


class Client:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened: list[object] = []

    def _open(self) -> object:
        conn = object()
        self.opened.append(conn)
        return conn

    @lockfree_cached_property
    def connection(self) -> object:
        return self._open()

    @locked_cached_property
    def connection_locked(self) -> object:
        return self._open()


def use(c: Client) -> None:
    c.connection  # noqa: B018  (the access is the point)


def use_fixed(c: Client) -> None:
    c.connection_locked  # noqa: B018


def invariant(c: Client) -> None:
    check(len(c.opened) == 1, f"the cached getter opened {len(c.opened)} connections")


SCENARIO = Scenario(
    name="s_cached_property_twice",
    category="check-then-act",
    citation=CITATION,
    summary="lock-free cached_property (3.12+ semantics): two threads both run the getter",
    racy=Side(Client, [use, use], invariant),
    fixed=Side(Client, [use_fixed, use_fixed], invariant),
    expect="violation",
)
