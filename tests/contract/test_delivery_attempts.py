"""The `DeliveryAttempts` port over both adapters: the in-memory counter (what a process that dies
forgets) and Postgres (what production counts with), so the batch counting the consumer shell relies
on (`begin_many`, infra/messaging/consumer_batch.py) means the same as counting one record at a time.
The Postgres half uses a consumer group of its own on the production worker's table."""

import uuid
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging import batch_tx
from infra.messaging.attempts import DeliveryAttempts, MemoryDeliveryAttempts, PostgresDeliveryAttempts
from workers.production.tables import delivery_attempts

TOPIC = "bakeplan.production.commands"


@pytest.fixture(
    params=[pytest.param("memory", marks=pytest.mark.unit), pytest.param("postgres", marks=pytest.mark.integration)]
)
def attempts(request: pytest.FixtureRequest) -> DeliveryAttempts:
    if request.param == "memory":
        return MemoryDeliveryAttempts()
    engine: AsyncEngine = request.getfixturevalue("contract_engine")
    return PostgresDeliveryAttempts(engine, delivery_attempts)


@pytest.fixture
def group() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"


async def test_a_batch_counts_each_partitions_first_record(attempts: DeliveryAttempts, group: str) -> None:
    first = await attempts.begin_many(group, [(TOPIC, 0, 10), (TOPIC, 1, 7), ("other", 0, 3)])
    again = await attempts.begin_many(group, [(TOPIC, 0, 10), (TOPIC, 1, 8)])  # partition 1 moved on
    assert first == {(TOPIC, 0): 1, (TOPIC, 1): 1, ("other", 0): 1}
    assert again == {(TOPIC, 0): 2, (TOPIC, 1): 1}


async def test_batch_and_single_counts_are_one_count(attempts: DeliveryAttempts, group: str) -> None:
    await attempts.begin_many(group, [(TOPIC, 2, 40)])
    single = await attempts.begin(group, TOPIC, 2, 40)  # the same record, counted alone after its batch
    await attempts.refund(group, TOPIC, 2, 40)
    after_refund = await attempts.begin_many(group, [(TOPIC, 2, 40)])
    next_record = await attempts.begin(group, TOPIC, 2, 41)
    assert (single, after_refund[(TOPIC, 2)], next_record) == (2, 2, 1)


@pytest.fixture
def batch_engine(attempts: DeliveryAttempts, request: pytest.FixtureRequest) -> AsyncEngine:
    """The engine a batch of `attempts` runs on: Postgres counts in it; memory has none of its own."""
    if isinstance(attempts, PostgresDeliveryAttempts):
        engine: AsyncEngine = request.getfixturevalue("contract_engine")
        return engine
    return cast(AsyncEngine, object())  # a batch that nothing joins never connects


async def test_a_batch_counts_the_next_batch_ahead_once_it_commits(
    attempts: DeliveryAttempts, batch_engine: AsyncEngine, group: str
) -> None:
    outside = await attempts.count_ahead(group, [(TOPIC, 3, 50)])
    async with batch_tx.batch(batch_engine):
        inside = await attempts.count_ahead(group, [(TOPIC, 3, 60), (TOPIC, 4, 9)])

    async def failing_batch() -> None:
        async with batch_tx.batch(batch_engine):
            await attempts.count_ahead(group, [(TOPIC, 5, 70)])
            raise RuntimeError("the batch fails")

    with pytest.raises(RuntimeError, match="the batch fails"):
        await failing_batch()
    assert (outside, inside) == (False, True)
    # a delivery at the offset counted ahead is its second count: the first was the batch's
    assert await attempts.begin_many(group, [(TOPIC, 3, 60), (TOPIC, 4, 9)]) == {(TOPIC, 3): 2, (TOPIC, 4): 2}
    assert await attempts.begin(group, TOPIC, 5, 70) == 1  # rolled back: nothing counted ahead
    await attempts.refund(group, TOPIC, 3, 60)
    await attempts.refund(group, TOPIC, 3, 60)  # the count ahead taken back too (a clean stop)
    assert await attempts.begin(group, TOPIC, 3, 60) == 1
