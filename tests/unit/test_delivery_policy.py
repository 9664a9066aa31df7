"""Which failures retry until the dependency is back, and how long a retry waits."""

import random

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError, OperationalError

from contracts.errors import PlanningError, TransientError
from infra.messaging.consumer import DeliveryPolicy, is_transient

pytestmark = pytest.mark.unit


def _wrapped(cause: BaseException) -> BaseException:
    try:
        raise RuntimeError("while handling") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        TransientError("lock timeout"),
        ConnectionRefusedError(),
        TimeoutError(),
        KafkaConnectionError(),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.SerializationError("could not serialize access"),
        _wrapped(ConnectionResetError()),
    ],
)
def test_an_unavailable_dependency_is_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        KeyError("missing"),
        PlanningError("no supplier"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        _wrapped(ValueError("bad data")),
    ],
)
def test_bugs_and_bad_data_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


@given(attempt=st.integers(min_value=1, max_value=60), seed=st.integers())
def test_backoff_is_full_jitter_between_half_and_the_capped_ceiling(attempt: int, seed: int) -> None:
    policy = DeliveryPolicy(max_attempts=5, retry_base_seconds=0.2, retry_max_seconds=10.0)
    ceiling = min(10.0, 0.2 * 2 ** (attempt - 1))
    delay = policy.backoff(attempt, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling
