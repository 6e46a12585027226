"""DPOR: every equivalence class of schedules within the bound, fewer runs, and a proof.

Two layers.  Simulated programs (threads as lists of step effects, no real
threads) check the search itself against brute force: over many random
programs, the classes ``dpor`` runs are exactly the classes the bounded
brute force runs.  Real programs, explored in-process, check the effects the
kernel logs: ``dpor`` reaches every final state and every verdict the brute
force reaches, on code whose conflicts hide in C methods, operators,
iterators, exceptions and threading's own objects.
"""

from __future__ import annotations

import collections
import functools
import queue
import random
import threading
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest

import racecheck
from racecheck._core.effects import content_atom, dependent
from racecheck.strategies import BoundedStrategy, DporStrategy, ScheduleSummary, Strategy

# ----------------------------------------------------------- simulated programs

Program = Sequence[Sequence[list[Any]]]  # per thread, the effect of each step


def simulate(strategy: Strategy, program: Program, index: int) -> ScheduleSummary:
    left = [0] * len(program)
    choices: list[int] = []
    currents: list[int] = []
    options: list[tuple[int, ...]] = []
    steps: list[list[Any]] = []
    last = -1
    while True:
        runnable = tuple(t for t in range(len(program)) if left[t] < len(program[t]))
        if not runnable:
            break
        point = -1
        if len(runnable) > 1:
            current = last if last in runnable else -1
            chosen = strategy.choose(runnable, current)
            assert chosen in runnable
            point = len(choices)
            choices.append(chosen)
            currents.append(current)
            options.append(runnable)
        else:
            chosen = runnable[0]
        steps.append([chosen, point, program[chosen][left[chosen]]])
        left[chosen] += 1
        last = chosen
    return ScheduleSummary(index, None, len(steps), tuple(choices), tuple(currents),
                           tuple(options), tuple(steps))


def signature(steps: Sequence[list[Any]]) -> frozenset[tuple[tuple[int, int], tuple[int, int]]]:
    """The equivalence class of a run: the order of every pair of conflicting steps."""
    seen: dict[int, int] = collections.Counter()
    named = []
    for tid, _point, atoms in steps:
        named.append(((tid, seen[tid]), atoms))
        seen[tid] += 1
    return frozenset((a, b) for i, (a, ea) in enumerate(named) for b, eb in named[i + 1:]
                     if a[0] != b[0] and dependent(ea, eb))


def explore_all(strategy: Strategy, program: Program, budget: int = 200_000
                ) -> list[ScheduleSummary]:
    runs: list[ScheduleSummary] = []
    for index in range(budget):
        if not strategy.begin(index):
            return runs
        summary = simulate(strategy, program, index)
        strategy.end(summary)
        runs.append(summary)
    raise AssertionError("the search did not end within its budget")


_ATOMS: list[list[Any]] = [["r", 1, "x"], ["w", 1, "x"], ["r", 1, "y"], ["w", 1, "y"],
                           ["w", 2, None], ["r", 2, None], ["RC"], ["WC"], ["s", "L"],
                           ["r", None, "x"], ["r", 3, "z"], ["w", 3, "z"]]


def random_program(rng: random.Random) -> list[list[list[Any]]]:
    threads = rng.choice((2, 2, 3))
    return [[[rng.choice(_ATOMS)] for _ in range(rng.randint(1, 4 if threads == 2 else 3))]
            for _ in range(threads)]


@pytest.mark.parametrize("bound", [0, 1, 2, 9])
def test_dpor_runs_exactly_the_classes_brute_force_finds(bound: int) -> None:
    rng = random.Random(1234 + bound)
    total_brute = total_dpor = 0
    for _ in range(300):
        program = random_program(rng)
        brute = explore_all(BoundedStrategy(0, preemptions=bound), program)
        dpor = explore_all(DporStrategy(0, preemptions=bound), program)
        want = {signature(s.transitions) for s in brute}
        got = {signature(s.transitions) for s in dpor}
        assert got == want, program
        assert all(s.preemptions <= bound for s in dpor)
        total_brute += len(brute)
        total_dpor += len(dpor)
    assert total_dpor < total_brute * 0.8  # and it does skip equivalent schedules


