"""queue's operations as single steps: fewer schedules, and nothing lost.

A ``queue.Queue`` method runs without scheduling points inside it (its
locks take none while they are free, ``_sync/locks.py``), and ``dpor`` sees
the operation as a whole (``effects.queue_atom``): a ``get`` and a
``task_done`` commute, a get that finds the queue empty only waits in line...
Each test runs every schedule within two preemptions (``bounded``) and
``dpor`` on a small program and asks for the same final states, and for the
outcomes a person would list by hand: what the reduction must never skip.
"""

from __future__ import annotations

import queue
import threading
import types
from typing import Any

import racecheck
from racecheck.strategies import DporStrategy

from .test_dpor import same_as_brute_force


def _ns(**kwargs: Any) -> Any:
    return types.SimpleNamespace(**kwargs)


def test_who_takes_the_item_and_who_times_out() -> None:
    def setup() -> Any:
        return _ns(q=queue.Queue(), got={})

    def producer(s: Any) -> None:
        s.q.put("x")

    def consumer(name: str) -> Any:
        def body(s: Any) -> None:
            try:
                s.got[name] = s.q.get(timeout=1)
            except queue.Empty:
                s.got[name] = "-"
        return body

    states, brute, dpor = same_as_brute_force(
        [producer, consumer("a"), consumer("b")], setup, lambda s: f"{s.got['a']}{s.got['b']}")
    assert states == {"x-", "-x"}
    assert dpor < brute


def test_a_bounded_queue_blocks_the_second_put() -> None:
    def setup() -> Any:
        return _ns(q=queue.Queue(maxsize=1), got=[])

    def put(item: str) -> Any:
        def body(s: Any) -> None:
            s.q.put(item)
        return body

    def take_two(s: Any) -> None:
        s.got.append(s.q.get())
        s.got.append(s.q.get())

    states, _, _ = same_as_brute_force([put("a"), put("b"), take_two], setup,
                                       lambda s: "".join(s.got))
    assert states == {"ab", "ba"}


def test_unlocked_counter_in_queue_workers_loses_an_update() -> None:
    # the example's bug: the queue hands out the items safely, the count is not
    def setup() -> Any:
        q: queue.Queue[int] = queue.Queue()
        for i in range(2):
            q.put(i)
        return _ns(q=q, done=0)

    def worker(s: Any) -> None:
        s.q.get()
        n = s.done
        s.done = n + 1
        s.q.task_done()

    def joiner(s: Any) -> None:
        s.q.join()

    states, _, _ = same_as_brute_force([worker, worker, joiner], setup, lambda s: str(s.done))
    assert states == {"1", "2"}


def test_empty_then_get_nowait_is_a_check_then_act() -> None:
    def setup() -> Any:
        q: queue.Queue[int] = queue.Queue()
        q.put(1)
        return _ns(q=q, seen={})

    def taker(name: str) -> Any:
        def body(s: Any) -> None:
            if not s.q.empty():
                try:
                    s.seen[name] = s.q.get_nowait()
                except queue.Empty:
                    s.seen[name] = "Empty"
        return body

    states, _, _ = same_as_brute_force([taker("a"), taker("b")], setup,
                                       lambda s: repr(sorted(s.seen.items())))
    assert "[('a', 1), ('b', 'Empty')]" in states
    assert "[('a', 'Empty'), ('b', 1)]" in states
    assert "[('a', 1)]" in states


def test_the_items_read_directly_race_with_a_put() -> None:
    def setup() -> Any:
        return _ns(q=queue.Queue(), size=None, under=None)

    def producer(s: Any) -> None:
        s.q.put(1)
        s.q.put(2)

    def peeker(s: Any) -> None:
        s.size = len(s.q.queue)  # no lock: the deque itself

    def locker(s: Any) -> None:
        with s.q.mutex:  # the queue's own lock, taken by the user
            s.under = list(s.q.queue)

    states, _, _ = same_as_brute_force([producer, peeker, locker], setup,
                                       lambda s: f"{s.size}/{s.under}")
    assert {"0/[]", "1/[1]", "2/[1, 2]", "2/[]", "0/[1, 2]"} <= states


def test_lifo_and_priority_queues_keep_their_order() -> None:
    def setup() -> Any:
        return _ns(lifo=queue.LifoQueue(), prio=queue.PriorityQueue(), got=[])

    def producer(s: Any) -> None:
        for i in (2, 1):
            s.lifo.put(i)
            s.prio.put(i)

    def consumer(s: Any) -> None:
        for q in (s.lifo, s.prio):
            try:
                s.got.append(q.get_nowait())
            except queue.Empty:
                s.got.append(0)

    states, _, _ = same_as_brute_force([producer, consumer], setup, lambda s: repr(s.got))
    assert {"[0, 0]", "[2, 2]", "[1, 1]", "[2, 0]", "[1, 2]"} <= states


def test_a_subclass_hook_runs_the_users_code_with_its_points() -> None:
    class Audited(queue.Queue):  # type: ignore[type-arg]
        def _put(self, item: Any) -> None:
            log = self.log
            n = len(log)  # read...
            log.append(n)  # ...then write: two puts can both see the same length
            super()._put(item)

    def setup() -> Any:
        q = Audited()
        q.log = []
        return _ns(q=q)

    def put(s: Any) -> None:
        s.q.put(0)

    states, _, _ = same_as_brute_force([put, put], setup, lambda s: repr(s.q.log))
    assert states == {"[0, 1]"}  # under the queue's lock: the hook cannot interleave


