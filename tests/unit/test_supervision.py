"""The restart rule of `serve --role all`: backoff that doubles, a window that forgives, a limit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bakeplan.supervision import GiveUp, Restart, RestartPolicy, after_crash, exit_code

pytestmark = pytest.mark.unit
POLICY = RestartPolicy(backoff_seconds=1.0, backoff_max_seconds=30.0, max_restarts=5, window_seconds=300.0)


def test_the_first_crash_restarts_after_the_first_backoff() -> None:
    assert after_crash(POLICY, [], now=1000.0) == Restart(delay_seconds=1.0, crashes_in_window=1)


def test_the_backoff_doubles_per_crash_in_the_window_up_to_the_cap() -> None:
    policy = RestartPolicy(backoff_seconds=1.0, backoff_max_seconds=30.0, max_restarts=10, window_seconds=300.0)
    crashes: list[float] = []
    delays = []
    for now in range(100, 110):
        decision = after_crash(policy, crashes, now=float(now))
        assert isinstance(decision, Restart)
        delays.append(decision.delay_seconds)
        crashes.append(float(now))

    assert delays == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]


def test_more_crashes_than_the_limit_within_the_window_give_up() -> None:
    crashes = [10.0, 20.0, 30.0, 40.0, 50.0]  # five restarts already

    assert after_crash(POLICY, crashes, now=60.0) == GiveUp(crashes_in_window=6)


def test_crashes_older_than_the_window_are_forgiven() -> None:
    crashes = [10.0, 20.0, 30.0, 40.0, 50.0]

    assert after_crash(POLICY, crashes, now=50.0 + 300.0) == Restart(delay_seconds=1.0, crashes_in_window=1)
    assert after_crash(POLICY, crashes, now=45.0 + 300.0) == Restart(delay_seconds=2.0, crashes_in_window=2)


def test_no_restarts_allowed_gives_up_at_the_first_crash() -> None:
    policy = RestartPolicy(max_restarts=0)

    assert after_crash(policy, [], now=0.0) == GiveUp(crashes_in_window=1)


@pytest.mark.parametrize(
    "kwargs",
    [{"backoff_seconds": -1.0}, {"backoff_seconds": 5.0, "backoff_max_seconds": 1.0}, {"window_seconds": 0.0}],
)
def test_a_policy_that_cannot_work_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]


@given(
    crashes=st.lists(st.floats(min_value=0, max_value=10_000), max_size=20),
    now=st.floats(min_value=10_000, max_value=20_000),
)
def test_a_restart_waits_within_the_bounds_and_only_while_under_the_limit(crashes: list[float], now: float) -> None:
    decision = after_crash(POLICY, crashes, now=now)
    in_window = sum(1 for at in crashes if now - at < POLICY.window_seconds)

    if in_window >= POLICY.max_restarts:
        assert decision == GiveUp(in_window + 1)
    else:
        assert isinstance(decision, Restart)
        assert POLICY.backoff_seconds <= decision.delay_seconds <= POLICY.backoff_max_seconds


def test_exit_codes_read_as_a_shell_reads_them() -> None:
    assert [exit_code(0), exit_code(1), exit_code(-9), exit_code(-15)] == [0, 1, 137, 143]