def test_independent_threads_need_one_schedule() -> None:
    program = [[[["w", 1, "a"]]] * 4, [[["w", 2, "b"]]] * 4, [[["r", 3, "c"]]] * 3]
    dpor = DporStrategy(0)
    runs = explore_all(dpor, program)
    assert len(runs) == 1
    assert dpor.complete
    evidence = dpor.evidence(len(runs))
    assert evidence.exhaustive_up_to_preemptions == 2
    assert "exhaustive: every schedule with <= 2 preemptions, 1 executions" in str(evidence)
    assert dpor.equivalent > 0


@pytest.mark.parametrize("bound", [1, 2])
def test_schedules_with_more_preemptions_wait_for_the_smaller_searches(bound: int) -> None:
    # iterative deepening: the search with bound k runs after the one with k - 1
    # completed, so a bug is found with the fewest preemptions it needs
    rng = random.Random(99)
    deepened = 0
    for _ in range(100):
        program = random_program(rng)
        dpor = DporStrategy(0, preemptions=bound)
        levels = []
        for index in range(100_000):
            if not dpor.begin(index):
                break
            summary = simulate(dpor, program, index)
            dpor.end(summary)
            levels.append(dpor.level)
            assert summary.preemptions <= dpor.level
        assert levels[0] == 0 and levels == sorted(levels)
        assert dpor.complete
        deepened += levels[-1] > 0
    assert deepened > 10


def test_a_search_cut_short_proves_the_bounds_it_completed() -> None:
    def pool(_: object = None) -> None:
        q: queue.Queue[int] = queue.Queue()

        def worker() -> None:
            while True:
                q.get()
                q.task_done()

        for _ in range(2):
            threading.Thread(target=worker, daemon=True).start()
        q.put(1)
        q.join()

    full = racecheck.explore([pool], strategy="dpor", schedules=5_000, seed=0)
    assert full.evidence.exhaustive_up_to_preemptions == 2
    cut = racecheck.explore([pool], strategy="dpor", schedules=full.evidence.schedules - 1,
                            seed=0)
    assert cut.evidence.exhaustive_up_to_preemptions == 1
    assert "exhaustive: every schedule with <= 1 preemptions; <= 2 not complete" in \
        str(cut.evidence)


def test_the_same_seed_searches_the_same_schedules() -> None:
    program = [[[["w", 1, "x"]], [["r", 1, "y"]]], [[["w", 1, "y"]], [["r", 1, "x"]]]]
    first = [s.choices for s in explore_all(DporStrategy(7), program)]
    second = [s.choices for s in explore_all(DporStrategy(7), program)]
    assert first == second and len(first) > 1


def test_a_diverging_run_voids_the_proof() -> None:
    program = [[[["w", 1, "x"]], [["w", 1, "x"]]], [[["w", 1, "x"]]]]
    dpor = DporStrategy(0)
    assert dpor.begin(0)
    summary = simulate(dpor, program, 0)
    dpor.end(summary)
    assert dpor.begin(1)
    prefix = [node.chosen for node in dpor._stack]
    assert prefix  # the second run replays a prefix...
    other = simulate(dpor, [[[["w", 1, "x"]]], [[["w", 1, "x"]], [["w", 1, "x"]]]], 1)
    wrong = tuple(1 - choice for choice in prefix)  # ...and takes the other thread there
    dpor.end(ScheduleSummary(1, None, other.steps, wrong, (-1,) * len(wrong),
                             ((0, 1),) * len(wrong), other.transitions))
    while dpor.begin(2):
        dpor.end(simulate(dpor, program, 2))
    assert dpor.diverged
    assert dpor.evidence(3).exhaustive_up_to_preemptions is None
    assert "no proof" in str(dpor.evidence(3))


# ----------------------------------------------------------------- real programs

_finals: list[str] = []


def _outcomes(strategy: Strategy, threads: Sequence[Callable[[Any], object]],
              setup: Callable[[], Any], final: Callable[[Any], str],
              schedules: int = 20_000) -> tuple[set[str], racecheck.Result]:
    """Every final state (and violation) the strategy's schedules reach, in-process."""
    _finals.clear()

    def record(state: Any) -> None:
        _finals.append(final(state))

    result = racecheck.explore(list(threads), setup=setup, invariant=record, strategy=strategy,
                               schedules=schedules, isolate=False)
    return set(_finals), result


