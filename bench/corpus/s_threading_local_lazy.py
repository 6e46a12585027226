"""Check-then-act: creating a ``threading.local()`` lazily on first use.

ansible-runner's display callback did ``if not hasattr(self, '_local'):
self._local = threading.local()`` on first use.  Two threads could both see no
``_local``; the second assignment replaced the first thread's local object, so
that thread's per-thread context vanished and a later ``self._local._ctx``
raised ``AttributeError`` (ansible/ansible-runner PR #169, reported via
mitogen#400).  As the PR says, ``local()`` construction is not magically
thread-safe, only attribute access on one local object is; the fix builds the
local in the constructor.
"""

from __future__ import annotations

import threading

from ._scenario import Body, Scenario, Side, check

CITATION = "https://github.com/ansible/ansible-runner/pull/169 (mitogen-hq/mitogen#400)"


class EventContext:
    def __init__(self, eager: bool = False) -> None:
        self.errors: list[str] = []
        self.seen: list[str] = []
        if eager:
            self._local = threading.local()

    def add_local(self, **kwargs: str) -> None:
        if not hasattr(self, "_local"):
            self._local = threading.local()
        if not hasattr(self._local, "_ctx"):
            self._local._ctx = {}
        self._local._ctx.update(kwargs)

    def remove_local(self, key: str) -> None:
        self.seen.append(self._local._ctx.pop(key))


def _task(name: str) -> Body:
    def display(ctx: EventContext) -> None:
        try:
            ctx.add_local(task=name)
            ctx.remove_local("task")
        except AttributeError as exc:  # this thread's context was replaced
            ctx.errors.append(f"AttributeError: {exc}")

    return display


def make_eager() -> EventContext:
    return EventContext(eager=True)


def invariant(ctx: EventContext) -> None:
    check(not ctx.errors, f"errors: {ctx.errors}")
    check(sorted(ctx.seen) == ["a", "b"], f"per-thread contexts seen: {ctx.seen}")


SCENARIO = Scenario(
    name="s_threading_local_lazy",
    category="check-then-act",
    citation=CITATION,
    summary="`if not hasattr(self, '_local'): self._local = local()` replaces another thread's local",
    racy=Side(EventContext, [_task("a"), _task("b")], invariant),
    fixed=Side(make_eager, [_task("a"), _task("b")], invariant),
    expect="violation",
)
