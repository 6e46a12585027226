"""Each verdict on racy code, with the fixed code beside it passing its full budget."""

from __future__ import annotations

import threading
import time

import pytest

import racecheck

SEED = 20261126


# --- the seed notebook's db_value lost update: read, sleep, write back -------------


class Db:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def increase_db_value(db: Db) -> None:
    local_copy = db.value
    local_copy += 1
    time.sleep(0.1)
    db.value = local_copy


def increase_db_value_locked(db: Db) -> None:
    with db.lock:
        local_copy = db.value
        local_copy += 1
        time.sleep(0.1)
        db.value = local_copy


def test_db_value_lost_update_found_in_first_schedules() -> None:
    result = racecheck.explore(
        [increase_db_value, increase_db_value], setup=Db,
        invariant=lambda db: db.value == 2, schedules=100, seed=SEED,
    )
    assert not result.ok
    failure = result.failure
    assert failure is not None
    assert failure.kind == "violation"
    assert failure.schedule_index < 5
    assert "LOST UPDATE" in failure.report
    assert "db.value" in failure.report
    assert failure.report.rstrip().endswith(")")  # ends with the replay line
    assert failure.token in failure.report.splitlines()[-1]


def test_db_value_lock_fix_passes_full_budget() -> None:
    result = racecheck.explore(
        [increase_db_value_locked, increase_db_value_locked], setup=Db,
        invariant=lambda db: db.value == 2, schedules=300, seed=SEED, strategy="portfolio",
    )
    assert result.ok, result
    assert result.schedules_run == 300
    proved = racecheck.explore(
        [increase_db_value_locked, increase_db_value_locked], setup=Db,
        invariant=lambda db: db.value == 2, schedules=300, seed=SEED,
    )
    assert proved.ok and proved.evidence.exhaustive_up_to_preemptions == 2
    assert proved.schedules_run < 300  # the default stops at its proof


# --- x += 1 on a global and on an attribute ------------------------------------------

counter = 0


def bump_global() -> None:
    global counter
    counter += 1


def reset_global() -> None:
    global counter
    counter = 0


def test_global_increment_race_found() -> None:
    result = racecheck.explore(
        [bump_global, bump_global],
        setup=None, invariant=lambda: counter == 2, teardown=reset_global,
        schedules=200, seed=SEED,
    )
    assert result.failure is not None and result.failure.kind == "violation"


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        self.n += 1

    def add_locked(self) -> None:
        with self.lock:
            self.n += 1


def test_attribute_increment_race_found_and_lock_fix_passes() -> None:
    racy = racecheck.explore([Counter.add, Counter.add], setup=Counter,
                             invariant=lambda c: c.n == 2, schedules=200, seed=SEED)
    assert racy.failure is not None and racy.failure.kind == "violation"
    assert "self.n" in racy.failure.report
    fixed = racecheck.explore([Counter.add_locked, Counter.add_locked], setup=Counter,
                              invariant=lambda c: c.n == 2, schedules=200, seed=SEED)
    assert fixed.ok


# --- lazy initialisation: check-then-act ----------------------------------------------


class Lazy:
    def __init__(self) -> None:
        self.instance: object | None = None
        self.created = 0
        self.lock = threading.Lock()

    def get(self) -> object:
        if self.instance is None:
            self.created += 1
            self.instance = object()
        return self.instance

    def get_locked(self) -> object:
        with self.lock:
            if self.instance is None:
                self.created += 1
                self.instance = object()
        return self.instance


def test_lazy_init_check_then_act_found() -> None:
    result = racecheck.explore([Lazy.get, Lazy.get], setup=Lazy,
                               invariant=lambda s: s.created == 1, schedules=200, seed=SEED)
    assert result.failure is not None and result.failure.kind == "violation"
    fixed = racecheck.explore([Lazy.get_locked, Lazy.get_locked], setup=Lazy,
                              invariant=lambda s: s.created == 1, schedules=200, seed=SEED)
    assert fixed.ok


# --- deadlocks -------------------------------------------------------------------------