def same_as_brute_force(threads: Sequence[Callable[[Any], object]], setup: Callable[[], Any],
                        final: Callable[[Any], str]) -> tuple[set[str], int, int]:
    brute, brute_result = _outcomes(BoundedStrategy(0, preemptions=2), threads, setup, final)
    dpor_states, dpor_result = _outcomes(DporStrategy(0, preemptions=2), threads, setup, final)
    assert brute_result.evidence.exhaustive_up_to_preemptions == 2
    assert dpor_result.evidence.exhaustive_up_to_preemptions == 2, dpor_result.evidence
    assert dpor_states == brute, (sorted(brute - dpor_states), sorted(dpor_states - brute))
    return brute, brute_result.evidence.schedules, dpor_result.evidence.schedules


def _items_and_seen() -> Any:
    return types.SimpleNamespace(items=[], seen=None)


def _append_twice(s: Any) -> None:
    box = s.items
    box.append(1)
    box.append(2)


def test_alias_read_by_an_operator_conflicts_with_an_append() -> None:
    def reader(s: Any) -> None:
        box = s.items
        s.seen = box + [0]  # noqa: RUF005 - the list's content is read by BINARY_OP, not at a point

    states, _, _ = same_as_brute_force([_append_twice, reader], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"[0]", "[1, 0]", "[1, 2, 0]"}


def test_truth_test_of_a_shared_list_conflicts_with_an_append() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(items=[], empty=None)

    def adder(s: Any) -> None:
        box = s.items
        box.append(1)

    def checker(s: Any) -> None:
        box = s.items
        if box:
            s.empty = False
        else:
            s.empty = True

    states, _, _ = same_as_brute_force([adder, checker], setup, lambda s: repr(s.empty))
    assert states == {"True", "False"}


def test_in_place_add_conflicts_with_a_read() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(items=[], copy=None)

    def extender(s: Any) -> None:
        box = s.items
        box += [1]   # extends the shared list in place (BINARY_OP +=), no point

    def copier(s: Any) -> None:
        box = s.items
        s.copy = list(box)

    states, _, _ = same_as_brute_force([extender, copier], setup, lambda s: repr(s.copy))
    assert states == {"[]", "[1]"}


def test_a_shared_iterator_is_advanced_by_each_thread() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(it=iter([1, 2, 3]), n0=0, n1=0)

    def take0(s: Any) -> None:
        n = 0
        for _x in s.it:   # FOR_ITER advances the one iterator both threads share
            n = n + 1  # not +=, which may change a list in place (WC)
        s.n0 = n

    def take1(s: Any) -> None:
        n = 0
        for _x in s.it:
            n = n + 1  # not +=, which may change a list in place (WC)
        s.n1 = n

    states, _, _ = same_as_brute_force([take0, take1], setup, lambda s: f"{s.n0}/{s.n1}")
    assert {"3/0", "0/3", "2/1", "1/2"} <= states


def test_an_exception_makes_the_step_opaque() -> None:
    def reader(s: Any) -> None:
        box = s.items
        try:
            raise KeyError  # no call: the exception is made by RAISE_VARARGS
        except KeyError:
            s.seen = box + [0]  # noqa: RUF005 - run by the handler, in the step the raise started

    states, _, _ = same_as_brute_force([_append_twice, reader], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"[0]", "[1, 0]", "[1, 2, 0]"}


def test_check_then_act_on_a_dict() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(cache={}, made=[])

    def user(s: Any) -> None:
        cache = s.cache
        if "k" not in cache:
            made = s.made
            made.append(1)
            cache["k"] = 1

    states, _, _ = same_as_brute_force([user, user], setup, lambda s: str(len(s.made)))
    assert states == {"1", "2"}


class _Box:
    label = "class"


def test_instance_dict_write_conflicts_with_an_attribute_read() -> None:
    # functools.cached_property stores with instance.__dict__[name] = value
    def setup() -> Any:
        return types.SimpleNamespace(box=_Box(), seen=[])

    def writer(s: Any) -> None:
        storage = s.box.__dict__
        storage["label"] = "instance"

    def reader(s: Any) -> None:
        seen = s.seen
        seen.append(s.box.label)
        seen.append(s.box.label)

    states, _, _ = same_as_brute_force([writer, reader], setup, lambda s: repr(s.seen))
    assert states == {"['class', 'class']", "['class', 'instance']",
                      "['instance', 'instance']"}


