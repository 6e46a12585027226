"""Deadlock reachable only through ``lock.acquire(timeout=...)``: the transfer gives up.

Two transfers lock their source account and then try the destination with a
timeout, in opposite directions.  When each holds its first lock, both time
out: the deadlock does not hang, it turns into two failed transfers.  This is
the "add a timeout to the lock" advice of magfest/ubersystem#2349 ("This won't
prevent deadlocks, but it will provide better visibility into them"); a tool
that leaves timed acquires out of its wait-for graph (as one Python peer
does) sees no cycle and at best reports a plain failure.  The fix orders the
locks globally; its timeout then never fires.  Expected verdict: deadlock.
"""

from __future__ import annotations

import threading

from ._scenario import Body, Scenario, Side, check

CITATION = (
    "https://github.com/magfest/ubersystem/issues/2349; "
    "https://docs.python.org/3/library/threading.html#threading.Lock.acquire"
)

TIMEOUT = 0.5  # seconds; virtual under racecheck


class Account:
    def __init__(self, name: str) -> None:
        self.name = name
        self.balance = 100
        self.lock = threading.Lock()


class Bank:
    def __init__(self) -> None:
        self.accounts = {"x": Account("x"), "y": Account("y")}
        self.gave_up: list[str] = []

    def _move(self, src: Account, dst: Account, amount: int) -> None:
        src.balance -= amount
        dst.balance += amount

    def transfer(self, src_name: str, dst_name: str, amount: int) -> None:
        src, dst = self.accounts[src_name], self.accounts[dst_name]
        with src.lock:
            if not dst.lock.acquire(timeout=TIMEOUT):
                self.gave_up.append(f"{src_name}->{dst_name}: could not lock {dst_name}")
                return
            try:
                self._move(src, dst, amount)
            finally:
                dst.lock.release()

    def transfer_ordered(self, src_name: str, dst_name: str, amount: int) -> None:
        src, dst = self.accounts[src_name], self.accounts[dst_name]
        first, second = sorted((src, dst), key=lambda a: a.name)
        with first.lock:
            if not second.lock.acquire(timeout=TIMEOUT):
                self.gave_up.append(f"{src_name}->{dst_name}: could not lock {second.name}")
                return
            try:
                self._move(src, dst, amount)
            finally:
                second.lock.release()


def _transfer(src: str, dst: str, amount: int, ordered: bool) -> Body:
    def teller(bank: Bank) -> None:
        if ordered:
            bank.transfer_ordered(src, dst, amount)
        else:
            bank.transfer(src, dst, amount)

    return teller


def invariant(bank: Bank) -> None:
    check(not bank.gave_up, f"transfers gave up: {bank.gave_up}")
    x, y = bank.accounts["x"].balance, bank.accounts["y"].balance
    check((x, y) == (90, 110), f"balances x={x} y={y}")


SCENARIO = Scenario(
    name="s_deadlock_timed_abba",
    category="deadlock",
    citation=CITATION,
    summary="ABBA where the second lock is taken with acquire(timeout=...): both transfers give up",
    racy=Side(Bank, [_transfer("x", "y", 30, False), _transfer("y", "x", 20, False)], invariant),
    fixed=Side(Bank, [_transfer("x", "y", 30, True), _transfer("y", "x", 20, True)], invariant),
    expect="deadlock",
)
