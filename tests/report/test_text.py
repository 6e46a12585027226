"""The terminal text of a failure (issue 14): narrow, short, and about the user's code.

Every report here comes from a real exploration with a fixed seed.  The checks
read the report as a person would: line widths, which steps are shown, what
the folds and marks say.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import re
import textwrap
import threading
import time

import pytest

import racecheck
from racecheck._report import MAX_TURNS, PREEMPTED_LEGEND, WIDTH, display_order

# ------------------------------------------------------------------ reading a report


def too_wide(report: str) -> list[str]:
    """The lines wider than WIDTH, but for the traceback's and the replay line."""
    lines = report.splitlines()
    exempt: set[int] = set()
    for i, line in enumerate(lines):
        if line.startswith("Exception") and line.endswith(":"):
            j = i + 1
            while j < len(lines) and lines[j]:
                exempt.add(j)
                j += 1
        if line == "Replay this exact schedule with:":
            exempt.add(i + 1)
    return [line for i, line in enumerate(lines) if i not in exempt and len(line) > WIDTH]


def interleaving(report: str) -> tuple[str, list[str]]:
    """The interleaving's header and its lines (turns, notes, folds; no legend)."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Interleaving ("))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i]), len(lines))
    body = [line for line in lines[start + 1:end]
            if line.strip() != PREEMPTED_LEGEND and not line.startswith("  line numbers ")]
    return lines[start], body


def folded_counts(body: list[str]) -> list[int]:
    return [int(m.group(1)) for line in body
            if (m := re.match(r"^  [ *] \.\.\.\s+(\d+) turns? of ", line))]


def line_of(fn: object, text: str) -> int:
    """The line number of the line of ``fn``'s source that contains ``text``."""
    source, first = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    return first + next(i for i, line in enumerate(source) if text in line)


def step_lines(body: list[str], label: str, lineno: int) -> list[str]:
    return [line for line in body if re.match(rf"^  [ *] {label}\s+{lineno}  ", line)]


# ------------------------------------------- long thread names, long lines, long values

SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME = 0


def increase_the_shared_database_value_without_taking_any_lock() -> None:
    global SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME
    value_read_from_the_shared_database = SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME  # the read, far to the right of any terminal
    time.sleep(0.01)
    SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME = value_read_from_the_shared_database + 1  # and the write back, just as long


