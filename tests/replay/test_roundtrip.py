"""Report -> replay is a required round trip; a replay that does not reproduce is an error."""

from __future__ import annotations

import threading

import pytest

import racecheck
from racecheck._core.schedule import Schedule
from racecheck.strategies import RandomStrategy, ScheduleSummary


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()


def add(c: Counter) -> None:
    c.n += 1


def add_twice(c: Counter) -> None:
    c.n += 1
    c.n += 1


def inv(c: Counter) -> bool:
    return c.n == 2


class Recording(RandomStrategy):
    """Random strategy that remembers every schedule's choices, to compare whole runs.

    It learns them from ``end``: a schedule may run in a forked child, where what
    ``choose`` changes stays.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.log: list[tuple[int, ...]] = []

    def end(self, summary: ScheduleSummary) -> None:
        self.log.append(summary.choices)


def test_same_seed_same_schedules_over_100_runs() -> None:
    def run() -> tuple[tuple[int, ...], ...]:
        strat = Recording(7)
        result = racecheck.explore([add, add, add], setup=Counter,
                                   invariant=lambda c: c.n >= 0, strategy=strat,
                                   schedules=5, seed=7)
        assert result.ok
        return tuple(strat.log)

    first = run()
    assert first  # choices were made
    for _ in range(99):
        assert run() == first


def test_same_seed_finds_the_same_failure_with_the_same_token() -> None:
    tokens = {
        racecheck.explore([add, add], setup=Counter, invariant=inv, seed=11).failure.token  # type: ignore[union-attr]
        for _ in range(20)
    }
    assert len(tokens) == 1


@pytest.mark.parametrize("strategy", ["random", "pct", "portfolio", "auto"])
def test_every_failure_replays_to_the_same_verdict(strategy: str) -> None:
    for seed in range(5):
        result = racecheck.explore([add, add], setup=Counter, invariant=inv,
                                   strategy=strategy, seed=seed, schedules=300)
        failure = result.failure
        assert failure is not None
        again = racecheck.replay(failure.token, [add, add], setup=Counter, invariant=inv)
        assert again.failure is not None
        assert again.failure.kind == failure.kind
        assert "warning: replaying" not in failure.report


def test_deadlock_replays_as_deadlock() -> None:
    class Two:
        def __init__(self) -> None:
            self.a, self.b = threading.Lock(), threading.Lock()

    def ab(s: Two) -> None:
        with s.a, s.b:
            pass

    def ba(s: Two) -> None:
        with s.b, s.a:
            pass

    failure = racecheck.explore([ab, ba], setup=Two, seed=3).failure
    assert failure is not None and failure.kind == "deadlock"
    again = racecheck.replay(failure.token, [ab, ba], setup=Two)
    assert again.failure is not None and again.failure.kind == "deadlock"
    assert again.failure.cycle


def test_replay_of_changed_code_raises_replay_diverged() -> None:
    token = None
    for seed in range(50):  # a failing schedule in which the third thread gets chosen
        failure = racecheck.explore([add, add, add], setup=Counter,
                                    invariant=lambda c: c.n == 3, seed=seed).failure
        assert failure is not None
        if 2 in Schedule.from_token(failure.token).choices:
            token = failure.token
            break
    assert token is not None
    with pytest.raises(racecheck.ReplayDiverged, match="no longer follows"):
        racecheck.replay(token, [add, add], setup=Counter, invariant=inv)


def test_token_codec_round_trip_and_is_plain_text() -> None:
    sched = Schedule((0, 0, 1, 1, 1, 0, 2, 300))
    token = sched.to_token()
    assert token.startswith("rc2.")
    assert token.isascii() and " " not in token
    assert Schedule.from_token(token).choices == sched.choices


@pytest.mark.parametrize("bad", [
    "", "hello", "rc1.311", "rc9.311.eNpjYGBkYGBkZAQAACUACA", "rc1.abc.eNpj",
    "rc1.311.!!!!", "rc1.311.eNpjYGBkYGBkZAQAACUACAxx", 12345, None,
])
def test_malformed_or_foreign_tokens_are_clear_errors(bad: object) -> None:
    with pytest.raises(racecheck.InvalidToken):
        racecheck.replay(bad, [add, add], setup=Counter)  # type: ignore[arg-type]


def test_pickle_payload_is_not_accepted() -> None:
    import base64
    import pickle
    import zlib

    evil = base64.urlsafe_b64encode(zlib.compress(pickle.dumps(("os", "system")))).decode()
    with pytest.raises(racecheck.InvalidToken):
        Schedule.from_token(f"rc1.311.{evil}".rstrip("="))


def test_a_replay_that_fails_before_using_its_choices_diverged() -> None:
    """The recorded run made every choice before its verdict: one that fails sooner is
    another run, not a reproduction (it used to be reported as the failure)."""
    def boom(c: Counter) -> None:
        raise ValueError("fails at once")

    token = Schedule(tuple([0, 1] * 20)).to_token()
    with pytest.raises(racecheck.ReplayDiverged, match="recorded choices unused"):
        racecheck.replay(token, [boom, boom], setup=Counter)
