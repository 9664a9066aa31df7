"""A large tenant's snapshot (300 products, 1,000 ingredients, 2 years) fits Kafka's 1 MiB limit."""

import gzip
import hashlib
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.messages import SnapshotTaken
from contracts.topics import Topic
from infra.messaging.admin import MAX_MESSAGE_BYTES, ensure_topics
from infra.messaging.codec import decode, encode
from infra.messaging.kafka_client import new_consumer
from infra.messaging.producer import create_producer
from infra.settings import Settings
from orchestrator import snapshot_reader
from tests.e2e.support import TODAY, seed

pytestmark = pytest.mark.e2e


async def test_large_snapshot_is_published_and_consumed(
    settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    tenant_id = f"{tenant_prefix}-large"
    await seed(engine, tenant_id, profile="large")
    async with engine.connect() as conn:
        snapshot = await snapshot_reader.read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=14)
    assert (len(snapshot.products), len(snapshot.ingredients), len(snapshot.suppliers)) == (300, 1000, 20)
    assert all(len(h.daily_units) == 730 for h in snapshot.sales)
    body = orjson.dumps(snapshot.model_dump())
    event = SnapshotTaken(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        saga_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        snapshot=snapshot,
        content_sha256=hashlib.sha256(body).hexdigest(),
    )
    payload = encode(event)

    await ensure_topics(settings, Principal.ADMIN)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    try:
        meta = await producer.send_and_wait(settings.topic(Topic.SNAPSHOTS), payload, key=tenant_id.encode())
    finally:
        await producer.stop()
    consumer = new_consumer(settings, Principal.ADMIN, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(meta.topic, meta.partition)
        consumer.assign([partition])
        consumer.seek(partition, meta.offset)
        record = await consumer.getone()
        end = await consumer.end_offsets([partition])
    finally:
        await consumer.stop()

    received = decode(record.value)
    assert isinstance(received, SnapshotTaken)
    assert received.snapshot == snapshot
    assert hashlib.sha256(orjson.dumps(received.snapshot.model_dump())).hexdigest() == event.content_sha256
    assert end[partition] > meta.offset
    wire = len(gzip.compress(payload))
    print(f"\nlarge snapshot: {len(payload):,} bytes JSON, ~{wire:,} bytes gzip on the wire")
    assert wire < MAX_MESSAGE_BYTES
