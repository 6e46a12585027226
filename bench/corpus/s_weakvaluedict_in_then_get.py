"""Check-then-act on ``weakref.WeakValueDictionary``: ``if k in d: return d[k]``.

The value can lose its last strong reference between the membership test and
the lookup; the entry then vanishes and ``d[k]`` raises ``KeyError``.  salt
replaced ``in`` + ``[]`` with ``get()`` (saltstack/salt PR #42387, "Fix race
condition in usage of weakvaluedict"); GB2260.py did the same (cn/GB2260.py
PR #14) and twisted/axiom#33 describes the pattern.  Here the last strong
reference is dropped by another thread, and the stdlib's pure-Python
``WeakValueDictionary`` does the rest (CPython frees the object at once).
"""

from __future__ import annotations

import weakref
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/saltstack/salt/pull/42387; https://github.com/cn/GB2260.py/pull/14; "
    "https://github.com/twisted/axiom/issues/33"
)


class Session:
    def __init__(self, name: str) -> None:
        self.name = name


def setup() -> SimpleNamespace:
    cache: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()
    owners = [Session("s1")]  # the only strong reference
    cache["s1"] = owners[0]
    return SimpleNamespace(cache=cache, owners=owners, found=[], errors=[])


def lookup(s: SimpleNamespace) -> None:
    if "s1" in s.cache:
        try:
            s.found.append(s.cache["s1"].name)
        except KeyError:
            s.errors.append("KeyError: 's1' after `'s1' in cache` was True")


def lookup_fixed(s: SimpleNamespace) -> None:
    session = s.cache.get("s1")
    if session is not None:
        s.found.append(session.name)


def drop_owner(s: SimpleNamespace) -> None:
    s.owners.clear()


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")


SCENARIO = Scenario(
    name="s_weakvaluedict_in_then_get",
    category="check-then-act",
    citation=CITATION,
    summary="WeakValueDictionary `if k in d: d[k]` raises KeyError when another thread drops the last ref",
    racy=Side(setup, [lookup, drop_owner], invariant),
    fixed=Side(setup, [lookup_fixed, drop_owner], invariant),
    expect="violation",
)