class Two:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def a_then_b(s: Two) -> None:
    with s.a, s.b:
        pass


def b_then_a(s: Two) -> None:
    with s.b, s.a:
        pass


def test_abba_deadlock_reported_with_cycle() -> None:
    result = racecheck.explore([a_then_b, b_then_a], setup=Two, schedules=200, seed=SEED)
    failure = result.failure
    assert failure is not None and failure.kind == "deadlock"
    assert len(failure.cycle) == 2
    assert {(e.waiter, e.holder) for e in failure.cycle} == {("T1", "T2"), ("T2", "T1")}
    assert failure.kind is racecheck.Verdict.DEADLOCK
    assert failure.replayed is racecheck.Verdict.DEADLOCK  # the report is the replay's run
    assert "Wait-for cycle" in failure.report
    assert "held by T2" in failure.report and "held by T1" in failure.report
    ordered = racecheck.explore([a_then_b, a_then_b], setup=Two, schedules=200, seed=SEED)
    assert ordered.ok


def test_self_deadlock_on_non_reentrant_lock() -> None:
    def twice(s: Two) -> None:
        with s.a, s.a:
            pass

    result = racecheck.explore([twice], setup=Two, schedules=5, seed=SEED)
    failure = result.failure
    assert failure is not None and failure.kind == "deadlock"
    assert failure.cycle and (failure.cycle[0].waiter, failure.cycle[0].holder) == ("T1", "T1")
    assert "held by T1" in str(failure.cycle[0])


def test_deadlock_hidden_by_timeout_is_a_deadlock_when_the_code_then_fails() -> None:
    def a_then_b_timed(s: Two) -> None:
        with s.a:
            if not s.b.acquire(timeout=1.0):
                raise TimeoutError("could not get b")
            s.b.release()

    result = racecheck.explore([a_then_b_timed, b_then_a], setup=Two, schedules=300, seed=SEED)
    failure = result.failure
    assert failure is not None and failure.kind == "deadlock"
    assert "hidden by a timeout" in failure.message
    assert failure.cycle


def test_timeout_backoff_that_recovers_passes_with_a_note() -> None:
    def a_then_b_backoff(s: Two) -> None:
        while True:
            with s.a:
                if s.b.acquire(timeout=0.5):
                    s.b.release()
                    return
            time.sleep(0.01)

    result = racecheck.explore([a_then_b_backoff, b_then_a], setup=Two, schedules=300,
                               seed=SEED)
    assert result.ok, result
    assert any("wait-for cycle" in note for note in result.notes)


# --- Condition: `if` instead of `while` -----------------------------------------------


class Box:
    def __init__(self) -> None:
        self.items: list[int] = []
        self.cond = threading.Condition()
        self.got: list[int] = []


def consumer_if(b: Box) -> None:
    with b.cond:
        if not b.items:
            b.cond.wait()
        b.got.append(b.items.pop())


def consumer_while(b: Box) -> None:
    with b.cond:
        while not b.items:
            b.cond.wait()
        b.got.append(b.items.pop())


def producer(b: Box) -> None:
    for i in range(2):
        with b.cond:
            b.items.append(i)
            b.cond.notify_all()


def test_condition_if_instead_of_while_found() -> None:
    result = racecheck.explore([consumer_if, consumer_if, producer], setup=Box,
                               schedules=300, seed=SEED)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    assert isinstance(failure.exception, IndexError)
    fixed = racecheck.explore([consumer_while, consumer_while, producer], setup=Box,
                              invariant=lambda b: sorted(b.got) == [0, 1],
                              schedules=300, seed=SEED)
    assert fixed.ok, fixed


# --- queue worker pool (the notebook's last cell) -------------------------------------


