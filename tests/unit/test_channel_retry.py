"""The retry loop and its backoff, on a recording clock: transient errors are retried with growing,
jittered waits up to the limit; permanent ones fail at once; a hung attempt counts as a timeout."""

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.retry import RetryPolicy
from workers.procurement.channels.sending import DeliveryStatus, with_retries

pytestmark = pytest.mark.unit
POLICY = RetryPolicy(attempts=4, base_seconds=1.0, max_seconds=3.0, attempt_timeout_seconds=0.05)


class Waits:
    """A sleep that records and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def scripted(*results: str | Exception) -> "Scripted":
    return Scripted(list(results))


class Scripted:
    def __init__(self, results: list[str | Exception]) -> None:
        self.results = results
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        if result == "hang":
            await asyncio.sleep(10)
        return result


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_each_wait_is_between_half_and_all_of_the_capped_exponential(failed: int, seed: int) -> None:
    ceiling = min(POLICY.max_seconds, POLICY.base_seconds * 2 ** (failed - 1))
    wait = POLICY.backoff_seconds(failed, random.Random(seed))
    assert ceiling / 2 <= wait <= ceiling


def test_retry_after_is_honoured_up_to_the_maximum() -> None:
    rng = random.Random(1)
    assert POLICY.backoff_seconds(1, rng, retry_after=2.5) == 2.5
    assert POLICY.backoff_seconds(1, rng, retry_after=120) == POLICY.max_seconds
    assert POLICY.longest_total_wait_seconds() == 1 + 2 + 3


@pytest.mark.parametrize(
    "bad", [{"attempts": 0}, {"base_seconds": 0}, {"base_seconds": 5, "max_seconds": 1}, {"attempt_timeout_seconds": 0}]
)
def test_a_policy_that_could_loop_hot_or_never_try_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**bad)  # type: ignore[arg-type]


async def test_transient_errors_are_retried_until_one_attempt_succeeds() -> None:
    waits, attempt = Waits(), scripted(TransientSendError("HTTP 503"), TransientSendError("refused"), "HTTP 200 OK")
    outcome = await with_retries(attempt, POLICY, sleep=waits, rng=random.Random(7), context="test")
    assert (outcome.status, outcome.attempts, outcome.receipt, outcome.last_error) == (
        DeliveryStatus.SENT,
        3,
        "HTTP 200 OK",
        None,
    )
    assert len(waits.seconds) == 2
    assert 0.5 <= waits.seconds[0] <= 1
    assert 1 <= waits.seconds[1] <= 2


async def test_after_the_last_attempt_the_outcome_is_send_failed_with_the_last_error() -> None:
    waits = Waits()
    attempt = scripted(*(TransientSendError(f"SMTP 451 #{n}") for n in range(1, 5)))
    outcome = await with_retries(attempt, POLICY, sleep=waits, rng=random.Random(7), context="test")
    assert (outcome.status, outcome.attempts, outcome.last_error, outcome.permanent) == (
        DeliveryStatus.SEND_FAILED,
        4,
        "SMTP 451 #4",
        False,
    )
    assert len(waits.seconds) == 3  # no wait after the last attempt


async def test_a_permanent_refusal_fails_at_once_without_waiting() -> None:
    waits, attempt = Waits(), scripted(TransientSendError("HTTP 500"), PermanentSendError("HTTP 400 Bad Request"))
    outcome = await with_retries(attempt, POLICY, sleep=waits, rng=random.Random(7), context="test")
    assert (outcome.status, outcome.attempts, outcome.last_error, outcome.permanent) == (
        DeliveryStatus.SEND_FAILED,
        2,
        "HTTP 400 Bad Request",
        True,
    )
    assert len(waits.seconds) == 1
    assert attempt.results == []


async def test_an_attempt_that_hangs_times_out_and_is_retried() -> None:
    waits, attempt = Waits(), scripted("hang", "250 OK")
    outcome = await with_retries(attempt, POLICY, sleep=waits, rng=random.Random(7), context="test")
    assert (outcome.status, outcome.attempts, attempt.calls) == (DeliveryStatus.SENT, 2, 2)


async def test_a_servers_retry_after_sets_the_wait() -> None:
    waits, attempt = Waits(), scripted(TransientSendError("HTTP 429", retry_after=2.75), "HTTP 200 OK")
    await with_retries(attempt, POLICY, sleep=waits, rng=random.Random(7), context="test")
    assert waits.seconds == [2.75]


async def test_a_bug_in_an_attempt_is_not_swallowed() -> None:
    with pytest.raises(KeyError):
        await with_retries(scripted(KeyError("bug")), POLICY, sleep=Waits(), rng=random.Random(7), context="test")
