"""Durable delivery attempts and tenant-bound inbox claims on a real Postgres (migration 0012)."""

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import TenantBindingError
from infra.messaging import inbox as inbox_store
from infra.messaging.attempts import PostgresDeliveryAttempts
from workers.production.tables import delivery_attempts, inbox

pytestmark = pytest.mark.integration


async def test_deliveries_are_counted_across_processes_and_start_again_at_the_next_offset(engine: AsyncEngine) -> None:
    group, topic = f"g-{uuid.uuid4().hex[:8]}", "bakeplan.production.commands"
    # each "process" is a new counter object over the same table: nothing is kept in memory
    counts = [await PostgresDeliveryAttempts(engine, delivery_attempts).begin(group, topic, 3, 41) for _ in range(3)]
    counter = PostgresDeliveryAttempts(engine, delivery_attempts)
    await counter.refund(group, topic, 3, 41)
    after_refund = await counter.begin(group, topic, 3, 41)
    other_partition = await counter.begin(group, topic, 4, 41)
    next_offset = await counter.begin(group, topic, 3, 42)
    await counter.refund(group, topic, 3, 41)  # no longer the offset in hand: nothing changes
    assert (counts, after_refund, other_partition, next_offset) == ([1, 2, 3], 3, 1, 1)
    assert await counter.begin(group, topic, 3, 42) == 2


async def test_a_claim_is_bound_to_tenant_and_content(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()
    async with engine.begin() as conn:
        first = await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="a", digest="1" * 64)
        again = await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="a", digest="1" * 64)
        other = await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="b", digest="2" * 64)
    assert (first, again, other) == (True, False, True)
    with pytest.raises(TenantBindingError, match="other content"):
        async with engine.begin() as conn:
            await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="a", digest="3" * 64)


async def test_a_claim_made_before_the_binding_still_counts_as_a_duplicate(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()
    async with engine.begin() as conn:
        # a row as migration 0012 leaves it: no tenant, no digest
        await conn.execute(insert(inbox).values(consumer="p", event_id=event_id))
    async with engine.begin() as conn:
        assert not await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="a", digest="1" * 64)
        assert not await inbox_store.claim(conn, inbox, consumer="p", event_id=event_id, tenant_id="b", digest="2" * 64)