def test_queue_worker_pool_with_daemon_threads_passes() -> None:
    import queue

    def pool() -> None:
        q: queue.Queue[int] = queue.Queue()
        lock = threading.Lock()
        seen: list[str] = []

        def worker() -> None:
            while True:
                value = q.get()
                with lock:
                    seen.append(f"{threading.current_thread().name}: {value}")
                q.task_done()

        for _ in range(3):
            threading.Thread(target=worker, daemon=True).start()
        for i in range(1, 7):
            q.put(i)
        q.join()
        assert sorted(int(s.split(": ")[1]) for s in seen) == [1, 2, 3, 4, 5, 6]

    result = racecheck.check(pool, schedules=150, seed=SEED)
    assert result.ok and result.schedules_run == 150


# --- other verdicts -------------------------------------------------------------------


def test_exception_escaping_a_thread_is_a_violation_naming_the_thread() -> None:
    def boom(s: object) -> None:
        raise KeyError("missing")

    result = racecheck.explore([boom], setup=object, schedules=3, seed=SEED)
    failure = result.failure
    assert failure is not None and failure.kind == "violation"
    assert failure.thread_name == "T1"
    assert isinstance(failure.exception, KeyError)
    assert "KeyError" in failure.report and "in boom" in failure.report


def test_spin_loop_is_a_hang() -> None:
    class Flag:
        ready = False

    def spin(f: Flag) -> None:
        while not f.ready:
            pass

    result = racecheck.explore([spin], setup=Flag, schedules=3, seed=SEED, max_steps=5_000)
    assert result.failure is not None and result.failure.kind == "hang"
    assert "5000 scheduling points" in result.failure.message


def test_thread_pool_executor_results_pass() -> None:
    import concurrent.futures

    def work() -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            assert list(ex.map(lambda x: x * x, range(4))) == [0, 1, 4, 9]
            assert ex.submit(sum, [1, 2]).result() == 3

    assert racecheck.check(work, schedules=60, seed=SEED).ok


def test_thread_pool_executor_unguarded_counter_race_found() -> None:
    import concurrent.futures

    class Hits:
        n = 0

    def hit(h: type[Hits]) -> None:
        h.n += 1

    def work() -> None:
        Hits.n = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            for _ in range(2):
                ex.submit(hit, Hits)
        assert Hits.n == 2

    with pytest.raises(racecheck.RaceFound) as info:
        racecheck.check(work, schedules=1000, seed=SEED)
    assert info.value.failure.kind == "violation"


def test_recording_never_calls_repr_on_user_objects() -> None:
    class Touchy:
        reprs = 0

        def __repr__(self) -> str:
            Touchy.reprs += 1  # like pandas filling a cache when printed
            return "Touchy()"

    class Holder:
        def __init__(self) -> None:
            self.item: object = Touchy()
            self.n = 0

    def swap(h: Holder) -> None:
        h.item = Touchy()
        h.n += 1

    result = racecheck.explore([swap, swap], setup=Holder, invariant=lambda h: h.n == 2,
                               seed=SEED, schedules=200)
    assert result.failure is not None
    assert "<Touchy>" in result.failure.report
    assert Touchy.reprs == 0


def test_a_lock_released_at_the_moment_a_schedule_ends_is_not_left_locked() -> None:
    shared = threading.Lock()  # outlives every schedule, like a module-level lock

    def work(s: object) -> None:
        shared.acquire()
        shared.release()
        raise ValueError("end the schedule while the other thread is parked")

    for seed in range(10):
        racecheck.explore([work, work], setup=object, seed=seed, schedules=5)
        assert not shared.locked()


def test_a_step_budget_bounds_all_the_schedules_together() -> None:
    """Deterministic, unlike time_budget: the same budget stops at the same schedule."""
    def worker(s: list[int]) -> None:
        for _ in range(50):
            s.append(1)

    runs = [racecheck.explore([worker, worker], setup=list, schedules=100, seed=3,
                              step_budget=2_000) for _ in range(2)]
    assert runs[0].ok and 1 < runs[0].schedules_run < 100
    assert runs[0].schedules_run == runs[1].schedules_run
    assert any("step budget of 2,000 scheduling points spent" in n for n in runs[0].notes)
    with pytest.raises(racecheck.InvalidArgument, match="step_budget must be a positive integer"):
        racecheck.explore([worker], setup=list, step_budget=0)
