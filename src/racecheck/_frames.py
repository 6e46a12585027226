"""pandas views of a result, for notebooks: ``result.to_dataframe()``, ``failure.to_dataframe()``.

Built from the plain data of ``_data.py``, so a frame holds exactly what the
JSON report holds.  pandas is imported here, when a frame is asked for, never
when racecheck or the pytest plugin is imported.
"""

from __future__ import annotations

from typing import Any

from .errors import MissingDependency

#: ``result.to_dataframe()``: one row per schedule run, indexed by its number.
RUN_COLUMNS = ("strategy", "steps", "choices", "preemptions", "verdict", "seconds")
#: ``failure.to_dataframe()``: one row per step of the failing schedule, in order.
STEP_COLUMNS = ("thread", "tid", "file", "line", "source", "kind", "access", "target",
                "value", "note", "chosen", "preempted", "lost_update")


def _pandas() -> Any:
    try:
        import pandas  # type: ignore[import-untyped]
    except ImportError:
        raise MissingDependency(
            "to_dataframe() needs pandas, which is not installed: "
            "pip install 'pytest-racecheck[pandas]' (or pip install pandas)") from None
    return pandas


def runs_frame(result: dict[str, Any]) -> Any:
    """Schedules as rows: which strategy chose it, its size, preemptions, verdict, time."""
    pd = _pandas()
    runs = result["runs"]
    frame = pd.DataFrame([[r[c] for c in RUN_COLUMNS] for r in runs], columns=list(RUN_COLUMNS),
                         index=pd.Index([r["index"] for r in runs], name="schedule"))
    return frame.astype({"steps": "int64", "choices": "int64", "preemptions": "int64",
                         "seconds": "float64"})


def steps_frame(failure: dict[str, Any]) -> Any:
    """A failing schedule's steps as rows; ``lost_update`` marks both writes of each one."""
    pd = _pandas()
    marked = {i for pair in failure["lost_updates"] for i in (pair["write"], pair["lost"])}
    rows = [[s[c] if c != "lost_update" else s["index"] in marked for c in STEP_COLUMNS]
            for s in failure["steps"]]
    return pd.DataFrame(rows, columns=list(STEP_COLUMNS),
                        index=pd.Index([s["index"] for s in failure["steps"]], name="step"))