def test_class_attribute_write_conflicts_with_an_instance_read() -> None:
    class Config:
        mode = "a"

    def setup() -> Any:
        Config.mode = "a"
        return types.SimpleNamespace(cfg=Config(), klass=Config, seen=[])

    def writer(s: Any) -> None:
        klass = s.klass
        klass.mode = "b"

    def reader(s: Any) -> None:
        cfg = s.cfg
        first = cfg.mode
        second = cfg.mode
        s.seen = [first, second]

    states, _, _ = same_as_brute_force([writer, reader], setup, lambda s: repr(s.seen))
    assert states == {"['a', 'a']", "['a', 'b']", "['b', 'b']"}


def test_event_flag_read_without_a_lock_conflicts_with_set() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(ev=threading.Event(), saw=None)

    def setter(s: Any) -> None:
        s.ev.set()

    def looker(s: Any) -> None:
        s.saw = s.ev.is_set()

    states, _, _ = same_as_brute_force([setter, looker], setup, lambda s: repr(s.saw))
    assert states == {"True", "False"}


def test_three_threads_writes_and_a_read() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(x=0, seen=None, other=0)

    def one(s: Any) -> None:
        s.x = 1
        s.other += 1

    def two(s: Any) -> None:
        s.x = 2

    def read(s: Any) -> None:
        s.seen = s.x

    states, brute, dpor = same_as_brute_force([one, two, read], setup,
                                              lambda s: f"{s.x}/{s.seen}")
    assert {"2/0", "1/2", "2/1"} <= states
    assert dpor < brute


ORDER_LOCK = threading.Lock()
ORDER: list[str] = []


def _order_a(_: object) -> None:
    with ORDER_LOCK:
        ORDER.append("a")


def _order_b(_: object) -> None:
    with ORDER_LOCK:
        ORDER.append("b")


def _fresh_order() -> None:
    ORDER.clear()


def test_either_thread_can_take_the_lock_first() -> None:
    # nothing but the lock orders them: the other order needs the acquisitions reversed
    states, _, _ = same_as_brute_force([_order_a, _order_b], _fresh_order,
                                       lambda _: "".join(ORDER))
    assert states == {"ab", "ba"}


def test_a_timed_out_acquire_took_nothing() -> None:
    # ABBA with timeouts: both give up, in either order (the timed-out acquire must not
    # look like an acquisition ordered after the other thread's release)
    def setup() -> Any:
        return types.SimpleNamespace(x=threading.Lock(), y=threading.Lock(), gave_up=[])

    def transfer(first: str, second: str) -> Callable[[Any], None]:
        def body(s: Any) -> None:
            a, b = getattr(s, first), getattr(s, second)
            with a:
                if not b.acquire(timeout=0.5):
                    s.gave_up.append(first)
                    return
                b.release()
        return body

    states, _, _ = same_as_brute_force([transfer("x", "y"), transfer("y", "x")], setup,
                                       lambda s: "".join(s.gave_up))
    assert {"xy", "yx", ""} <= states


def test_queue_workers_reach_every_outcome() -> None:
    def setup() -> Any:
        q: queue.Queue[int] = queue.Queue()
        for i in range(2):
            q.put(i)
        return types.SimpleNamespace(q=q, order=[])

    def worker(s: Any) -> None:
        while True:
            try:
                item = s.q.get_nowait()
            except queue.Empty:
                return
            s.order.append(item)

    states, _, _ = same_as_brute_force([worker, worker], setup, lambda s: repr(s.order))
    assert states == {"[0, 1]", "[1, 0]"}


def test_deque_and_condition_outcomes() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(d=collections.deque(), cond=threading.Condition(),
                                     got=None)

    def producer(s: Any) -> None:
        with s.cond:
            s.d.append(1)
            s.cond.notify()

    def consumer(s: Any) -> None:
        with s.cond:
            if not s.d:
                s.cond.wait(timeout=1)
            s.got = s.d.popleft() if s.d else None

    states, _, _ = same_as_brute_force([producer, consumer], setup, lambda s: repr(s.got))
    assert "1" in states


# ------------------------------------------- named operands: precise, still sound
# A step's operators, truth tests and builtin calls on values it can name (a
# local, the value its point loads, a constant) touch those objects only; the
# wildcards stay where the value is unknown or its elements may be read too.


