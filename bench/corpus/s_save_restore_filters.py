"""Atomicity violation: save / patch / restore of shared state from two threads.

``warnings.catch_warnings`` saves the module's filter list on entry and puts
the saved value back on exit.  Two threads doing this interleave their saves
and restores, so one of them restores a list that contains the other's
temporary filter, which then outlives both blocks.  The docs long said the
manager is not thread-safe; gh-128384 ("warnings.catch_warnings is not thread
safe or async safe") fixed it in 3.14 by keeping the filters in a context
variable (PR #130010).  Re-expressed with our own settings object; the fixed
side keeps the override per context, as the CPython fix does.
"""

from __future__ import annotations

import contextvars
from types import SimpleNamespace

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://github.com/python/cpython/issues/128384; https://github.com/python/cpython/pull/130010; "
    "https://docs.python.org/3/library/warnings.html#warnings.catch_warnings"
)

DEFAULT = ("default::DeprecationWarning",)


def setup() -> SimpleNamespace:
    return SimpleNamespace(
        filters=DEFAULT,
        override=contextvars.ContextVar("filters_override", default=None),
        seen={},
    )


def _catch(extra: str) -> Body:
    def with_filter(s: SimpleNamespace) -> None:
        saved = s.filters  # __enter__: save the module-global list
        s.filters = (extra, *saved)  # simplefilter(...) inside the block
        s.seen[extra] = extra in s.filters  # the block's own warnings
        s.filters = saved  # __exit__: restore what was saved

    return with_filter


def _catch_fixed(extra: str) -> Body:
    def with_filter_ctx(s: SimpleNamespace) -> None:
        current = s.override.get() or s.filters
        token = s.override.set((extra, *current))
        s.seen[extra] = extra in s.override.get()
        s.override.reset(token)

    return with_filter_ctx


def invariant(s: SimpleNamespace) -> None:
    check(s.filters == DEFAULT, f"filters after both blocks: {s.filters}")
    check(all(s.seen.values()), f"a block did not see its own filter: {s.seen}")


SCENARIO = Scenario(
    name="s_save_restore_filters",
    category="atomicity violation",
    citation=CITATION,
    summary="catch_warnings-style save/patch/restore in two threads leaks one thread's filter",
    racy=Side(setup, [_catch("ignore::UserWarning"), _catch("error::ResourceWarning")], invariant),
    fixed=Side(
        setup,
        [_catch_fixed("ignore::UserWarning"), _catch_fixed("error::ResourceWarning")],
        invariant,
    ),
    expect="violation",
)
