"""Atomicity violation: the balance check and the debit each hold the lock, separately.

Every access to the balance is locked, yet two withdrawals overdraw the
account: the check and the debit are meant to be one atomic step but take the
lock twice.  This is the textbook atomicity violation (Lu et al., "Learning
from Mistakes", ASPLOS'08, found atomicity and order violations behind most
non-deadlock concurrency bugs in MySQL, Apache, Mozilla and OpenOffice) and the
bank-account example of many threading tutorials.  The fix holds one lock
acquisition across check and debit.
"""

from __future__ import annotations

import threading

from ._scenario import Scenario, Side, check

CITATION = (
    "Lu, Park, Seo, Zhou, 'Learning from Mistakes: A Comprehensive Study on Real World "
    "Concurrency Bug Characteristics', ASPLOS 2008 (atomicity violations)"
)


class Account:
    def __init__(self) -> None:
        self.balance = 100
        self.lock = threading.Lock()
        self.paid: list[int] = []

    def withdraw(self, amount: int) -> None:
        with self.lock:
            ok = self.balance >= amount
        if ok:
            with self.lock:
                self.balance -= amount
            self.paid.append(amount)

    def withdraw_fixed(self, amount: int) -> None:
        with self.lock:
            if self.balance < amount:
                return
            self.balance -= amount
        self.paid.append(amount)


def atm(acct: Account) -> None:
    acct.withdraw(70)


def atm_fixed(acct: Account) -> None:
    acct.withdraw_fixed(70)


def invariant(acct: Account) -> None:
    check(acct.balance >= 0, f"overdrawn: balance {acct.balance}, paid out {acct.paid}")
    check(
        acct.balance + sum(acct.paid) == 100, f"money not conserved: {acct.balance} + {acct.paid}"
    )


SCENARIO = Scenario(
    name="s_split_lock_withdraw",
    category="atomicity violation",
    citation=CITATION,
    summary="balance check and debit each locked separately; two withdrawals overdraw",
    racy=Side(Account, [atm, atm], invariant),
    fixed=Side(Account, [atm_fixed, atm_fixed], invariant),
    expect="violation",
)