def test_equality_of_nested_lists_reads_the_inner_lists() -> None:
    def setup() -> Any:
        inner = [1]
        return types.SimpleNamespace(inner=inner, outer=[inner], expected=[[1]], same=None)

    def grower(s: Any) -> None:
        inner = s.inner
        inner.append(2)

    def comparer(s: Any) -> None:
        outer = s.outer
        expected = s.expected
        s.same = outer == expected  # both named: == compares the inner list's content too

    states, _, _ = same_as_brute_force([grower, comparer], setup, lambda s: repr(s.same))
    assert states == {"True", "False"}


def test_len_of_a_local_names_the_list_it_holds() -> None:
    def counter(s: Any) -> None:
        box = s.items
        s.seen = len(box)

    states, _, _ = same_as_brute_force([_append_twice, counter], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"0", "1", "2"}


def test_sorted_reads_the_rows_it_compares() -> None:
    def setup() -> Any:
        first, second = [2], [1]
        return types.SimpleNamespace(first=first, rows=[first, second], out=None)

    def grower(s: Any) -> None:
        first = s.first
        first.insert(0, 0)

    def sorter(s: Any) -> None:
        rows = s.rows
        s.out = repr(sorted(rows))

    states, _, _ = same_as_brute_force([grower, sorter], setup, lambda s: s.out)
    # the last: sorted before the insert, the new list's rows printed after it
    assert states == {"[[1], [2]]", "[[0, 2], [1]]", "[[1], [0, 2]]"}


def test_a_local_stored_in_the_step_is_named_by_what_was_stored() -> None:
    def checker(s: Any) -> None:
        box = s.items  # the point loads the list; the truth test is in the same step
        s.seen = "yes" if box else "no"

    states, _, _ = same_as_brute_force([_append_twice, checker], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"'yes'", "'no'"}


def test_a_loop_over_a_local_alias_sees_appends() -> None:
    def walker(s: Any) -> None:
        box = s.items
        n = 0
        for _x in box:
            n = n + 1
        s.seen = n

    states, _, _ = same_as_brute_force([_append_twice, walker], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"0", "1", "2"}


def test_a_local_the_step_stores_again_is_not_named_by_its_value_at_the_point() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(other=[], items=[], found=None)

    def adder(s: Any) -> None:
        items = s.items
        items.append(1)

    def checker(s: Any) -> None:
        box = s.other
        items = s.items  # this step runs the loop: box is other, then items
        found = False
        while True:
            if box:
                found = True
            if box is items:
                break
            box = items
        s.found = found

    states, _, _ = same_as_brute_force([adder, checker], setup, lambda s: repr(s.found))
    assert states == {"True", "False"}


def test_a_method_of_an_attribute_of_an_attribute() -> None:
    # s.box.items: the object of .items is what the previous point loaded
    def setup() -> Any:
        return types.SimpleNamespace(box=types.SimpleNamespace(items=[]), seen=None)

    def adder(s: Any) -> None:
        s.box.items.append(1)

    def counter(s: Any) -> None:
        s.seen = len(s.box.items)

    states, _, _ = same_as_brute_force([adder, counter], setup, lambda s: repr(s.seen))
    assert states == {"0", "1"}


def test_the_object_the_previous_point_loaded_is_named() -> None:
    # precision, not soundness: s.box.items.append is a write to that list's slots,
    # not a read of "append" on some object (which conflicts with every dict write)
    runs: list[Sequence[list[Any]]] = []

    class Recording(DporStrategy):
        def end(self, summary: ScheduleSummary) -> None:
            runs.append(summary.transitions)
            super().end(summary)

    box = types.SimpleNamespace(items=[])

    def adder(s: Any) -> None:
        s.box.items.append(1)

    racecheck.explore([adder, adder], setup=lambda: types.SimpleNamespace(box=box),
                      strategy=Recording(0), schedules=1, isolate=False)
    atoms = [atom for _tid, _choice, effect in runs[0] for atom in effect]
    assert content_atom("w", box.items) in atoms
    assert not [atom for atom in atoms if atom[0] in ("r", "w") and atom[1] is None]


