"""The pytest plugin, driven through ``pytester`` (an inner pytest session per test).

Inner sessions run in-process: the outer session is not exploring anything,
so the inner explorations do not nest.  Each inner run pins its seed and
keeps schedule counts small so the whole file stays well under a minute.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

# Imported up front: pytester restores sys.modules after each in-process run,
# so whatever the inner sessions import first would be imported again each time.
import racecheck  # noqa: F401

try:
    import hypothesis.extra.pytestplugin  # noqa: F401
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass

pytest_plugins = ["pytester"]

# The seed notebook's lost update: read, "process", sleep, write back.
DB_VALUE = """
    import threading
    import time

    db_value = 0

    def increase_db_value():
        global db_value
        local_copy = db_value
        local_copy += 1
        time.sleep(0.1)
        db_value = local_copy

    def test_db_value():
        global db_value
        db_value = 0
        threads = [threading.Thread(target=increase_db_value) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert db_value == 2
"""

DB_VALUE_LOCKED = """
    import threading
    import time

    db_value = 0

    def increase_db_value(lock):
        global db_value
        with lock:
            local_copy = db_value
            local_copy += 1
            time.sleep(0.1)
            db_value = local_copy

    def test_db_value():
        global db_value
        db_value = 0
        lock = threading.Lock()
        threads = [threading.Thread(target=increase_db_value, args=(lock,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert db_value == 2
"""

COUNTER = """
    import threading

    class Counter:
        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def increment(self):
            self.n += 1

        def increment_locked(self):
            with self.lock:
                self.n += 1

    def run_two(fn_name):
        counter = Counter()
        threads = [threading.Thread(target=getattr(counter, fn_name)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return counter.n
"""


def make(pytester: pytest.Pytester, *parts: str, name: str = "test_subject") -> Path:
    ini(pytester)
    return pytester.makepyfile(**{name: "\n".join(textwrap.dedent(p) for p in parts)})


def ini(pytester: pytest.Pytester, *lines: str) -> None:
    """The inner session's ini file (pytest-asyncio, a dev dependency, warns without a loop scope)."""
    pytester.makeini("\n".join(["[pytest]", "asyncio_default_fixture_loop_scope = function",
                                *lines, ""]))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner session; ``-v`` so the racecheck summary has a line per explored test."""
    return pytester.runpytest_inprocess("-p", "no:randomly", "--racecheck-seed=1", "-v", *args)


def run_apart(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner session in a process of its own (no thread of this suite's keeps it company)."""
    return pytester.runpytest_subprocess("-p", "no:randomly", "--racecheck-seed=1", "-v", *args)


def summary_line(result: pytest.RunResult, nodeid: str) -> str:
    lines = [ln for ln in result.outlines if ln.startswith(nodeid + "  ")]
    assert lines, f"no racecheck summary line for {nodeid}:\n" + result.stdout.str()
    return lines[-1]


def read_report(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text())
    return {entry["nodeid"]: entry for entry in data["tests"]}


# ------------------------------------------------------------- basic verdicts


def test_db_value_fails_with_report_and_replay_line(pytester: pytest.Pytester) -> None:
    make(pytester, DB_VALUE)
    result = run(pytester, "--racecheck", "--racecheck-schedules=50")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "racecheck.RaceFound: racecheck found a VIOLATION" in out
    assert "Interleaving" in out
    assert "LOST UPDATE" in out
    # The report ends with the marker that pins this test to the failing schedule.
    assert re.search(r'Replay this exact schedule with:\n\s+@pytest\.mark\.racecheck\('
                     r'replay="rc2\.[^"]+"\)', out)
    assert "test_subject.py::test_db_value  race found: violation" in out


def reports(out: str) -> int:
    """How many race reports ``out`` prints, not counting pytest's one-line
    short summary (which quotes the report's first line in full when the
    ``CI`` variable is set, and cuts it to the terminal width otherwise)."""
    return sum("racecheck found a VIOLATION" in line
               for line in out.splitlines() if not line.startswith("FAILED "))


def test_summary_is_short_without_verbose_and_prints_each_report_once(
        pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import pytest

        import racecheck

        def test_locked():
            assert run_two("increment_locked") == 2

        def test_unlocked():
            assert run_two("increment") == 2

        @pytest.mark.xfail(raises=racecheck.RaceFound, strict=True)
        def test_unlocked_expected():
            assert run_two("increment") == 2
    """)
    quiet = pytester.runpytest_inprocess("-p", "no:randomly", "--racecheck-seed=1",
                                         "--racecheck", "--racecheck-schedules=30")
    quiet.assert_outcomes(passed=1, failed=1, xfailed=1)
    out = quiet.stdout.str()
    assert "3 tests explored" in out and "2 races found" in out
    # no line for a passing test without -v; failing ones are listed
    assert not [ln for ln in quiet.outlines if ln.startswith("test_subject.py::test_locked ")]
    summary_line(quiet, "test_subject.py::test_unlocked")
    # the failed test's report is in pytest's failure section only; the xfailed
    # test's report has no other place, so the summary shows it
    assert reports(out) == 2
    assert "test_subject.py::test_unlocked_expected: race found: violation" in out
    assert "test_subject.py::test_unlocked: race found: violation" not in out

    verbose = run(pytester, "--racecheck", "--racecheck-schedules=30")
    assert "pass  (" in summary_line(verbose, "test_subject.py::test_locked")
    assert reports(verbose.stdout.str()) == 2
    # with --tb=no pytest shows no report: the summary does
    bare = run(pytester, "--racecheck", "--racecheck-schedules=30", "--tb=no")
    assert reports(bare.stdout.str()) == 2
    assert "test_subject.py::test_unlocked: race found: violation" in bare.stdout.str()


def test_db_value_with_lock_passes(pytester: pytest.Pytester) -> None:
    make(pytester, DB_VALUE_LOCKED)
    result = run(pytester, "--racecheck", "--racecheck-schedules=30")
    result.assert_outcomes(passed=1)
    assert "test_subject.py::test_db_value  pass  (30 schedules" in result.stdout.str()


def test_unlocked_counter_passes_without_flag_fails_with_it(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment") == 2

        def test_locked():
            assert run_two("increment_locked") == 2
    """)
    plain = run(pytester)
    plain.assert_outcomes(passed=2)
    assert "== racecheck ==" not in plain.stdout.str()

    explored = run(pytester, "--racecheck", "--racecheck-schedules=50")
    explored.assert_outcomes(passed=1, failed=1)
    assert "race found: violation" in summary_line(explored, "test_subject.py::test_unlocked")
    assert "pass  (50 schedules" in summary_line(explored, "test_subject.py::test_locked")
    assert "2 tests explored" in explored.stdout.str()
    assert "failures by verdict: violation 1" in explored.stdout.str()


def test_verbose_shows_what_each_exploration_did(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment") == 2

        def test_locked():
            assert run_two("increment_locked") == 2

        def test_no_threads():
            pass
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=40", "-v")
    result.stdout.fnmatch_lines([
        "*::test_unlocked FAILED (racecheck: race found: violation, * schedule*)*",
        "*::test_locked PASSED (racecheck: 40 schedules)*",
        "*::test_no_threads PASSED *",
    ])


def test_executor_and_timer_threads_are_detected(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import concurrent.futures
        import time

        class SlowCounter(Counter):
            def increment(self):  # the notebook's read, sleep, write back
                n = self.n
                time.sleep(0.01)
                self.n = n + 1

        def test_executor():
            counter = SlowCounter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                for _ in range(2):
                    pool.submit(counter.increment)
            assert counter.n == 2

        def test_timer():
            counter = Counter()
            timers = [threading.Timer(0.01, counter.increment) for _ in range(2)]
            for t in timers:
                t.start()
            for t in timers:
                t.join()
            assert counter.n == 2
    """)
    # The executor's weakref callback can run in a thread unwinding from an ended
    # schedule; the core keeps that from surfacing as an unraisable exception
    # (which filterwarnings=error would turn into a teardown error).
    result = run(pytester, "--racecheck", "--racecheck-schedules=100")
    result.assert_outcomes(failed=2)
    assert "2 tests explored" in result.stdout.str()


def test_tests_without_threads_run_once_unchanged(pytester: pytest.Pytester) -> None:
    make(pytester, """
        calls = []

        def test_no_threads():
            calls.append(1)

        def test_ran_once():
            assert calls == [1]
    """)
    result = run(pytester, "--racecheck")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    # The summary says what --racecheck did, also when it explored nothing.
    assert "0 tests explored" in out
    assert "2 tests not explored: 2 started no thread" in out


def test_xfail_raises_racefound(pytester: pytest.Pytester) -> None:
    make(pytester, DB_VALUE.replace("def test_db_value", "def db_value_scenario"), """
        import pytest
        import racecheck

        @pytest.mark.xfail(raises=racecheck.RaceFound, strict=True)
        def test_db_value():
            db_value_scenario()
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=50")
    result.assert_outcomes(xfailed=1)
    out = result.stdout.str()
    assert "race found: violation [xfailed]" in summary_line(result, "test_subject.py::test_db_value")
    # The xfailed failure's full report is in the summary all the same.
    assert "Replay this exact schedule with:" in out
    assert '@pytest.mark.racecheck(replay="rc2.' in out


# ------------------------------------------------------------------ the marker


def test_marker_opts_in_without_flag_and_sets_schedules(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(schedules=17)
        def test_marked():
            assert run_two("increment_locked") == 2

        def test_unmarked():
            assert run_two("increment") == 2
    """)
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=2)
    assert "pass  (17 schedules" in summary_line(result, "test_subject.py::test_marked")
    assert "1 test explored, 17 schedules run" in result.stdout.str()


def test_marker_threads_runs_copies_of_the_body(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        import pytest

        @pytest.mark.racecheck(threads=2, schedules=3)
        def test_copies():
            assert threading.current_thread().name in ("copy-1", "copy-2")

        @pytest.mark.racecheck(threads=2, schedules=3)
        def test_a_second_copy_runs():
            assert threading.current_thread().name != "copy-2"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert "pass  (3 schedules" in summary_line(result, "test_subject.py::test_copies")
    assert "AssertionError" in result.stdout.str()


def test_thread_index_gives_each_copy_its_own_setup(pytester: pytest.Pytester) -> None:
    """pytest-run-parallel users ask for per-thread setup: each copy gets its index."""
    make(pytester, """
        import threading

        import pytest

        slots = [0, 0, 0]

        @pytest.mark.racecheck(threads=3, schedules=5)
        def test_each_copy_its_slot(thread_index):
            slots[thread_index] += 1  # no two copies share a slot: no race
            assert threading.current_thread().name == f"copy-{thread_index + 1}"

        def test_once_is_index_zero(thread_index):
            assert thread_index == 0
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    assert "pass  (5 schedules" in summary_line(result, "test_subject.py::test_each_copy_its_slot")


def test_replay_marker_reproduces_the_failure(pytester: pytest.Pytester) -> None:
    make(pytester, DB_VALUE)
    first = run(pytester, "--racecheck", "--racecheck-schedules=50", "--racecheck-report=r.json",
                "-p", "no:cacheprovider")
    first.assert_outcomes(failed=1)
    token = read_report(pytester.path / "r.json")["test_subject.py::test_db_value"]["token"]
    assert isinstance(token, str) and token.startswith("rc2.")

    pinned = DB_VALUE.replace(
        "    def test_db_value():",
        f'    import pytest\n\n    @pytest.mark.racecheck(replay="{token}")\n    def test_db_value():')
    make(pytester, pinned)
    second = run(pytester, "-p", "no:cacheprovider")  # no --racecheck: the marker opts in
    second.assert_outcomes(failed=1)
    line = summary_line(second, "test_subject.py::test_db_value")
    assert "race found: violation  (1 schedule" in line
    assert f'replay="{token}"' in second.stdout.str()


def test_marker_rejects_unknown_arguments(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import pytest

        @pytest.mark.racecheck(schedule=3)
        def test_typo():
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown argument(s) schedule*"])


def test_skip_and_xfail_inside_an_explored_test_are_not_races(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        import pytest

        @pytest.mark.racecheck(schedules=5)
        def test_marked_skips():
            pytest.skip("not on this platform")

        def test_skips_after_starting_a_thread():
            threading.Thread(target=lambda: None).start()
            pytest.xfail("known problem")
    """)
    result = run(pytester, "--racecheck")
    result.assert_outcomes(skipped=1, xfailed=1)
    assert "race found" not in result.stdout.str()


def test_plain_failure_no_schedule_reproduces_is_kept(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        calls = []

        def test_fails_only_the_first_time():
            threading.Thread(target=lambda: None).start()
            calls.append(1)
            assert len(calls) > 1
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 > 1*"])
    line = summary_line(result, "test_subject.py::test_fails_only_the_first_time")
    assert "pass" in line and "failed in the plain run, but no schedule reproduced it" in line


def test_time_budget_stops_the_exploration(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_locked():
            assert run_two("increment_locked") == 2
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=100000",
                 "--racecheck-time-budget=0.5")
    result.assert_outcomes(passed=1)
    line = summary_line(result, "test_subject.py::test_locked")
    assert "time budget of 0.5s reached" in line
    n = re.search(r"\((\d+) schedules", line)
    assert n is not None and int(n.group(1)) < 100000


# ------------------------------------------------------ fixture and nesting


def test_fixture_and_own_explorations_are_not_wrapped(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import racecheck as rc

        def increment(c):
            c.increment()

        def test_with_fixture(racecheck):
            result = racecheck.explore([increment, increment], setup=Counter,
                                       invariant=lambda c: c.n == 2, schedules=50, seed=0)
            assert not result.ok

        def test_calls_check_itself():
            threading.Thread(target=lambda: None).start()
            result = rc.check(lambda: run_two("increment_locked"), schedules=5, seed=0)
            assert result.ok
    """)
    result = run(pytester, "--racecheck")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "0 tests explored" in out
    assert "2 tests not explored: " in out
    assert "1 uses the racecheck or pytester fixture" in out
    assert "1 runs its own racecheck exploration" in out


# ------------------------------------------------------------ options, seeds


def test_header_seed_and_seed_last(pytester: pytest.Pytester) -> None:
    make(pytester, "def test_nothing():\n    pass\n")
    first = pytester.runpytest_inprocess("--racecheck-seed=4242")
    first.stdout.fnmatch_lines(["racecheck: seed=4242 (replay with --racecheck-seed=4242)"])
    second = pytester.runpytest_inprocess("--racecheck-seed=last")
    second.stdout.fnmatch_lines(["racecheck: seed=4242 (replay with --racecheck-seed=4242)"])
    third = pytester.runpytest_inprocess()
    seed = re.search(r"racecheck: seed=(\d+)", third.stdout.str())
    assert seed is not None
    fourth = pytester.runpytest_inprocess("--racecheck-seed=last")
    fourth.stdout.fnmatch_lines([f"racecheck: seed={seed.group(1)} *"])


def test_precedence_marker_cli_ini_env(pytester: pytest.Pytester,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(schedules=14)
        def test_marked():
            assert run_two("increment_locked") == 2

        def test_unmarked():
            assert run_two("increment_locked") == 2
    """)
    monkeypatch.setenv("RACECHECK", "1")
    monkeypatch.setenv("RACECHECK_SCHEDULES", "13")
    env_only = run(pytester)
    assert "(13 schedules" in summary_line(env_only, "test_subject.py::test_unmarked")
    ini(pytester, "racecheck_schedules = 11")
    from_ini = run(pytester)
    assert "(11 schedules" in summary_line(from_ini, "test_subject.py::test_unmarked")
    cli = run(pytester, "--racecheck-schedules=12")
    assert "(12 schedules" in summary_line(cli, "test_subject.py::test_unmarked")
    assert "(14 schedules" in summary_line(cli, "test_subject.py::test_marked")


def test_precedence_of_the_strategy_marker_cli_ini_env_default(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(strategy="pct")
        def test_marked():
            assert run_two("increment_locked") == 2

        def test_unmarked():
            assert run_two("increment_locked") == 2
    """)

    def strategies(*args: str) -> tuple[object, object]:
        run(pytester, "--racecheck", "--racecheck-schedules=3", "--racecheck-report=rc.json",
            *args)
        tests = read_report(pytester.path / "rc.json")
        return (tests["test_subject.py::test_unmarked"]["strategy"],
                tests["test_subject.py::test_marked"]["strategy"])

    assert strategies() == ("auto", "pct")
    monkeypatch.setenv("RACECHECK_STRATEGY", "random")
    assert strategies() == ("random", "pct")
    ini(pytester, "racecheck_strategy = pct")
    assert strategies() == ("pct", "pct")
    assert strategies("--racecheck-strategy=random") == ("random", "pct")
    assert strategies("--racecheck-strategy=portfolio") == ("portfolio", "pct")


def test_a_bad_environment_variable_is_a_usage_error_naming_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    make(pytester, "def test_nothing():\n    pass\n")
    monkeypatch.setenv("RACECHECK_WATCHDOG", "soon")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*racecheck: environment variable RACECHECK_WATCHDOG='soon' "
                                 "is not a number of seconds (fix or unset RACECHECK_WATCHDOG)*"])
    # The command line wins, so the variable is never read.
    assert pytester.runpytest_inprocess("--racecheck-watchdog=2").ret == pytest.ExitCode.OK
    # "last" is the plugin's spelling, not an integer: the core, given the test's
    # seed, does not read the variable.
    monkeypatch.setenv("RACECHECK_WATCHDOG", "2")
    monkeypatch.setenv("RACECHECK_SEED", "last")
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(schedules=2)
        def test_marked():
            assert run_two("increment_locked") == 2
    """)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)


def test_a_bad_marker_value_fails_the_test_naming_it(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(schedules=0)
        def test_marked():
            assert run_two("increment_locked") == 2
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.racecheck: schedules must be a positive integer, got 0*"])


def test_importing_the_plugin_loads_neither_racecheck_nor_heavy_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys, pytest_racecheck.plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('racecheck', 'numpy', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make(pytester, "def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--racecheck-schedules=many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--racecheck-schedules='many' is not a positive integer*"])


def test_isolate_flag(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment") == 2
    """)
    result = run(pytester, "--racecheck", "--racecheck-isolate", "--racecheck-schedules=50")
    result.stdout.fnmatch_lines(["racecheck: each exploration runs in a child process*"])
    result.assert_outcomes(failed=1)
    assert "race found: violation" in summary_line(result, "test_subject.py::test_unlocked")


# ---------------------------------------------------------- failure database


def test_failure_database_replays_first_and_clears_on_pass(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment") == 2
    """)
    first = pytester.runpytest_inprocess("--racecheck", "--racecheck-seed=3",
                                         "--racecheck-schedules=100")
    first.assert_outcomes(failed=1)
    saved = list((pytester.path / ".pytest_cache" / "v" / "racecheck" / "failures").iterdir())
    assert len(saved) == 1
    token = json.loads(saved[0].read_text())[0]

    # Another seed would explore other schedules: the saved one still runs first.
    second = pytester.runpytest_inprocess("--racecheck", "--racecheck-seed=99",
                                          "--racecheck-schedules=100")
    second.assert_outcomes(failed=1)
    line = summary_line(second, "test_subject.py::test_unlocked")
    assert "(1 schedule;" in line and "from the failure database" in line
    assert token in second.stdout.str()

    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment_locked") == 2
    """)
    third = pytester.runpytest_inprocess("--racecheck", "--racecheck-schedules=20")
    third.assert_outcomes(passed=1)
    assert json.loads(saved[0].read_text()) is None


# ------------------------------------------------------------ reporting


def test_junit_xml_properties(pytester: pytest.Pytester) -> None:
    make(pytester, DB_VALUE)
    run(pytester, "--racecheck", "--racecheck-schedules=50", "--junitxml=junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert '<property name="racecheck_verdict" value="violation"' in xml
    assert re.search(r'<property name="racecheck_token" value="rc2\.[^"]+"', xml)
    assert re.search(r'<property name="racecheck_seed" value="\d+"', xml)


def test_json_report(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        def test_unlocked():
            assert run_two("increment") == 2

        def test_locked():
            assert run_two("increment_locked") == 2

        def test_no_threads():
            pass
    """)
    run(pytester, "--racecheck", "--racecheck-schedules=40", "--racecheck-report=out/rc.json")
    data = json.loads((pytester.path / "out" / "rc.json").read_text())
    assert data["seed"] == 1
    tests = {t["nodeid"]: t for t in data["tests"]}
    assert set(tests) == {"test_subject.py::test_unlocked", "test_subject.py::test_locked"}
    bad, good = tests["test_subject.py::test_unlocked"], tests["test_subject.py::test_locked"]
    assert bad["ok"] is False and bad["verdict"] == "violation"
    assert bad["token"].startswith("rc2.") and "Replay this exact schedule" in bad["report"]
    assert bad["outcome"] == "failed"
    assert bad["preemptions"] <= bad["found_preemptions"] and bad["preemptions"] <= 1
    assert good["ok"] is True and good["verdict"] == "pass" and good["token"] is None
    assert good["preemptions"] is None
    assert good["schedules_run"] == 40 and good["outcome"] == "passed"
    for entry in (bad, good):
        for key in ("seed", "strategy", "elapsed", "evidence"):
            assert key in entry


def test_a_failure_is_reported_shrunk(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        class Tally:
            n = 0

        def test_twenty_increments_each():
            tally = Tally()

            def add():
                for _ in range(20):
                    tally.n += 1

            ts = [threading.Thread(target=add) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert tally.n == 40
    """)
    result = run(pytester, "--racecheck", "--racecheck-strategy=random", "-v",
                 "--racecheck-report=r.json")
    record = read_report(pytester.path / "r.json")["test_subject.py::test_twenty_increments_each"]
    assert record["verdict"] == "violation" and record["preemptions"] == 1
    assert record["found_preemptions"] > 1  # the random walk switches all the time
    assert f"shrunk from {record['found_preemptions']} to 1 preemption" in record["evidence"]
    assert f"shrunk from {record['found_preemptions']} to 1 preemption" in result.stdout.str()
    assert "shrunk to 1 (" in record["report"]


# ---------------------------------------------------------------- xdist


def test_xdist_gives_the_same_verdicts_as_a_serial_run(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.parametrize("i", range(3))
        def test_unlocked(i):
            assert run_two("increment") == 2

        @pytest.mark.parametrize("i", range(3))
        def test_locked(i):
            assert run_two("increment_locked") == 2
    """)
    common = ("--racecheck", "--racecheck-seed=7", "--racecheck-schedules=30",
              "-p", "no:cacheprovider")
    pytester.runpytest_inprocess(*common, "--racecheck-report=serial.json")
    parallel = pytester.runpytest_inprocess(*common, "-n", "2", "--racecheck-report=xdist.json")
    parallel.stdout.fnmatch_lines(["*racecheck: seed=7*"])

    def key(path: str) -> dict[str, tuple[object, ...]]:
        return {n: (e["verdict"], e["schedules_run"], e["seed"], e["token"])
                for n, e in read_report(pytester.path / path).items()}

    serial, xdist = key("serial.json"), key("xdist.json")
    assert len(serial) == 6
    assert serial == xdist


# ------------------------------------------------------------- integrations


def test_hypothesis_given_with_racecheck(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        from hypothesis import given, settings, strategies as st

        class Adder(Counter):
            def add(self, k):
                self.n += k

        @settings(max_examples=5, deadline=None, database=None)
        @given(st.integers(1, 5))
        def test_add(k):
            adder = Adder()
            threads = [threading.Thread(target=adder.add, args=(k,)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert adder.n == 2 * k

        @settings(max_examples=5, deadline=None, database=None)
        @given(st.integers(1, 5))
        def test_add_locked(k):
            assert run_two("increment_locked") == 2
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=20")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    # Hypothesis names the input, racecheck the schedule.
    assert re.search(r"(Falsifying example|Failing test case): test_add\(", out)
    assert re.search(r'@pytest\.mark\.racecheck\(replay="rc2\.', out)
    assert "race found: violation" in summary_line(result, "test_subject.py::test_add")
    # 5 examples x 20 schedules each for the safe one.
    assert "pass  (100 schedules" in summary_line(result, "test_subject.py::test_add_locked")


def test_blocking_real_io_ends_with_a_hang_verdict(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACECHECK_WATCHDOG", "1")
    make(pytester, """
        import socket
        import threading

        import pytest

        @pytest.mark.racecheck(schedules=5)
        def test_waits_on_a_socket_nobody_writes():
            a, b = socket.socketpair()
            try:
                reader = threading.Thread(target=a.recv, args=(1,))
                reader.start()
                reader.join()
            finally:
                a.close()
                b.close()
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "racecheck found a HANG" in out
    assert "waited more than 1s for socket.recv()" in out
    assert "race found: hang" in summary_line(
        result, "test_subject.py::test_waits_on_a_socket_nobody_writes")


def test_verbose_mode_shows_progress_of_long_explorations(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_racecheck.run as run_module

    monkeypatch.setattr(run_module, "_PROGRESS_EVERY", 0.0)  # every schedule counts as "long"
    make(pytester, COUNTER, """
        def test_locked():
            assert run_two("increment_locked") == 2
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=5", "-v")
    result.assert_outcomes(passed=1)
    assert re.search(r"test_locked .*\[1/5\] \[2/5\] \[3/5\] \[4/5\]", result.stdout.str())
    quiet = pytester.runpytest_inprocess("-p", "no:randomly", "--racecheck-seed=1",
                                         "--racecheck", "--racecheck-schedules=5")
    assert "[1/5]" not in quiet.stdout.str()


def test_limits_the_report_names_can_be_raised_from_pytest(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        import pytest

        def start(n):
            ts = [threading.Thread(target=lambda: None) for _ in range(n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        @pytest.mark.racecheck(schedules=2)
        def test_too_many_threads():
            start(100)

        @pytest.mark.racecheck(schedules=2, max_threads=150)
        def test_limit_raised_by_marker():
            start(100)

        class Busy:
            n = 0

        @pytest.mark.racecheck(schedules=2, max_steps=50)
        def test_step_limit_from_marker():
            t = threading.Thread(target=lambda: None)
            t.start()
            for _ in range(100):
                Busy.n += 1
            t.join()
    """)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "NotExplorable: the code under test started more than 64 threads" in out
    assert "race found" not in out
    assert "did not end within 50 scheduling points" in out and "--racecheck-max-steps" in out
    assert "1 starts more than 64 threads (max_threads)" in out  # counted, not lost
    again = run(pytester, "--racecheck-max-threads=200", "--racecheck-max-steps=100000",
                "-k", "too_many or step_limit")
    again.assert_outcomes(passed=1, failed=1)  # the marker's max_steps=50 wins over the option


def test_threads_a_plain_run_leaves_running_keep_no_test_out_of_its_child(
        pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading
        import time

        def test_leaves_a_worker_running():
            threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()

        def test_next():
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=3", "--racecheck-report=r.json")
    result.assert_outcomes(passed=2)
    records = read_report(pytester.path / "r.json")
    assert len(records) == 2
    for record in records.values():
        assert "schedules ran in this process" not in str(record["note"])


def test_unittest_test_cases_are_explored_with_set_up_and_cleanups_per_schedule(
        pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading
        import unittest

        class Account:
            def __init__(self):
                self.balance = 0
                self.lock = threading.Lock()

            def deposit(self):
                value = self.balance
                self.balance = value + 1

            def deposit_locked(self):
                with self.lock:
                    self.deposit()

        class TestAccount(unittest.TestCase):
            def setUp(self):
                self.account = Account()  # fresh for every schedule
                self.addCleanup(setattr, self.account, "closed", True)

            def run_two(self, method):
                ts = [threading.Thread(target=getattr(self.account, method)) for _ in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()

            def test_locked(self):
                self.run_two("deposit_locked")
                self.assertEqual(self.account.balance, 2)

            def test_unlocked(self):
                for n in (1, 2):
                    with self.subTest(round=n):
                        self.account.balance = 0
                        self.run_two("deposit")
                        self.assertEqual(self.account.balance, 2)
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=100")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "2 tests explored" in out
    assert "racecheck found a VIOLATION" in out
    # the failing subtest (the message may wrap before the subtest's parameters)
    assert re.search(r"test_unlocked [^\n]*\s+\(round=[12]\)\s+failed", out)
    assert "plugin.py" not in out  # racecheck's own frames are never steps
    assert "pass  (100 schedules" in summary_line(
        result, "test_subject.py::TestAccount::test_locked")


def test_unittest_methods_ending_in_a_pytest_outcome_keep_it(pytester: pytest.Pytester) -> None:
    """pytest.skip / xfail / importorskip inside a TestCase method are the test's outcome,
    as without racecheck (unittest counts them as errors), and an expectedFailure is an
    xfail (found on prometheus_client's suite: reported as races)."""
    make(pytester, """
        import threading
        import unittest

        import pytest

        class Outcomes:
            def setUp(self):
                self.t = threading.Thread(target=lambda: None)
                self.t.start()

            def tearDown(self):
                self.t.join()

            def test_importorskip(self):
                pytest.importorskip("no_such_module_for_racecheck")

            def test_skip(self):
                pytest.skip("not here")

            def test_xfail(self):
                pytest.xfail("known")

            def test_skip_in_a_subtest(self):
                with self.subTest(n=1):
                    pytest.skip("not here either")

            @unittest.expectedFailure
            def test_expected_failure(self):
                self.assertEqual(1, 2)

            def test_skiptest(self):
                self.skipTest("unittest's own")

        class TestPlainFirst(Outcomes, unittest.TestCase):
            pass

        @pytest.mark.racecheck(schedules=5)
        class TestExploredAtOnce(Outcomes, unittest.TestCase):
            pass
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=5")
    outcomes = result.parseoutcomes()
    # a skip inside a subTest: pytest reports the subtest skipped and the test passed;
    # under racecheck the test passes (the subtest's own line is not reproduced)
    assert outcomes["passed"] == 2 and outcomes["xfailed"] == 4
    assert outcomes["skipped"] == 6 and "failed" not in outcomes
    out = result.stdout.str()
    assert "race found" not in out and "error" not in out
    # the marked class went to the exploration, whose first schedule ended in the outcome
    assert "not explored: skipped itself (pytest.skip)" in summary_line(
        result, "test_subject.py::TestExploredAtOnce::test_skip")
    assert "xfailed itself" in summary_line(
        result, "test_subject.py::TestExploredAtOnce::test_expected_failure")


def test_a_busy_thread_left_by_the_plain_run_is_waited_for_before_forking(
        pytester: pytest.Pytester) -> None:
    """A leftover thread inside a buffered write at fork time would hang the child (pykka);
    running the schedules in-process instead let libraries see racecheck unwind them."""
    make(pytester, """
        import os
        import threading
        import time

        SINK = open(os.devnull, "w")
        RUNS = [0]

        def chatter(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                SINK.write("x" * 1_000_000)
                SINK.flush()

        def test_leftover_writer():
            RUNS[0] += 1
            seconds = 1.5 if RUNS[0] == 1 else 0.0  # only the plain run leaves it writing
            threading.Thread(target=chatter, args=(seconds,), daemon=True).start()
            SINK.write("main\\n")
            SINK.flush()
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=20", "--racecheck-report=r.json")
    result.assert_outcomes(passed=1)
    record = read_report(pytester.path / "r.json")["test_subject.py::test_leftover_writer"]
    assert record["verdict"] == "pass"
    assert "schedules ran in this process" not in str(record["note"])


FIXTURES_PER_SCHEDULE = """
    import logging
    import queue
    import threading

    import pytest

    log = logging.getLogger("subject")

    def test_caplog_sees_only_this_schedules_records(caplog):
        caplog.set_level(logging.INFO)
        ts = [threading.Thread(target=log.info, args=("hello",)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(caplog.records) == 2

    def test_tmp_path_is_fresh(tmp_path):
        lock = threading.Lock()
        def write(i):
            with lock, open(tmp_path / "log", "a") as f:
                f.write(f"{i}\\n")
        ts = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len((tmp_path / "log").read_text().splitlines()) == 2

    @pytest.fixture
    def worker():
        jobs = queue.Queue()
        def serve():
            while (job := jobs.get()) is not None:
                job()
        t = threading.Thread(target=serve)  # not a daemon: the teardown stops it
        t.start()
        yield jobs
        jobs.put(None)
        t.join()

    def test_a_worker_the_fixture_teardown_stops(worker):
        done = threading.Event()
        worker.put(done.set)
        assert done.wait(5)
"""


def test_function_fixtures_are_set_up_and_torn_down_in_every_schedule(
        pytester: pytest.Pytester) -> None:
    make(pytester, FIXTURES_PER_SCHEDULE)
    # A process of its own: threads other tests of this suite left running would keep
    # the schedules in-process (covered by the in-process test below).
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=30")
    result.assert_outcomes(passed=3)
    assert "3 tests explored" in result.stdout.str()


def test_fixtures_once_per_test_is_an_opt_out(pytester: pytest.Pytester) -> None:
    make(pytester, FIXTURES_PER_SCHEDULE)
    result = run(pytester, "--racecheck", "--racecheck-schedules=30", "--racecheck-fixtures=test",
                 "-k", "caplog or tmp_path")
    # The plain run's records and files are still there in every schedule.
    result.assert_outcomes(failed=2)


REGISTRY = """
    import queue
    import threading

    import pytest

    REGISTRY = []  # module-level, like an actor framework's registry of running actors

    class Actor:
        def __init__(self):
            self.inbox = queue.Queue()
            self.stopped = threading.Event()
            self.thread = threading.Thread(target=self._loop)
            self.thread.start()
            REGISTRY.append(self)

        def _loop(self):
            while (message := self.inbox.get()) is not None:
                message()
            self.stopped.set()

        def stop(self):  # waits for the actor's answer, as pykka's stop() does
            self.inbox.put(None)
            self.stopped.wait()
            REGISTRY.remove(self)

    def stop_all():
        for actor in list(REGISTRY):
            actor.stop()

    @pytest.fixture
    def actor():
        yield Actor()
        stop_all()

    def test_ask_an_actor(actor):
        answered = threading.Event()
        actor.inbox.put(answered.set)
        assert answered.wait(5)
"""


def test_the_plain_runs_fixtures_are_torn_down_before_schedules_run(
        pytester: pytest.Pytester) -> None:
    """pykka: the plain run's actor stayed registered, so each schedule's stop_all waited
    for a thread the schedule's process did not have (a false deadlock)."""
    make(pytester, REGISTRY)
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=20",
                       "--racecheck-report=r.json")
    result.assert_outcomes(passed=1)
    record = read_report(pytester.path / "r.json")["test_subject.py::test_ask_an_actor"]
    assert record["verdict"] == "pass" and record["schedules_run"] == 20


def test_fresh_fixtures_when_the_schedules_run_in_this_process(pytester: pytest.Pytester) -> None:
    """A session fixture's server thread keeps the schedules in-process (a forked child
    would not have it); every schedule still gets its own function fixtures."""
    make(pytester, FIXTURES_PER_SCHEDULE, """
        @pytest.fixture(scope="session", autouse=True)
        def server():
            stop = threading.Event()
            t = threading.Thread(target=stop.wait, name="server")
            t.start()
            yield
            stop.set()
            t.join()
    """)
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=20",
                       "--racecheck-report=r.json")
    result.assert_outcomes(passed=3)
    for record in read_report(pytester.path / "r.json").values():
        assert "schedules ran in this process" in str(record["note"])


NOT_EXPLORABLE = """
    import _queue
    import threading

    import pytest

    def test_stress_20_threads_times_1000_operations():
        lock = threading.Lock()
        counts = [0]
        def work():
            for _ in range(1000):
                with lock:
                    counts[0] += 1
        ts = [threading.Thread(target=work) for _ in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert counts[0] == 20_000

    def test_a_hundred_threads():
        ts = [threading.Thread(target=lambda: None) for _ in range(100)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    MADE_AT_IMPORT = _queue.SimpleQueue()  # a C queue racecheck cannot see into

    def test_blocked_in_c_on_what_a_parked_thread_would_put():
        got = []
        consumer = threading.Thread(target=lambda: got.append(MADE_AT_IMPORT.get()))
        consumer.start()
        MADE_AT_IMPORT.put(1)
        consumer.join()
        assert got == [1]
"""


def test_tests_racecheck_cannot_explore_keep_their_outcome_and_say_why(
        pytester: pytest.Pytester) -> None:
    """Too long, too many threads, a wait in C: not explored (with the reason), never
    a race and never an error, in the summary and the JSON report."""
    make(pytester, NOT_EXPLORABLE)
    result = run(pytester, "--racecheck", "--racecheck-schedules=20", "--racecheck-watchdog=1",
                 "--racecheck-max-steps=20000", "--racecheck-report=r.json", "-v")
    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    assert "race found" not in out
    assert "3 tests not explored" in out
    assert "PASSED (racecheck: not explored, too long to explore" in out
    assert "starts more than 64 threads (max_threads)" in out
    assert "waits on something racecheck cannot see into" in out
    data = json.loads((pytester.path / "r.json").read_text())
    reasons = {entry["nodeid"].split("::")[1]: entry for entry in data["not_explored"]}
    assert set(reasons) == {"test_stress_20_threads_times_1000_operations", "test_a_hundred_threads",
                            "test_blocked_in_c_on_what_a_parked_thread_would_put"}
    stress = reasons["test_stress_20_threads_times_1000_operations"]
    assert stress["outcome"] == "passed" and "did not end within 20000" in stress["detail"]
    assert "MADE_AT_IMPORT.get()" in reasons[
        "test_blocked_in_c_on_what_a_parked_thread_would_put"]["detail"]
    assert data["tests"] == []


TEARDOWN_AFTER_FAILURE = """
    import threading

    import pytest

    counter = {"n": 0}

    def bump():
        n = counter["n"]
        counter["n"] = n + 1

    @pytest.fixture
    def busy_teardown():
        yield
        for _ in range(200):  # plenty of turns after the failure
            counter["after"] = counter.get("after", 0) + 1

    def test_lost_update(busy_teardown):
        counter["n"] = 0
        ts = [threading.Thread(target=bump) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert counter["n"] == 2
"""


def test_the_interleaving_ends_where_the_test_failed_not_after_its_teardown(
        pytester: pytest.Pytester) -> None:
    make(pytester, TEARDOWN_AFTER_FAILURE)
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=50")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    interleaving = out.split("Interleaving (", 1)[1].split("Exception in main", 1)[0]
    assert 'counter["after"]' not in interleaving  # the teardown's turns are not shown
    assert "_pytest" not in interleaving and "pluggy" not in interleaving
    assert 'assert counter["n"] == 2' in interleaving.strip().splitlines()[-1]


ASYNC_TESTS = """
    import asyncio
    import threading
    import time

    import pytest
    import pytest_asyncio

    counter = {"n": 0}
    lock = threading.Lock()

    def bump():
        n = counter["n"]
        time.sleep(0.01)
        counter["n"] = n + 1

    def bump_locked():
        with lock:
            bump()

    @pytest.mark.asyncio
    async def test_to_thread_lost_update():
        counter["n"] = 0
        await asyncio.gather(asyncio.to_thread(bump), asyncio.to_thread(bump))
        assert counter["n"] == 2

    @pytest_asyncio.fixture
    async def started():
        loop = asyncio.get_running_loop()
        yield loop
        await asyncio.sleep(0)

    @pytest.mark.asyncio
    async def test_to_thread_locked_with_an_async_fixture(started):
        assert started is asyncio.get_running_loop()  # the fixture's loop runs the test
        counter["n"] = 0
        await asyncio.gather(asyncio.to_thread(bump_locked), asyncio.to_thread(bump_locked))
        assert counter["n"] == 2

    @pytest.fixture
    def anyio_backend():
        return "asyncio"

    @pytest.mark.anyio
    async def test_anyio_lost_update():
        import anyio

        counter["n"] = 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, bump)
            tg.start_soon(anyio.to_thread.run_sync, bump)
        assert counter["n"] == 2
"""


def test_async_tests_run_their_event_loop_in_the_schedule(pytester: pytest.Pytester) -> None:
    """pytest-asyncio and anyio tests: the loop and its executor threads are explored."""
    pytest.importorskip("pytest_asyncio")
    pytest.importorskip("anyio")
    make(pytester, ASYNC_TESTS)
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=30",
                       "--racecheck-report=r.json")
    result.assert_outcomes(passed=1, failed=2)
    records = read_report(pytester.path / "r.json")
    assert records["test_subject.py::test_to_thread_lost_update"]["verdict"] == "violation"
    assert records["test_subject.py::test_anyio_lost_update"]["verdict"] == "violation"
    locked = records["test_subject.py::test_to_thread_locked_with_an_async_fixture"]
    assert locked["verdict"] == "pass" and locked["schedules_run"] == 30


STOPWATCH_AND_FILE_LOCK = """
    import fcntl
    import threading
    import time

    def test_hammer_a_lock_for_a_second():
        lock = threading.Lock()
        done = [0, 0]
        def hammer(i):
            start = time.monotonic()
            while time.monotonic() - start < 1:
                with lock:
                    done[i] += 1
        ts = [threading.Thread(target=hammer, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert all(done)

    def test_appends_under_a_file_lock(tmp_path):
        path = tmp_path / "ledger"
        path.write_text("0")
        def add_one():
            with open(path, "r+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # blocks in C while another holds it
                value = int(f.read())
                f.seek(0)
                f.write(str(value + 1))
                f.flush()  # before unlocking: the next holder reads the file, not our buffer
                fcntl.flock(f, fcntl.LOCK_UN)
        ts = [threading.Thread(target=add_one) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert path.read_text() == "2"
"""


def test_a_stopwatch_stress_test_and_a_file_lock_are_explored(pytester: pytest.Pytester) -> None:
    """Loops on a stopwatch end in virtual time; a flock held by a parked thread is waited
    for in the scheduler, not for real (it was a watchdog hang)."""
    make(pytester, STOPWATCH_AND_FILE_LOCK)
    # controlled only: file I/O is CPU time in C, for which mode="auto" may add
    # real-thread runs when the first schedule's measure crosses its threshold
    result = run_apart(pytester, "--racecheck", "--racecheck-schedules=20",
                       "--racecheck-watchdog=2", "--racecheck-report=r.json",
                       "--racecheck-mode=controlled")
    result.assert_outcomes(passed=2)
    records = read_report(pytester.path / "r.json")
    for name in ("test_hammer_a_lock_for_a_second", "test_appends_under_a_file_lock"):
        record = records[f"test_subject.py::{name}"]
        assert record["verdict"] == "pass" and record["schedules_run"] == 20, record
    # Without the lock the same ledger loses an update.
    make(pytester, STOPWATCH_AND_FILE_LOCK.replace("fcntl.flock(f, fcntl.LOCK_EX)", "pass")
         .replace("fcntl.flock(f, fcntl.LOCK_UN)", "pass"))
    racy = run_apart(pytester, "--racecheck", "--racecheck-schedules=50",
                     "-k", "file_lock")
    racy.assert_outcomes(failed=1)
    assert "race found: violation" in racy.stdout.str()
    # So does unlocking while the new value still sits in the file object's buffer: the
    # next holder reads the file before `with` closes (and flushes) it. Plain threads hit
    # this now and then; it made this very test flaky before the flush was added.
    make(pytester, STOPWATCH_AND_FILE_LOCK.replace("f.flush()", "pass"))
    unflushed = run_apart(pytester, "--racecheck", "--racecheck-schedules=50",
                          "-k", "file_lock")
    unflushed.assert_outcomes(failed=1)
    assert "race found: violation" in unflushed.stdout.str()


def test_the_step_budget_bounds_a_tests_exploration(pytester: pytest.Pytester) -> None:
    make(pytester, """
        import threading

        import pytest

        def work(items):
            for _ in range(100):
                items.append(1)

        def body():
            items = []
            ts = [threading.Thread(target=work, args=(items,)) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        def test_by_option():
            body()

        @pytest.mark.racecheck(step_budget=10_000)
        def test_by_marker():
            body()
    """)
    result = run(pytester, "--racecheck", "--racecheck-schedules=200",
                 "--racecheck-step-budget=3000", "--racecheck-report=r.json")
    result.assert_outcomes(passed=2)
    records = read_report(pytester.path / "r.json")
    by_option = records["test_subject.py::test_by_option"]
    by_marker = records["test_subject.py::test_by_marker"]
    assert 1 < int(by_option["schedules_run"]) < int(by_marker["schedules_run"]) < 200
    assert "step budget of 3,000 scheduling points spent" in str(by_option["note"])


def test_jobs_spread_a_tests_schedules_and_keep_its_token(pytester: pytest.Pytester) -> None:
    make(pytester, COUNTER, """
        import pytest

        @pytest.mark.racecheck(strategy="pct", schedules=300)
        def test_unlocked():
            assert run_two("increment") == 2

        @pytest.mark.racecheck(strategy="random", schedules=60)
        def test_locked():
            assert run_two("increment_locked") == 2
    """)
    report = pytester.path / "report.json"

    def tokens(*args: str) -> list[tuple[str, str, object]]:
        # in a process of its own: no other thread, so its schedules fork
        run_apart(pytester, f"--racecheck-report={report}", *args).assert_outcomes(
            passed=1, failed=1)
        tests = json.loads(report.read_text())["tests"]
        spread.append({t["nodeid"].split("::")[1]: t["parallel_from"] for t in tests})
        return sorted((t["nodeid"], t["verdict"], t["token"]) for t in tests)

    spread: list[dict[str, int | None]] = []
    serial = tokens()
    assert tokens("--racecheck-jobs=2") == serial
    # the passing random walk went parallel from its second schedule, and only with jobs
    assert spread == [{"test_unlocked": None, "test_locked": None},
                      {"test_unlocked": None, "test_locked": 1}]
    assert [verdict for _, verdict, _ in serial] == ["pass", "violation"]
    with_marker = pytester.path / "test_subject.py"
    with_marker.write_text(with_marker.read_text().replace('schedules=300)',
                                                           'schedules=300, jobs=2)'))
    assert tokens() == serial


def test_a_long_not_explored_detail_is_cut_at_a_word_with_an_ellipsis() -> None:
    from pytest_racecheck.report import _clip

    detail = "the body did not end within 200000 scheduling points, " * 10
    cut = _clip(detail)
    assert len(cut) <= 304 and cut.endswith(" ...")
    assert cut[:-4] == detail[:len(cut) - 4] and detail[len(cut) - 4] in " ,"  # a whole word
    assert _clip("short enough") == "short enough"
