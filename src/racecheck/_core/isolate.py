"""Crash isolation: run an exploration in a forked child process.

Racy code can crash the interpreter itself (CPython <= 3.11 can segfault on
racy list mutation; a C extension can abort).  With ``isolate=True`` the
exploration runs in a child made with ``fork`` (so the callables need not be
picklable).  The child streams, unbuffered, the index of each schedule it
starts and every choice it makes to a scratch file, and sends its result back
as JSON.  When the child dies from a signal, the parent turns the last
schedule's recorded choices into a replay token and reports a ``crash``.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import warnings
from typing import Any

from ..errors import NestedExploration, ReplayDiverged, UsageError
from .outcome import Failure, Result
from .schedule import PYTHON_TAG, Schedule


class ChoiceLog:
    """Unbuffered log of schedule starts and choices, readable after a crash."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def schedule(self, index: int) -> None:
        os.write(self.fd, f"\nS{index}:".encode())

    def choice(self, tid: int) -> None:
        os.write(self.fd, f"{tid},".encode())


def run_isolated(explore: Any, replay_hint: str) -> Result:
    """Run ``explore(log)`` in a child; ``explore`` returns a Result and feeds ``log``."""
    if not hasattr(os, "fork"):
        raise UsageError("isolate=True needs os.fork (Linux or macOS)")
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as scratch:
        with warnings.catch_warnings():
            # 3.12+ warns that forking a multi-threaded process may deadlock the
            # child; the child only runs racecheck's own code before exec-free work.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                os.close(read_end)
                import faulthandler

                faulthandler.disable()  # the parent reports the crash; no stack dump noise
                result = explore(ChoiceLog(scratch.fileno()))
                _send(write_end, _encode(result))
            except BaseException as exc:
                _send(write_end, json.dumps({"error": str(exc), "type": type(exc).__name__}).encode())
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        payload = _receive(read_end)
        _, status = os.waitpid(pid, 0)
        if payload:
            data = json.loads(payload)
            if "error" in data:
                if data.get("type") == "ReplayDiverged":
                    raise ReplayDiverged(data["error"])
                if data.get("type") == "NestedExploration":
                    raise NestedExploration(data["error"])
                raise UsageError(
                    f"the isolated exploration failed: {data.get('type')}: {data['error']}")
            return _decode(data)
        scratch.seek(0)
        return _crash_result(scratch.read().decode(), status, replay_hint)


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.close(fd)


def _receive(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _encode(result: Result) -> bytes:
    failure = result.failure
    data: dict[str, Any] = {
        "ok": result.ok, "schedules_run": result.schedules_run, "elapsed": result.elapsed,
        "seed": result.seed, "strategy": result.strategy, "evidence": result.evidence,
        "notes": result.notes, "failure": None,
    }
    if failure is not None:
        data["failure"] = {
            "kind": failure.kind, "message": failure.message, "token": failure.token,
            "schedule_index": failure.schedule_index, "seed": failure.seed,
            "thread_name": failure.thread_name, "traceback_text": failure.traceback_text,
            "cycle": failure.cycle, "blocked": failure.blocked, "notes": failure.notes,
            "replay_line": failure.replay_line, "report": failure.report,
            "exception": repr(failure.exception) if failure.exception is not None else None,
        }
    return json.dumps(data).encode()


def _decode(data: dict[str, Any]) -> Result:
    f = data.pop("failure")
    failure = None
    if f is not None:
        f.pop("exception", None)
        failure = Failure(**f)
    return Result(failure=failure, **data)


def _crash_result(log: str, status: int, replay_hint: str) -> Result:
    lines = [ln for ln in log.split("\n") if ln.startswith("S")]
    index = 0
    choices: tuple[int, ...] = ()
    if lines:
        head, _, body = lines[-1].partition(":")
        index = int(head[1:])
        choices = tuple(int(x) for x in body.split(",") if x)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        how = f"killed by {signal.Signals(sig).name}"
    else:
        how = f"exited with status {os.WEXITSTATUS(status)}"
    token = Schedule(choices, PYTHON_TAG).to_token()
    message = f"the interpreter crashed ({how}) during schedule {index + 1}"
    failure = Failure(
        kind="crash", message=message, token=token, schedule_index=index, seed=None,
        report=(f"racecheck found a CRASH (schedule {index + 1})\n  {message}\n\n"
                "Replay this exact schedule (in a child process) with:\n"
                f"  {_isolated_hint(replay_hint, token)}"),
    )
    return Result(ok=False, schedules_run=index + 1, elapsed=0.0, seed=None,
                  strategy="", failure=failure)


def _isolated_hint(replay_hint: str, token: str) -> str:
    line = (replay_hint or 'racecheck.replay("{token}", threads)').replace("{token}", token)
    return line[:-1] + ", isolate=True)" if line.endswith(")") else line