def test_an_unknown_object_attribute_conflicts_with_a_dict_write() -> None:
    # the object whose .label is read comes out of a call: not named, so it may be
    # the one whose __dict__ the other thread writes
    def setup() -> Any:
        s = types.SimpleNamespace(box=_Box(), seen=[])
        s.get_box = lambda: s.box
        return s

    def writer(s: Any) -> None:
        storage = s.box.__dict__
        storage["label"] = "instance"

    def reader(s: Any) -> None:
        seen = s.seen
        seen.append(s.get_box().label)

    states, _, _ = same_as_brute_force([writer, reader], setup, lambda s: repr(s.seen))
    assert states == {"['class']", "['instance']"}


def test_closure_variables_of_two_threads_are_one_cell() -> None:
    def setup() -> Any:
        count = 0

        def bump() -> None:
            nonlocal count
            count = count + 1

        def read() -> int:
            return count

        return types.SimpleNamespace(bump=bump, read=read)

    def worker(s: Any) -> None:
        s.bump()

    states, _, _ = same_as_brute_force([worker, worker], setup, lambda s: repr(s.read()))
    assert states == {"1", "2"}


def test_a_queue_pool_is_proved_in_a_few_hundred_schedules() -> None:
    # Precise operands are what make this small: with every truth test and len()
    # read as "any container", each queue step raced each worker's append (1,809).
    # The pool is the one bench/queue_pool_proof.py measures at other sizes.
    from bench.queue_pool_proof import pool

    result = racecheck.explore([functools.partial(pool, 2, 2)], strategy="dpor",
                               schedules=2_000, seed=0)
    assert result.ok
    assert result.evidence.exhaustive_up_to_preemptions == 2
    assert result.evidence.schedules <= 500


# ------------------------------------------------------------------ proofs


lock = threading.Lock()
db_value = 0


def _reset() -> None:
    global db_value
    db_value = 0


def _two(_: object) -> None:
    assert db_value == 2, db_value


def fixed_with(_: object = None) -> None:
    global db_value
    with lock:
        v = db_value
        time.sleep(0.1)
        db_value = v + 1


def fixed_acquire(_: object = None) -> None:
    global db_value
    lock.acquire()
    v = db_value
    time.sleep(0.1)
    db_value = v + 1
    lock.release()


def racy(_: object = None) -> None:
    global db_value
    v = db_value
    time.sleep(0.1)
    db_value = v + 1


@pytest.mark.parametrize("body", [fixed_with, fixed_acquire])
def test_dpor_proves_the_lock_fixed_db_value(body: Callable[..., None]) -> None:
    result = racecheck.explore([body, body], setup=_reset, invariant=_two, strategy="dpor",
                               schedules=10_000, seed=1)
    assert result.ok
    assert result.evidence.exhaustive_up_to_preemptions == 2
    assert "exhaustive: every schedule with <= 2 preemptions" in str(result.evidence)
    assert "pruned as equivalent" in str(result.evidence)
    # only who takes the lock first matters: a handful of schedules on every version,
    # for each bound of the deepening (0, 1, 2); 3.10's SETUP_WITH once made every
    # step in the block look opaque: 38
    assert result.evidence.schedules <= 14
    bounded = racecheck.explore([body, body], setup=_reset, invariant=_two,
                                strategy="bounded", schedules=10_000, seed=1)
    assert result.evidence.schedules < bounded.evidence.schedules


def test_dpor_finds_the_lost_update_and_its_token_replays() -> None:
    result = racecheck.explore([racy, racy], setup=_reset, invariant=_two, strategy="dpor",
                               schedules=1000, seed=1)
    assert not result.ok and result.failure is not None
    assert result.failure.kind == "violation"
    again = racecheck.replay(result.failure.token, [racy, racy], setup=_reset, invariant=_two)
    assert not again.ok and again.failure is not None and again.failure.kind == "violation"


def test_a_search_can_start_at_a_bound_known_to_pass() -> None:
    """Shrinking starts ``dpor`` at the bound its search proved; below it nothing runs."""
    assert DporStrategy(seed=0, preemptions=3, start=2).level == 2
    for start in (-1, 4, True, 1.0):
        with pytest.raises(racecheck.InvalidArgument, match="start must be an integer"):
            DporStrategy(seed=0, preemptions=3, start=start)  # type: ignore[arg-type]


