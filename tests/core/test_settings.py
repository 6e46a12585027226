"""racecheck.Settings: one frozen object, checked values, the one reader of RACECHECK_*."""

from __future__ import annotations

import dataclasses

import pytest

import racecheck
from racecheck import InvalidArgument, Settings


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.schedules = 5  # type: ignore[misc]


@pytest.mark.parametrize(("given", "needle"), [
    ({"schedules": 0}, "schedules must be a positive integer, got 0"),
    ({"schedules": True}, "schedules must be a positive integer"),
    ({"watchdog": -1}, "watchdog must be a positive number of seconds"),
    ({"strategy": "dfs"}, "unknown strategy 'dfs'"),
    ({"fixtures": "module"}, "fixtures must be one of 'schedule', 'test'"),
    ({"isolate": "yes"}, "isolate must be True, False or None"),
    ({"schedule": 5}, "unknown setting(s) schedule"),
])
def test_replace_checks_what_it_is_given(given: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Settings().replace(**given)
    assert needle in str(info.value)


def test_replace_layers_and_keeps_the_rest() -> None:
    base = Settings(step_budget=1000)
    layered = base.replace(schedules=7, time_budget=None)
    assert (layered.schedules, layered.step_budget, base.schedules) == (7, 1000, 200)


def test_from_env_reads_every_variable() -> None:
    env = {"RACECHECK": "yes", "RACECHECK_SCHEDULES": " 12 ", "RACECHECK_STRATEGY": "pct",
           "RACECHECK_SEED": "0", "RACECHECK_TIME_BUDGET": "1.5", "RACECHECK_WATCHDOG": "2",
           "RACECHECK_MAX_STEPS": "99", "RACECHECK_MAX_THREADS": "3",
           "RACECHECK_STEP_BUDGET": "1000", "RACECHECK_CHECK_DETERMINISM": "1",
           "RACECHECK_ISOLATE": "true", "RACECHECK_FIXTURES": "test",
           "RACECHECK_REPORT": "out.json", "RACECHECK_MAX_STEP": "typo is not read"}
    assert Settings.from_env(env) == Settings(
        explore_all=True, schedules=12, strategy="pct", seed=0, time_budget=1.5, watchdog=2.0,
        max_steps=99, max_threads=3, step_budget=1000, check_determinism=True, isolate=True,
        fixtures="test", report="out.json")
    assert Settings.from_env({"RACECHECK_SCHEDULES": "", "RACECHECK_SEED": " "}) == Settings()


def test_given_settings_win_and_their_variables_are_not_read() -> None:
    env = {"RACECHECK_SEED": "last", "RACECHECK_SCHEDULES": "9"}
    assert Settings.from_env(env, seed=4) == Settings(seed=4, schedules=9)
    with pytest.raises(InvalidArgument, match="RACECHECK_SEED='last' is not an integer"):
        Settings.from_env(env)


def test_an_isolate_flag_that_is_off_leaves_the_default() -> None:
    # Off means "do not insist": schedules still run in a child where they can.
    assert Settings.from_env({"RACECHECK_ISOLATE": "0"}).isolate is None


@pytest.mark.parametrize(("variable", "text", "needle"), [
    ("RACECHECK_SCHEDULES", "many", "RACECHECK_SCHEDULES='many' is not a positive integer"),
    ("RACECHECK_SCHEDULES", "0", "RACECHECK_SCHEDULES='0' must be positive"),
    ("RACECHECK_WATCHDOG", "soon", "RACECHECK_WATCHDOG='soon' is not a number of seconds"),
    ("RACECHECK_STRATEGY", "dfs", "RACECHECK_STRATEGY='dfs' is not one of auto, portfolio, random, pct"),
    ("RACECHECK_CHECK_DETERMINISM", "maybe", "='maybe' is not true or false"),
])
def test_a_bad_variable_is_named_with_what_to_do(variable: str, text: str, needle: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Settings.from_env({variable: text})
    message = str(info.value)
    assert message.startswith(f"environment variable {variable}=")
    assert needle in message and f"unset {variable}" in message


def test_explore_takes_what_it_is_not_given_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACECHECK_SCHEDULES", "3")
    monkeypatch.setenv("RACECHECK_STRATEGY", "random")
    result = racecheck.explore([lambda: None], seed=1, isolate=False)
    assert (result.schedules_run, result.strategy) == (3, "random")
    assert racecheck.explore([lambda: None], seed=1, schedules=2, isolate=False).schedules_run == 2
    monkeypatch.setenv("RACECHECK_MAX_STEPS", "lots")
    with pytest.raises(InvalidArgument, match="RACECHECK_MAX_STEPS='lots'"):
        racecheck.explore([lambda: None])
