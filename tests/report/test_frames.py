"""``result.to_dataframe()`` and ``failure.to_dataframe()``: with pandas, and without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import racecheck


class Counter:
    def __init__(self) -> None:
        self.value = 0


def bump(c: Counter) -> None:
    seen = c.value
    c.value = seen + 1


def bumped_twice(c: Counter) -> bool:
    return c.value == 2


def lost_update() -> racecheck.Result:
    return racecheck.explore([bump, bump], setup=Counter, invariant=bumped_twice,
                             schedules=50, seed=7, strategy="portfolio")


def test_runs_frame_has_one_row_per_schedule_run() -> None:
    pd = pytest.importorskip("pandas")
    result = lost_update()
    assert not result.ok
    frame = result.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["strategy", "steps", "choices", "preemptions", "verdict",
                                   "seconds"]
    assert len(frame) == result.schedules_run == len(result.runs)
    assert frame.index.name == "schedule"
    assert list(frame.index) == list(range(result.schedules_run))
    # the portfolio rotates random and PCT; the last schedule is the failing one
    assert set(frame["strategy"]) <= {"random", "pct"}
    assert frame["verdict"].iloc[-1] == "violation"
    assert (frame["verdict"].iloc[:-1] == "pass").all()
    assert frame["preemptions"].iloc[-1] >= 1  # a lost update needs a thread switched away
    assert (frame["steps"] > 0).all() and (frame["seconds"] > 0).all()


def test_runs_frame_names_each_member_of_the_default() -> None:
    pytest.importorskip("pandas")

    def locked_setup() -> tuple[Counter, object]:
        import threading
        return Counter(), threading.Lock()

    def locked_bump(state: tuple[Counter, object]) -> None:
        c, lock = state
        with lock:  # type: ignore[attr-defined]
            c.value += 1

    result = racecheck.explore([locked_bump, locked_bump], setup=locked_setup, schedules=20,
                               seed=3, invariant=lambda s: s[0].value == 2)
    assert result.ok
    frame = result.to_dataframe()
    # auto alternates dpor and the sampler until dpor's proof ends the exploration
    assert frame["strategy"].iloc[0] == "dpor"
    assert set(frame["strategy"]) <= {"dpor", "random", "pct"}
    assert (frame["verdict"] == "pass").all()


def test_steps_frame_is_the_failing_interleaving() -> None:
    pytest.importorskip("pandas")
    result = lost_update()
    assert result.failure is not None
    frame = result.failure.to_dataframe()
    trace = result.failure.trace
    assert trace is not None
    assert len(frame) == len(trace.steps)
    # rows in the order the instructions ran; the index is the step's place in the recording
    assert sorted(frame.index) == list(range(len(trace.steps)))
    assert [trace.steps[i].thread for i in frame.index] == list(frame["thread"])
    writes = frame[frame["lost_update"]]
    # both writes of the lost update are marked, one per thread, both writing c.value
    assert len(writes) == 2 and set(writes["thread"]) == {"T1", "T2"}
    assert set(writes["target"]) == {"c.value"} and set(writes["kind"]) == {"write"}
    assert frame["preempted"].any()
    assert frame["source"].str.contains("c.value = seen + 1", regex=False).any()


def test_without_pandas_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    result = lost_update()
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(racecheck.MissingDependency, match=r"pip install 'pytest-racecheck\[pandas\]'"):
        result.to_dataframe()
    assert result.failure is not None
    with pytest.raises(ImportError, match="needs pandas"):
        result.failure.to_dataframe()
    # the plain data is there without pandas
    assert result.to_data()["runs"][-1]["verdict"] == "violation"


def test_importing_racecheck_and_the_plugin_leaves_pandas_alone() -> None:
    code = textwrap.dedent("""
        import sys
        import racecheck, racecheck._data, pytest_racecheck.plugin, pytest_racecheck.report
        print(sorted(m for m in ('pandas', 'numpy', 'racecheck._frames', 'racecheck._html')
                     if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_examples_plot_script_measures_schedules_to_failure() -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("numpy")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "schedules_to_failure.py"
    spec = importlib.util.spec_from_file_location("schedules_to_failure", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    frame = script.measure(2, cases=["list check-then-pop"], strategies=["random", "dpor"],
                           budget=100)
    assert list(frame.columns) == ["test", "strategy", "seed", "found", "schedules", "seconds"]
    assert len(frame) == 4 and frame["found"].all()
    assert (frame["schedules"] >= 1).all() and (frame["schedules"] <= 100).all()
    # dpor's search order does not depend on the seed: the same schedule finds it
    assert frame[frame["strategy"] == "dpor"]["schedules"].nunique() == 1


def test_data_lists_steps_in_the_order_their_instructions_ran() -> None:
    """A write reached before a preemption lands after the write it loses to."""
    result = lost_update()
    assert result.failure is not None
    data = result.to_data()["failure"]
    place = {int(s["index"]): p for p, s in enumerate(data["steps"])}
    for pair in data["lost_updates"]:
        assert place[pair["write"]] > place[pair["lost"]]
    assert sorted(place) == list(range(len(data["steps"])))