class _Shared:
    def __init__(self) -> None:
        self.n = 0
        self.seen: list[int] = []
        self.lock = threading.Lock()


def _prefix_then_race(s: _Shared, locked: bool = False) -> None:
    """Work on shared state alone first (as a test's fixtures do), then two threads that
    race (or, ``locked``, do not)."""
    for i in range(30):
        s.seen.append(i)
        with s.lock:
            s.n += i % 3

    def bump() -> None:
        if locked:
            with s.lock:
                s.n += 1
        else:
            s.n += 1
        s.seen.append(s.n)

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_steps_before_a_second_thread_need_no_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """dpor runs the same schedules, and finds the same bug, whether or not the steps a
    lone thread takes before it starts another are given their effects."""
    from racecheck._core.execution import Execution

    def run() -> racecheck.Result:
        return racecheck.explore([_prefix_then_race], setup=_Shared,
                                 invariant=lambda s: s.n == sum(i % 3 for i in range(30)) + 2,
                                 strategy=DporStrategy(0), schedules=400, isolate=False,
                                 shrink=False)

    def proof() -> racecheck.Result:
        return racecheck.explore([functools.partial(_prefix_then_race, locked=True)],
                                 setup=_Shared, strategy=DporStrategy(0, preemptions=1),
                                 schedules=2000, isolate=False)

    lean, lean_proof = run(), proof()
    monkeypatch.setattr(Execution, "PREFIX_FREE", False)
    full, full_proof = run(), proof()
    assert lean.failure is not None and full.failure is not None
    assert lean.failure.token == full.failure.token
    assert lean.failure.schedule_index > 5  # a search, not a first-schedule find
    assert [(r.steps, r.choices, r.preemptions) for r in lean.runs] == \
           [(r.steps, r.choices, r.preemptions) for r in full.runs]
    assert lean.runs[0].steps > 90  # the lone thread's prefix was reached
    assert lean_proof.ok and lean_proof.evidence.exhaustive_up_to_preemptions == 1
    assert str(lean_proof.evidence) == str(full_proof.evidence)
    assert [(r.steps, r.choices) for r in lean_proof.runs] == \
           [(r.steps, r.choices) for r in full_proof.runs]


# ------------------------------- comprehensions and iterators named by the step

def test_a_generator_expression_over_a_shared_list_sees_an_append() -> None:
    # the generator's function is made in the step (MAKE_FUNCTION): its code is known
    def adder(s: Any) -> None:
        box = s.items
        box.append(1)
        box.append(2)

    def summer(s: Any) -> None:
        box = s.items
        s.seen = list(x for x in box)  # list() reads nothing: the generator's loop does

    states, _, _ = same_as_brute_force([adder, summer], _items_and_seen,
                                       lambda s: repr(s.seen))
    assert states == {"[]", "[1]", "[1, 2]"}


def test_a_list_iterator_shared_by_two_threads_hands_out_each_item_once() -> None:
    def setup() -> Any:
        return types.SimpleNamespace(it=iter([1, 2, 3]), got={"a": [], "b": []})

    def taker(name: str) -> Callable[[Any], None]:
        def body(s: Any) -> None:
            it = s.it
            mine = s.got[name]
            for x in (y for y in it):  # the generator advances an iterator both hold
                mine.append(x)
        return body

    states, _, _ = same_as_brute_force([taker("a"), taker("b")], setup,
                                       lambda s: f"{s.got['a']}{s.got['b']}")
    assert {"[1, 2, 3][]", "[][1, 2, 3]", "[1][2, 3]", "[2][1, 3]", "[1, 3][2]"} <= states


def test_a_generator_advancing_a_shared_iterator_writes_the_iterator() -> None:
    # what keeps two threads' loops over one iterator ordered, where nothing else does
    shared = iter([1, 2])
    logged: list[Any] = []

    class Logging(DporStrategy):
        def end(self, summary: ScheduleSummary) -> None:
            logged.extend(summary.transitions)
            super().end(summary)

    def taker() -> None:
        for _x in (y for y in shared):
            pass

    result = racecheck.explore([taker, taker], strategy=Logging(0), schedules=1,
                               isolate=False)
    assert result.ok
    writers = {tid for tid, _point, atoms in logged if ["w", id(shared), "[]"] in atoms}
    assert writers == {0, 1}
