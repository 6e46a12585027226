"""Container corruption: iterating a registry dict while another thread adds to it.

``inspect.getmodule`` looped over ``sys.modules.items()`` while other threads
imported modules, and died with "RuntimeError: dictionary changed size during
iteration"; bpo-13487 fixed it by iterating over ``sys.modules.copy()`` (PR
#18786), and bpo-45353 (PR #28842) added that advice to the ``sys.modules``
docs.  Hypothesis (PR #4363), ipykernel (PR #1514) and freezegun (PR #592)
made the same fix.  Re-expressed with our own registry; ``dict.copy()`` is a
single C call, so the snapshot is taken in one step.
"""

from __future__ import annotations

from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = (
    "https://bugs.python.org/issue13487; https://github.com/python/cpython/pull/18786; "
    "https://github.com/HypothesisWorks/hypothesis/pull/4363"
)


class Module:
    def __init__(self, name: str) -> None:
        self.__name__ = name
        self.__file__ = f"/site-packages/{name}.py"


def setup() -> SimpleNamespace:
    modules = {name: Module(name) for name in ("os", "json", "app")}
    return SimpleNamespace(modules=modules, found=[], errors=[])


def getmodule(s: SimpleNamespace) -> None:
    try:
        for name, module in s.modules.items():
            if module.__file__ == "/site-packages/app.py":
                s.found.append(name)
    except RuntimeError as exc:
        s.errors.append(f"RuntimeError: {exc}")


def getmodule_fixed(s: SimpleNamespace) -> None:
    for name, module in s.modules.copy().items():
        if module.__file__ == "/site-packages/app.py":
            s.found.append(name)


def importer(s: SimpleNamespace) -> None:
    s.modules["decimal"] = Module("decimal")  # an import on another thread


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")
    check(s.found == ["app"], f"getmodule found {s.found}")


SCENARIO = Scenario(
    name="s_dict_changed_size",
    category="container corruption",
    citation=CITATION,
    summary="for-loop over a module registry's items() while a thread imports: dict changed size",
    racy=Side(setup, [getmodule, importer], invariant),
    fixed=Side(setup, [getmodule_fixed, importer], invariant),
    expect="violation",
)
