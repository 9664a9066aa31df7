"""The outbox relay on real Postgres and Kafka, on a scratch outbox of its own (the running
components' relays never see it)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging import outbox as outbox_store
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import decode
from infra.messaging.producer import create_producer
from infra.messaging.tables import outbox_table
from infra.settings import Settings
from tests.e2e.support import eventually, read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    schema = f"relay_{uuid.uuid4().hex[:10]}"
    table = outbox_table(MetaData(), schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(table.metadata.create_all)
    yield table
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(settings, Principal.ADMIN)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    yield producer
    await producer.stop()


def _message(tenant: str) -> outbox_store.Outgoing:
    trigger = PlanningRequested(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=date(2026, 11, 28),
        source="external",
    )
    # the plans topic: no bakeplan consumer acts on a trigger there, so the test's records stay inert
    return outbox_store.Outgoing(Topic.PLANS, trigger)


async def _published(settings: Settings, event_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    records = await read_topic(settings, Topic.PLANS, lambda r: decode(r.value).event_id in event_ids)
    return {decode(r.value).event_id for r in records}


async def test_a_row_committing_after_a_higher_id_is_still_published(
    engine: AsyncEngine, settings: Settings, scratch_outbox: Table, producer: AIOKafkaProducer
) -> None:
    relay = outbox_store.OutboxRelay(
        engine, scratch_outbox, producer, poll_seconds=60, topic_prefix=settings.topic_prefix
    )
    tenant = f"relay-{uuid.uuid4().hex[:8]}"
    early, late = _message(tenant), _message(tenant)

    slow = await engine.connect()
    slow_txn = await slow.begin()
    await outbox_store.add(slow, scratch_outbox, [early])  # takes the lower id, stays uncommitted
    async with engine.begin() as conn:
        await outbox_store.add(conn, scratch_outbox, [late])
    ids = {r.event_id: r.id for r in (await slow.execute(select(scratch_outbox.c.event_id, scratch_outbox.c.id))).all()}
    assert ids[early.message.event_id] < ids[late.message.event_id]

    assert await relay.publish_pending() == 1  # only the committed, higher id is visible
    await slow_txn.commit()
    await slow.close()
    assert await relay.publish_pending() == 1  # the lower id, committed later, is not skipped
    assert await relay.publish_pending() == 0

    async with engine.connect() as conn:
        unpublished = (
            await conn.execute(select(scratch_outbox.c.id).where(scratch_outbox.c.published_at.is_(None)))
        ).all()
    assert unpublished == []
    wanted = {early.message.event_id, late.message.event_id}
    assert await _published(settings, wanted) == wanted


async def test_only_one_relay_publishes_an_outbox_at_a_time(
    engine: AsyncEngine, settings: Settings, scratch_outbox: Table, producer: AIOKafkaProducer
) -> None:
    relay = outbox_store.OutboxRelay(
        engine, scratch_outbox, producer, poll_seconds=60, topic_prefix=settings.topic_prefix
    )
    async with engine.begin() as conn:
        await outbox_store.add(conn, scratch_outbox, [_message("relay-lock")])
    async with engine.connect() as other_replica, other_replica.begin():
        await other_replica.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": scratch_outbox.fullname}
        )
        assert await relay.publish_pending() == 0  # another replica holds this outbox
    assert await relay.publish_pending() == 1


async def _listening(engine: AsyncEngine, channel: str) -> bool | None:
    async with engine.connect() as conn:
        n = await conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :q"), {"q": f'LISTEN "{channel}"%'}
        )
        return True if int(n.scalar_one()) > 0 else None


async def test_a_notification_wakes_the_relay_long_before_its_poll(
    engine: AsyncEngine, settings: Settings, scratch_outbox: Table, producer: AIOKafkaProducer
) -> None:
    relay = outbox_store.OutboxRelay(
        engine, scratch_outbox, producer, poll_seconds=3600, topic_prefix=settings.topic_prefix
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(relay.listen(settings.asyncpg_dsn))]
    try:
        channel = outbox_store.channel(scratch_outbox)
        await eventually(lambda: _listening(engine, channel), timeout_s=30, what="the relay to LISTEN")
        message = _message("relay-notify")
        async with engine.begin() as conn:  # another writer: only NOTIFY can reach the relay
            await outbox_store.add(conn, scratch_outbox, [message])

        async def sent() -> datetime | None:
            query = select(scratch_outbox.c.published_at).where(scratch_outbox.c.event_id == message.message.event_id)
            async with engine.connect() as conn:
                published_at: datetime | None = (await conn.execute(query)).scalar_one()
                return published_at

        # an hour-long poll cannot explain a publish within this
        await eventually(sent, timeout_s=30, what="the notified relay to publish")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
