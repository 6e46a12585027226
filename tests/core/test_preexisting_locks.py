"""Correct code on locks made before the exploration passes (no hang, no false alarm)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

import racecheck
from racecheck.strategies import RandomStrategy

from . import preexisting_locks as mod


def _start_and_join(target: object, count: int = 2) -> None:
    """The plain-threading test shape: start ``count`` threads on ``target``, join them."""
    ts = [threading.Thread(target=target) for _ in range(count)]  # type: ignore[arg-type]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _reset() -> None:
    mod.total = 0
    mod.REGISTRY.items.clear()
    mod.REGISTRY.count = 0


def _run(body: object, schedules: int = 150) -> racecheck.Result:
    def two_threads() -> None:
        _reset()
        ts = [threading.Thread(target=body, args=args)  # type: ignore[arg-type]
              for args in (("a",), ("b",))] if body in _NAMED else [
            threading.Thread(target=body) for _ in range(2)]  # type: ignore[arg-type]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert mod.total == 2 or mod.REGISTRY.count == 2

    return racecheck.check(two_threads, schedules=schedules, seed=9, watchdog=2)


_NAMED = {mod.REGISTRY.register, mod.REGISTRY.register_class_locked,
          mod.REGISTRY.register_unlocked}


def test_module_level_lock() -> None:
    assert _run(mod.add_with_module_lock).ok


def test_rlock_bound_by_name_before_patching() -> None:
    assert _run(mod.add_with_module_rlock).ok


def test_lock_on_an_instance_made_at_import() -> None:
    assert _run(mod.REGISTRY.register).ok


def test_lock_made_in_a_class_body() -> None:
    assert _run(mod.REGISTRY.register_class_locked).ok


def test_the_unlocked_version_is_still_caught() -> None:
    try:
        _run(mod.REGISTRY.register_unlocked, schedules=300)
    except racecheck.RaceFound as exc:
        assert exc.failure.kind == "violation"
    else:
        raise AssertionError("the unlocked registry race was not found")


def test_cached_property_lock_made_at_class_creation() -> None:
    def readers() -> None:
        mod.SHARED.__dict__.pop("value", None)
        ts = [threading.Thread(target=lambda: mod.SHARED.value) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert mod.SHARED.value == 42

    assert racecheck.check(readers, schedules=100, seed=4, watchdog=2).ok


def test_originals_are_back_afterwards() -> None:
    before = (mod._module_lock, mod._module_rlock, mod.REGISTRY._lock, mod.Registry.class_lock)
    _run(mod.add_with_module_lock, schedules=3)
    after = (mod._module_lock, mod._module_rlock, mod.REGISTRY._lock, mod.Registry.class_lock)
    assert all(a is b for a, b in zip(before, after, strict=True))
    assert type(mod._module_lock).__module__ == "_thread"


class Account:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # made before the exploration, like a pytest fixture
        self.balance = 0

    def deposit(self) -> None:
        with self.lock:
            b = self.balance
            self.balance = b + 1


def test_lock_on_an_object_made_before_and_captured_by_the_test() -> None:
    account = Account()  # a fixture's object: real lock, not reachable from any module

    def test_body() -> None:
        account.balance = 0
        _start_and_join(account.deposit)
        assert account.balance == 2

    real = account.lock
    assert racecheck.check(test_body, schedules=150, seed=3, watchdog=2).ok
    assert account.lock is real


def test_clock_names_bound_at_import_and_default_arguments_see_virtual_time() -> None:
    seen: list[tuple[float, ...]] = []

    def body() -> None:
        before = mod.read_bound_clocks()
        start = mod.clock()
        elapsed = mod.elapsed_with_default(start)
        after = mod.read_bound_clocks()
        seen.append((elapsed, after[0] - before[0], after[1] - before[1]))

    assert racecheck.check(body, schedules=3, seed=1).ok
    for elapsed, mono, wall in seen:
        assert 5 <= elapsed < 5.5  # virtual: exactly the sleep, whatever the machine did
        assert 5 <= mono < 5.5 and 4.9 <= wall < 5.5


def test_a_lock_bound_after_an_earlier_scan_is_still_wrapped() -> None:
    from . import lazy_lock_module as lazy

    def two_adders() -> None:
        lazy.total = 0
        _start_and_join(lazy.add)
        assert lazy.total == 2

    # First exploration: the module has no lock yet, so its scan finds nothing.
    assert racecheck.check(lambda: None, schedules=1, seed=1).ok
    lazy.make_lock()  # a real lock, made outside any exploration
    assert racecheck.check(two_adders, schedules=100, seed=1, watchdog=2).ok
    assert type(lazy._lock).__module__ == "_thread"


def test_a_lock_found_only_when_a_thread_stalls_on_it_is_taken_over() -> None:
    from . import hidden_lock_module as hidden

    def body() -> None:
        hidden.get_account().balance = 0
        _start_and_join(hidden.get_account().deposit)
        assert hidden.get_account().balance == 2

    real = hidden.get_account().lock
    # A generous watchdog: without the take-over, a stall would be a 'hang' verdict.
    result = racecheck.check(body, schedules=50, seed=2, watchdog=30)
    assert result.ok and result.schedules_run == 50
    assert hidden.get_account().lock is real  # restored afterwards


class CountingBegins(RandomStrategy):
    """Uniform random, counting begin() calls (a search stack would move once per call)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.begins = 0

    def begin(self, index: int) -> bool:
        self.begins += 1
        return super().begin(index)


@pytest.mark.parametrize("isolate", [True, False])
def test_a_schedule_retried_after_a_stall_begins_once(isolate: bool) -> None:
    """Issue 12: a retried schedule called the strategy's begin() again."""
    from . import hidden_lock_module as hidden

    def body() -> None:
        hidden.get_account().balance = 0
        _start_and_join(hidden.get_account().deposit)
        assert hidden.get_account().balance == 2

    strategy = CountingBegins(3)
    result = racecheck.check(body, schedules=20, seed=3, watchdog=30, strategy=strategy,
                             isolate=isolate)
    assert result.ok and result.schedules_run == 20
    assert strategy.begins == 20


UNREGISTERED = '''
from threading import Lock, Thread

count = 0


def bump(lock):
    global count
    with lock:
        seen = count
        count = seen + 1


def main():
    global count
    count = 0
    lock = Lock()  # the name was bound at import, before racecheck patched anything
    threads = [Thread(target=bump, args=(lock,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count == 2
'''


def test_a_module_outside_sys_modules_gets_its_names_patched(tmp_path: Path) -> None:
    """A module loaded from a file and never registered (a benchmark loading examples)."""
    import importlib.util
    import threading

    path = tmp_path / "unregistered_subject.py"
    path.write_text(UNREGISTERED)
    spec = importlib.util.spec_from_file_location("unregistered_subject", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "unregistered_subject" not in sys.modules
    result = racecheck.explore([module.main], schedules=20, seed=0, watchdog=2,
                               mode="controlled")
    assert result.ok, result.failure  # a real lock there: a hang at the first contention
    assert module.Lock is threading.Lock  # and put back