def three_threads_with_long_names() -> None:
    global SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME
    SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME = 0
    threads = [threading.Thread(target=increase_the_shared_database_value_without_taking_any_lock)
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME == 3, (
        "every one of the three increments of the shared database value should have landed, "
        f"but the value is {SHARED_DATABASE_VALUE_WITH_A_RATHER_LONG_NAME}")


def test_every_line_fits_in_the_width_but_the_traceback_and_the_replay_line() -> None:
    with pytest.raises(racecheck.RaceFound) as info:
        racecheck.check(three_threads_with_long_names, schedules=50, seed=3)
    failure = info.value.failure
    report = failure.report
    assert too_wide(report) == []
    # The threads have short labels, and the legend names them in full.
    assert "T1 = Thread-1 (increase_the_shared_database_value_without_taking_any_lock)" in report
    assert "main = three_threads_with_long_names" in report
    _, body = interleaving(report)
    assert body and all("Thread-1 (" not in line for line in body)
    assert any("…" in line for line in body)  # the long lines were cut, visibly
    # The exempt lines are whole: the replay line and the traceback's source line.
    lines = report.splitlines()
    assert lines[-1] == f"  {failure.replay_line}" and failure.token in lines[-1]
    assert "value_read_from_the_shared_database + 1  # and the write back, just as long" in report \
        or "every one of the three increments" in report
    assert "LOST UPDATE: T" in report


# ----------------------------------------------- a long trace: the race is in the middle


class Box:
    def __init__(self) -> None:
        self.value = 0


def busy_then_racy(box: Box) -> None:
    scratch: list[int] = []
    for i in range(200):  # a long preamble of the thread's own work
        scratch.append(i)
    seen = box.value
    time.sleep(0.01)
    box.value = seen + 1
    for i in range(200):  # and as long a tail after the race
        scratch.append(i)


def bumped_twice(box: Box) -> bool:
    return box.value == 2


@pytest.fixture(scope="module")
def long_trace() -> racecheck.Result:
    return racecheck.explore([busy_then_racy, busy_then_racy], setup=Box, invariant=bumped_twice,
                             schedules=20, seed=5)


def test_a_long_trace_shows_the_lost_update_and_at_most_max_turns_lines(
        long_trace: racecheck.Result) -> None:
    failure = long_trace.failure
    assert failure is not None and failure.trace is not None
    trace = failure.trace
    assert trace.lost_update_steps, "the exploration found the lost update"
    _, body = interleaving(failure.report)
    assert len(trace.steps) > 1000
    assert len(body) <= MAX_TURNS
    assert too_wide(failure.report) == []
    write_line = line_of(busy_then_racy, "box.value = seen + 1")
    read_line = line_of(busy_then_racy, "seen = box.value")
    losing, lost = trace.lost_update_steps[0]
    for index in (losing, lost):
        label = trace.steps[index].thread
        writes = step_lines(body, label, write_line)
        assert writes and "writes box.value = 1" in writes[0], (label, failure.report)
        reads = step_lines(body, label, read_line)
        assert reads and "reads box.value -> 0" in reads[0], (label, failure.report)
    note = body.index(step_lines(body, trace.steps[losing].thread, write_line)[0]) + 1
    assert body[note].strip().startswith("^^^ lost update: ")


def test_the_folded_turns_are_counted(long_trace: racecheck.Result) -> None:
    failure = long_trace.failure
    assert failure is not None
    header, body = interleaving(failure.report)
    m = re.match(r"Interleaving \((\d+) turns, oldest first; (\d+) shown, (\d+) folded", header)
    assert m, header
    total, shown, folded = map(int, m.groups())
    counts = folded_counts(body)
    assert counts and max(counts) > 100  # the preambles and tails, folded
    assert sum(counts) == folded and shown + folded == total
    loop_line = line_of(busy_then_racy, "scratch.append(i)")
    assert any(re.search(r"turns of T1(, T2)? \(lines \d+-\d+\)", line) for line in body)
    assert any(f"-{loop_line}" in line or f"{loop_line}-" in line for line in body
               if line.strip().startswith("..."))


# ------------------------------------------------------------------------ preemptions


class Counter:
    def __init__(self) -> None:
        self.value = 0


def bump(c: Counter) -> None:
    c.value += 1


def test_a_preempted_turn_is_marked_and_the_mark_explained() -> None:
    result = racecheck.explore([bump, bump], setup=Counter, invariant=lambda c: c.value == 2,
                               schedules=100, seed=11)
    failure = result.failure
    assert failure is not None and failure.trace is not None
    preempted = [s for s in failure.trace.steps if s.preempted]
    assert preempted, "a lost update of c.value += 1 needs a preemption"
    report = failure.report
    assert f"  {PREEMPTED_LEGEND}" in report.splitlines()
    _, body = interleaving(report)
    first = preempted[0]
    marked = [line for line in body if line.startswith("  * ")]
    assert marked and marked[0].startswith(f"  * {first.thread} ")
    assert re.match(rf"^  \* {first.thread}\s+{first.lineno}  ", marked[0])
    assert all(not line.startswith("  * ") or line in marked for line in body)
    # The losing write ran when its thread got the baton back: after the write it lost.
    losing, lost = failure.trace.lost_update_steps[0]
    writes = [i for i, line in enumerate(body) if "writes c.value" in line]
    assert len(writes) == 2
    assert body[writes[0]].startswith(f"  * {failure.trace.steps[lost].thread} ")
    assert body[writes[1]].startswith(f"    {failure.trace.steps[losing].thread} ")
    assert body[writes[1] + 1].strip().startswith("^^^ lost update: ")


def bump_twice(c: Counter) -> None:
    for _ in range(2):
        c.value += 1


def test_values_read_agree_with_the_writes_before_them_in_the_order_they_ran() -> None:
    """A thread preempted at a load loads when it runs again: the trace says so, and the
    value it shows is the one it loaded then, not the one before the other threads ran."""
    result = racecheck.explore([bump_twice] * 3, setup=Counter, invariant=lambda c: c.value == 6,
                               schedules=200, seed=1, strategy="random", shrink=False)
    failure = result.failure
    assert failure is not None and failure.trace is not None
    trace = failure.trace
    assert failure.preemptions > 5 and trace.landed
    current, reads = 0, 0
    for i in display_order(trace):
        step = trace.steps[i]
        if step.target == "c.value" and step.kind == "read":
            assert step.value == str(current), (i, step)
            reads += 1
        elif step.target == "c.value" and step.kind == "write":
            current = int(step.value)
    assert reads == 6


# ----------------------------------- a pool: the library's steps are not the user's

pool_total = 0


def pool_task(n: int) -> None:
    global pool_total
    seen = pool_total
    time.sleep(0.01)
    pool_total = seen + n


def two_tasks_in_a_pool() -> None:
    global pool_total
    pool_total = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        futures = [executor.submit(pool_task, n) for n in (1, 2)]
    for future in futures:
        future.result()
    assert pool_total == 3


def test_a_thread_pool_lost_update_shows_no_library_steps() -> None:
    with pytest.raises(racecheck.RaceFound) as info:
        racecheck.check(two_tasks_in_a_pool, schedules=50, seed=1)
    failure = info.value.failure
    assert failure.trace is not None and failure.trace.lost_update_steps
    report = failure.report
    _, body = interleaving(report)
    steps = [line for line in body if not line.strip().startswith(("...", "^^^"))]
    library = re.compile(r"\b(queue|threading|thread|_base|process|python|runner)\.py:\d+")
    assert not [line for line in steps if library.search(line)], report
    # The pool's workers waiting in queue.get are folded as library code...
    assert any("library code" in line for line in body if line.strip().startswith("..."))
    # ... their calls of the user's task are shown, with both writes of the lost update.
    write_line = line_of(pool_task, "pool_total = seen + n")
    writes = [line for line in steps if re.match(rf"^  [ *] T\d\s+{write_line}  ", line)]
    assert len(writes) >= 2 and all("writes pool_total = " in w for w in writes)
    assert "T1 = ThreadPoolExecutor-" in report and "T2 = ThreadPoolExecutor-" in report
    # The executor's shutdown, reached through racecheck's pool shim, is the user's
    # ``with`` line: the main thread waiting for a worker is shown there.
    with_line = line_of(two_tasks_in_a_pool, "with concurrent.futures")
    at_with = body.index(step_lines(body, "main", with_line)[0])
    assert "^^^ blocks on thread T" in "\n".join(body[at_with + 1:])
    assert too_wide(report) == []


# ------------------------------------------------- pytest's assertion rewriting

REWRITTEN = """
    import threading
    import time

    total = 0


    def bump():
        global total
        seen = total
        time.sleep(0.01)
        total = seen + 1


    def test_two_bumps():
        global total
        total = 0
        threads = [threading.Thread(target=bump) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert total == 2
"""


def test_assertion_rewriting_is_not_shown_as_the_users_steps(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_subject=textwrap.dedent(REWRITTEN))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider",
                                           "--racecheck", "--racecheck-seed=1",
                                           "--racecheck-schedules=30")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "racecheck found a VIOLATION" in out
    _, body = interleaving(out[out.index("racecheck found a VIOLATION"):])
    asserts = [line for line in body if "assert total == 2" in line]
    assert asserts, out
    assert "reads total -> 1" in asserts[-1]  # the user's own read, still shown
    assert "tests membership" not in out  # pytest's "'total' in @py_builtins.locals()"
    assert "@py_" not in out and "@pytest_ar" not in out
