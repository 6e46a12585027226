"""Order violation: a handler is closed while a worker thread may still write to it.

pytest-catchlog removed and closed its capture handler at the end of a test
while worker threads that had been told to stop were still logging; they
failed with "ValueError: I/O operation on closed file" (eisensheng/
pytest-catchlog#43).  Signalling "stop" does not order the worker's last
write before the close; the close must wait for the worker to have stopped
(join it, or wait for an Event it sets on exit).  Re-expressed with an
in-memory stream.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from ._scenario import Scenario, Side, check

CITATION = "https://github.com/eisensheng/pytest-catchlog/issues/43"


class Stream:
    def __init__(self) -> None:
        self.closed = False
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        self.lines.append(line)

    def close(self) -> None:
        self.closed = True


def setup() -> SimpleNamespace:
    return SimpleNamespace(
        stream=Stream(), shutdown=threading.Event(), stopped=threading.Event(), errors=[]
    )


def worker(s: SimpleNamespace) -> None:
    for i in range(2):
        if s.shutdown.is_set():
            break
        try:
            s.stream.write(f"Working {i}")
        except ValueError as exc:
            s.errors.append(f"ValueError: {exc}")
    s.stopped.set()


def teardown(s: SimpleNamespace) -> None:
    s.shutdown.set()
    s.stream.close()


def teardown_fixed(s: SimpleNamespace) -> None:
    s.shutdown.set()
    s.stopped.wait()  # the worker's last write happens before the close
    s.stream.close()


def invariant(s: SimpleNamespace) -> None:
    check(not s.errors, f"errors: {s.errors}")


SCENARIO = Scenario(
    name="s_close_before_last_write",
    category="order violation",
    citation=CITATION,
    summary="teardown signals stop and closes the stream without waiting; worker writes to it closed",
    racy=Side(setup, [worker, teardown], invariant),
    fixed=Side(setup, [worker, teardown_fixed], invariant),
    expect="violation",
)