def test_simple_queue_put_and_get() -> None:
    def setup() -> Any:
        return _ns(q=queue.SimpleQueue(), got=[])

    def producer(s: Any) -> None:
        s.q.put("a")
        s.q.put("b")

    def consumer(s: Any) -> None:
        s.got.append(s.q.get())
        try:
            s.got.append(s.q.get_nowait())
        except queue.Empty:
            s.got.append("-")

    states, _, _ = same_as_brute_force([producer, consumer], setup, lambda s: "".join(s.got))
    assert states == {"ab", "a-"}


def test_task_done_called_too_many_times_raises_in_either_thread() -> None:
    def setup() -> Any:
        q: queue.Queue[int] = queue.Queue()
        q.put(1)
        return _ns(q=q, raised=[])

    def done(name: str) -> Any:
        def body(s: Any) -> None:
            try:
                s.q.task_done()
            except ValueError:
                s.raised.append(name)
        return body

    states, _, _ = same_as_brute_force([done("a"), done("b")], setup,
                                       lambda s: "".join(s.raised))
    assert states == {"a", "b"}


def test_join_waits_for_tasks_put_while_it_waits() -> None:
    def setup() -> Any:
        return _ns(q=queue.Queue(), seen=[], joined=None)

    def producer(s: Any) -> None:
        s.q.put(1)
        s.q.put(2)

    def worker(s: Any) -> None:
        for _ in range(2):
            s.seen.append(s.q.get())
            s.q.task_done()

    def joiner(s: Any) -> None:
        s.q.join()
        s.joined = len(s.seen)

    states, _, _ = same_as_brute_force([producer, worker, joiner], setup,
                                       lambda s: str(s.joined))
    assert states == {"0", "1", "2"}  # join returns whenever no task is unfinished


def test_a_pool_with_the_workers_names_is_proved() -> None:
    # the example's pool (the workers record their names), 2 workers x 2 items
    def pool() -> None:
        q: queue.Queue[int] = queue.Queue()
        guard = threading.Lock()
        results: list[tuple[str, int]] = []

        def worker() -> None:
            while True:
                item = q.get()
                with guard:
                    results.append((threading.current_thread().name, item))
                q.task_done()

        for _ in range(2):
            threading.Thread(target=worker, daemon=True).start()
        for item in range(2):
            q.put(item)
        q.join()
        assert sorted(item for _, item in results) == [0, 1]

    result = racecheck.explore([pool], strategy=DporStrategy(0), schedules=5_000,
                               isolate=False)
    assert result.ok
    assert result.evidence.exhaustive_up_to_preemptions == 2
    assert result.evidence.schedules <= 300


def _wait(queue_id: int) -> list[Any]:
    return ["q", queue_id, "wait", 7, 8, False]


def test_two_waits_race_only_when_a_later_put_sees_their_order() -> None:
    from racecheck.strategies.dpor import races

    two_waits = [[1, 0, [_wait(5)]], [2, 1, [_wait(5)]]]
    assert races(two_waits) == []  # nobody wakes either: both orders end the same
    put = [0, 2, [["q", 5, "put", 7, 8, False]]]
    assert [(j, i) for j, i, _ in races([*two_waits, put])][:1] == [(0, 1)]
    other_queue = [0, 2, [["q", 6, "put", 9, 10, False]]]
    assert [(j, i) for j, i, _ in races([*two_waits, other_queue])] == []
    lock_taken = [0, 2, [["s", 7, "acquire"]]]  # the queue's own lock, by the user
    assert (0, 1) in [(j, i) for j, i, _ in races([*two_waits, lock_taken])]


PREMADE: queue.Queue[str] = queue.Queue()  # made before any exploration: its lock is wrapped


def test_a_queue_made_before_the_exploration() -> None:
    def setup() -> Any:
        while not PREMADE.empty():
            PREMADE.get_nowait()
        return _ns(got={})

    def producer(_: Any) -> None:
        PREMADE.put("x")

    def consumer(name: str) -> Any:
        def body(s: Any) -> None:
            try:
                s.got[name] = PREMADE.get(timeout=1)
            except queue.Empty:
                s.got[name] = "-"
        return body

    states, _, _ = same_as_brute_force([producer, consumer("a"), consumer("b")], setup,
                                       lambda s: f"{s.got['a']}{s.got['b']}")
    assert states == {"x-", "-x"}


def test_a_priority_queue_compares_items_another_thread_changes() -> None:
    def setup() -> Any:
        q: queue.PriorityQueue[list[int]] = queue.PriorityQueue()
        first = [5]
        q.put(first)
        return _ns(q=q, first=first, out=None)

    def changer(s: Any) -> None:
        item = s.first
        item[0] = 0  # no lock: the heap may already have placed it

    def putter(s: Any) -> None:
        s.q.put([3])

    def final(s: Any) -> str:
        return repr(s.q.get_nowait())

    states, _, _ = same_as_brute_force([changer, putter], setup, final)
    assert states == {"[0]", "[3]"}
