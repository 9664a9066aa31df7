"""The hot path's several-row statements are compiled once, whatever the number of rows (SQLAlchemy
compiles a multi-row VALUES again on every call: it has no cache key). Checked on a real Postgres
from each execution's `cache_hit`: the outbox insert of a batch, and the delivery count of a fetch."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra.messaging import outbox as outbox_store
from infra.messaging.attempts import PostgresDeliveryAttempts
from tests.scratch_outbox import scratch_outbox as scratch_outbox_table
from workers.production.tables import delivery_attempts

pytestmark = pytest.mark.integration


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_outbox_table(engine, "compiled_once") as table:
        yield table


def _cache_outcomes(engine: AsyncEngine, marker: str) -> list[str]:
    """The compiled-cache outcome of each statement whose text contains `marker`, as executed."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if marker in statement:
            seen.append(str(context.cache_hit))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


def _alert() -> outbox_store.Outgoing:
    message = SagaFailedAlert(
        event_id=uuid.uuid4(), tenant_id="t", saga_id=uuid.uuid4(), occurred_at=datetime.now(UTC), reason="r"
    )
    return outbox_store.Outgoing(Topic.ALERTS, message)


async def test_the_outbox_insert_is_compiled_once_for_any_number_of_rows(
    engine: AsyncEngine, scratch_outbox: Table
) -> None:
    outcomes = _cache_outcomes(engine, f"INSERT INTO {scratch_outbox.schema}.outbox")
    for count in (1, 2, 3, 5):
        async with engine.begin() as conn:
            await outbox_store.add(conn, scratch_outbox, [_alert() for _ in range(count)])
    assert len(outcomes) == 4
    assert "CACHE_MISS" in outcomes[0]
    assert all("CACHE_HIT" in outcome for outcome in outcomes[1:]), outcomes


async def test_the_delivery_count_is_compiled_once_for_any_number_of_partitions(engine: AsyncEngine) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    outcomes = _cache_outcomes(engine, "INSERT INTO production.delivery_attempts")
    counter = PostgresDeliveryAttempts(engine, delivery_attempts)
    topic = "bakeplan.production.commands"
    for partitions in (1, 2, 4):
        counts = await counter.begin_many(group, [(topic, p, 10 + partitions) for p in range(partitions)])
        assert set(counts.values()) == {1}
    assert len(outcomes) == 3
    assert all("CACHE_HIT" in outcome for outcome in outcomes[1:]), outcomes
