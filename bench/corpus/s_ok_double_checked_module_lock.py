"""Correct code: double-checked lazy initialisation under a module-level lock.

The first check reads the shared attribute without the lock, which looks like
the check-then-act bug, but the creation re-checks under the lock and
publishes a fully built object with one store: every thread gets the same
registry and it is built once.  It is the fix sqlspec adopted for its pool
(litestar-org/sqlspec PR #347), with the lock where CPython's ``tempfile``
keeps its own (``_once_lock``, created at import).

The lock is created when this module is imported, before a tool can patch
``threading``: one of the two corpus scenarios on a module-level lock.  A
tool that hangs or reports a failure here has mishandled a lock it did not
create (a peer tool does).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/litestar-org/sqlspec/pull/347; "
    "https://github.com/python/cpython/blob/3.11/Lib/tempfile.py (_once_lock)"
)

# Module-level on purpose: created at import time, not in setup().
_once_lock = threading.Lock()


class Registry:
    def __init__(self) -> None:
        self.entries = {"json": "application/json"}


def setup() -> SimpleNamespace:
    return SimpleNamespace(registry=None, created=[], used=[])


def get_registry(s: SimpleNamespace) -> Registry:
    registry = s.registry
    if registry is None:
        with _once_lock:
            registry = s.registry
            if registry is None:
                registry = Registry()
                s.created.append(registry)
                s.registry = registry
    return registry


def user(s: SimpleNamespace) -> None:
    s.used.append(get_registry(s))


def invariant(s: SimpleNamespace) -> None:
    check(len(s.created) == 1, f"{len(s.created)} registries created")
    check(all(r is s.created[0] for r in s.used), "threads got different registries")


SCENARIO = Scenario(
    name="s_ok_double_checked_module_lock",
    category="correct code",
    citation=CITATION,
    summary="double-checked lazy init; 3 threads get one registry [module-level lock]",
    racy=None,
    fixed=Side(setup, [user, user, user], invariant),
    expect="",
)
