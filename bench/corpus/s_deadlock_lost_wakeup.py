"""Deadlock: a Condition waiter checks its predicate outside the lock and misses the notify.

``Condition.notify()`` wakes only threads already waiting; a notification sent
between the waiter's check and its ``wait()`` is lost and the waiter sleeps
forever.  CPython's own ``test_threading`` ``ConditionTests.test_notify``
hung randomly for this reason ("The bug occurs when notify(n) is called while
less than n threads are waiting in cond.wait()", python/cpython#74912,
bpo-30727); PyTorch's autograd engine deadlocked the same way (pytorch/
pytorch PR #1140).  The fix is the documented idiom: check the predicate under
the Condition's lock and in a loop (``wait_for``), and change it under the
same lock before notifying.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = (
    "https://github.com/python/cpython/issues/74912; https://github.com/pytorch/pytorch/pull/1140; "
    "https://docs.python.org/3/library/threading.html#condition-objects"
)


class Mailbox:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.ready = False
        self.value: int | None = None
        self.got: int | None = None


def consumer(m: Mailbox) -> None:
    if not m.ready:  # checked without the lock...
        with m.cond:
            m.cond.wait()  # ...and not re-checked: the notify may be gone
    m.got = m.value


def producer(m: Mailbox) -> None:
    m.value = 42
    m.ready = True
    with m.cond:
        m.cond.notify()


def consumer_fixed(m: Mailbox) -> None:
    with m.cond:
        m.cond.wait_for(lambda: m.ready)
    m.got = m.value


def producer_fixed(m: Mailbox) -> None:
    with m.cond:
        m.value = 42
        m.ready = True
        m.cond.notify()


def invariant(m: Mailbox) -> None:
    check(m.got == 42, f"consumer got {m.got}")


SCENARIO = Scenario(
    name="s_deadlock_lost_wakeup",
    category="deadlock",
    citation=CITATION,
    summary="Condition: predicate checked outside the lock; notify lands before wait, waiter sleeps forever",
    racy=Side(Mailbox, [consumer, producer], invariant),
    fixed=Side(Mailbox, [consumer_fixed, producer_fixed], invariant),
    expect="deadlock",
)
