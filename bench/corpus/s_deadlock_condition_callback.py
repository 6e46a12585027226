"""Deadlock: a callback run with a Condition's lock held takes a second lock (lock-order inversion).

LLDB's ``Alarm`` thread woke on its condition variable and invoked the expired
callbacks with the alarm mutex still held; a callback, ``ProgressManager::
Expire``, took the progress manager's mutex.  The main thread meanwhile held
the progress manager's mutex and called ``Alarm::Create``, which takes the
alarm mutex: opposite orders, deadlock.  The fix releases the alarm lock
before invoking callbacks (llvm/llvm-project PR #86888).  Re-expressed with a
``threading.Condition`` for the alarm and a Lock for the manager; one alarm is
already due when the threads start.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/llvm/llvm-project/pull/86888"


class Progress:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # ProgressManager mutex
        self.expired: list[str] = []
        self.active = 1


class Alarm:
    def __init__(self) -> None:
        self.cond = threading.Condition()  # Alarm mutex + condition variable
        self.due = ["report-0"]  # one alarm already due
        self.progress = Progress()


def alarm_thread(a: Alarm) -> None:
    for _ in range(2):
        with a.cond:
            while not a.due:
                a.cond.wait()
            name = a.due.pop(0)
            with a.progress.lock:  # callback: ProgressManager::Expire
                a.progress.expired.append(name)


def alarm_thread_fixed(a: Alarm) -> None:
    for _ in range(2):
        with a.cond:
            while not a.due:
                a.cond.wait()
            name = a.due.pop(0)
        with a.progress.lock:  # callbacks run after the alarm lock is released
            a.progress.expired.append(name)


def main_thread(a: Alarm) -> None:
    with a.progress.lock:  # ProgressManager::Decrement holds its mutex...
        a.progress.active -= 1
        with a.cond:  # ...and calls Alarm::Create
            a.due.append("report-1")
            a.cond.notify()


def invariant(a: Alarm) -> None:
    check(sorted(a.progress.expired) == ["report-0", "report-1"], f"expired: {a.progress.expired}")


SCENARIO = Scenario(
    name="s_deadlock_condition_callback",
    category="deadlock",
    citation=CITATION,
    summary="Condition/lock-ordering: callback runs under the alarm Condition and takes the manager lock",
    racy=Side(Alarm, [alarm_thread, main_thread], invariant),
    fixed=Side(Alarm, [alarm_thread_fixed, main_thread], invariant),
    expect="deadlock",
)
