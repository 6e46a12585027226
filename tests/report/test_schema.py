"""The JSON report's schema (docs/report-schema.json) holds for what racecheck writes."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest

import racecheck

jsonschema = pytest.importorskip("jsonschema")

pytest_plugins = ["pytester"]

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report-schema.json").read_text())

SUBJECT = """
import threading
import time

import pytest

import racecheck

db_value = 0


def increase():
    global db_value
    seen = db_value
    time.sleep(0.1)
    db_value = seen + 1


def test_lost_update():
    global db_value
    db_value = 0
    threads = [threading.Thread(target=increase) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db_value == 2


lock = threading.Lock()


def increase_locked():
    global db_value
    with lock:
        seen = db_value
        time.sleep(0.1)
        db_value = seen + 1


@pytest.mark.xfail(reason="not a race: checks that xfail outcomes are reported", strict=True)
def test_locked_then_fails():
    global db_value
    db_value = 0
    threads = [threading.Thread(target=increase_locked) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db_value == 3


def test_locked():
    global db_value
    db_value = 0
    threads = [threading.Thread(target=increase_locked) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db_value == 2


def test_no_threads():
    assert db_value >= 0
"""


def validator(definition: str = "run") -> Any:
    schema = dict(SCHEMA, **{"$ref": f"#/$defs/{definition}"})
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("schema")
    (where / "test_subject.py").write_text(SUBJECT)
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                    "--racecheck", "--racecheck-seed=1", "--racecheck-schedules=30",
                    "--racecheck-report=r.json", "test_subject.py"],
                   cwd=where, capture_output=True, text=True, timeout=300)
    data: dict[str, Any] = json.loads((where / "r.json").read_text())
    return data


def test_the_plugins_report_validates(report: dict[str, Any]) -> None:
    validator().validate(report)
    tests = {t["nodeid"]: t for t in report["tests"]}
    racy = tests["test_subject.py::test_lost_update"]
    assert racy["verdict"] == "violation" and racy["outcome"] == "failed"
    failure = racy["failure"]
    # the trace travels as data: both writes of the lost update, with their source
    assert failure["lost_updates"]
    pair = failure["lost_updates"][0]
    for index in (pair["write"], pair["lost"]):
        step = failure["steps"][index]
        assert step["target"] == "db_value" and step["kind"] == "write"
        assert step["source"] == "db_value = seen + 1"
    assert failure["token"] == racy["token"]
    assert tests["test_subject.py::test_locked"]["failure"] is None
    assert tests["test_subject.py::test_locked"]["evidence_detail"][0]["schedules"] >= 1
    assert tests["test_subject.py::test_locked_then_fails"]["outcome"] == "xfailed"
    assert [t["nodeid"] for t in report["not_explored"]] == ["test_subject.py::test_no_threads"]


def test_the_schema_rejects_what_it_should(report: dict[str, Any]) -> None:
    check = validator()
    for breaks in (
        lambda r: r.update(schema_version=2),
        lambda r: r["tests"][0].pop("verdict"),
        lambda r: r["tests"][0].update(verdict="maybe"),
        lambda r: next(t for t in r["tests"] if t["failure"])["failure"]["steps"][0].update(
            line="12"),
        lambda r: next(t for t in r["tests"] if t["failure"])["failure"].update(token="nope"),
    ):
        broken = copy.deepcopy(report)
        breaks(broken)
        assert not check.is_valid(broken)


class Box:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def bump(box: Box) -> None:
    seen = box.value
    box.value = seen + 1


def bump_locked(box: Box) -> None:
    with box.lock:
        box.value += 1


def test_result_to_data_validates() -> None:
    check = validator("result")
    failed = racecheck.explore([bump, bump], setup=Box, invariant=lambda b: b.value == 2,
                               seed=2, schedules=40)
    passed = racecheck.explore([bump_locked, bump_locked], setup=Box,
                               invariant=lambda b: b.value == 2, seed=2, schedules=40)
    for result in (failed, passed):
        data = result.to_data()
        check.validate(data)
        json.dumps(data)  # plain data: no object that json cannot write
        assert len(data["runs"]) == result.schedules_run
    assert passed.to_data()["evidence"]["exhaustive_up_to_preemptions"] == 2


class TwoLocks:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def ab(locks: TwoLocks) -> None:
    with locks.a, locks.b:
        pass


def ba(locks: TwoLocks) -> None:
    with locks.b, locks.a:
        pass


def test_a_deadlocks_cycle_validates() -> None:
    result = racecheck.explore([ab, ba], setup=TwoLocks, seed=1, schedules=40)
    assert result.failure is not None and str(result.failure.kind) == "deadlock"
    data = result.to_data()
    validator("result").validate(data)
    assert {edge["waiter"] for edge in data["failure"]["cycle"]} == {"T1", "T2"}


def bump_then_walk(box: Box) -> None:
    bump(box)
    for _ in range(60):  # the lost update is now in the middle of a long schedule
        box.walked = getattr(box, "walked", 0)


def test_a_long_schedule_keeps_its_ends_and_its_lost_update(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from racecheck import _data

    monkeypatch.setattr(_data, "MAX_STEPS", 40)
    result = racecheck.explore([bump_then_walk, bump_then_walk], setup=Box,
                               invariant=lambda b: b.value == 2, seed=2, schedules=100)
    assert result.failure is not None
    data = result.to_data()
    validator("result").validate(data)
    failure = data["failure"]
    kept = {s["index"] for s in failure["steps"]}
    assert failure["steps_left_out"] > 0
    assert len(kept) + failure["steps_left_out"] == len(result.failure.trace.steps)
    assert all(pair["write"] in kept and pair["lost"] in kept
               for pair in failure["lost_updates"])
    assert failure["lost_updates"]
    page = tmp_path / "failure.html"
    result.failure.to_html(page)
    assert "more steps of this schedule are not in the report" in page.read_text()
