"""A lock made at import and reachable only through a function's closure."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Account:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.balance = 0

    def deposit(self) -> None:
        with self.lock:
            value = self.balance
            self.balance = value + 1


def _make() -> Callable[[], Account]:
    account = Account()

    def get() -> Account:
        return account

    return get


get_account = _make()
