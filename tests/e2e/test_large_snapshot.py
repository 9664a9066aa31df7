"""A large tenant's snapshot (300 products, 1,000 ingredients, 2 years) goes out through the outbox relay
and its producer (zstd, as in production) within the snapshots topic's 1 MiB limit, and reads back whole:
by claim check (docs/resilience.md), and inline when the claim check is off."""

import hashlib
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.codec import zstd_encode
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.headers import CLAIM_CHECK
from contracts.messages import SnapshotTaken
from contracts.topics import Topic
from infra.messaging import outbox as outbox_store
from infra.messaging.admin import MAX_MESSAGE_BYTES
from infra.messaging.claim_check import ClaimChecks
from infra.messaging.codec import decode, encode
from infra.messaging.kafka_client import new_admin
from infra.settings import Settings
from orchestrator import snapshot_reader
from tests.e2e.support import TODAY, read_topic, seed

pytestmark = pytest.mark.e2e


async def topic_limit(settings: Settings, topic: str) -> int:
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    # (error_code, error_message, resource_type, resource_name, [(name, value, ...), ...])
    (resource,) = response.resources
    return int(next(entry[1] for entry in resource[4] if entry[0] == "max.message.bytes"))


async def test_a_large_snapshot_goes_out_through_the_relay_within_the_topic_limit(
    settings: Settings, engine: AsyncEngine, tenant_prefix: str, scratch_outbox: Table, producer: AIOKafkaProducer
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
    claim = outbox_store.PayloadLimits()  # the defaults: 512 KiB and up goes by claim check
    inline = outbox_store.PayloadLimits(claim_check_bytes=claim.max_bytes)  # the claim check off
    for limits in (claim, inline):
        async with engine.begin() as conn:
            await conn.execute(scratch_outbox.delete())
            await outbox_store.add(conn, scratch_outbox, [outbox_store.Outgoing(Topic.SNAPSHOTS, event)], limits=limits)
        relay = outbox_store.OutboxRelay(
            engine, scratch_outbox, producer, poll_seconds=3600, topic_prefix=settings.topic_prefix
        )
        assert await relay.publish_pending() == 1  # Kafka accepted it: the broker checks the batch against the limit

    records = await read_topic(settings, Topic.SNAPSHOTS, lambda r: r.key == tenant_id.encode())
    assert len(records) == 2
    by_claim, by_value = records
    digest = dict(by_claim.headers)[CLAIM_CHECK].decode()
    assert len(by_claim.value) < 1024  # only the reference travels
    assert CLAIM_CHECK not in dict(by_value.headers)
    resolved = await ClaimChecks(engine, max_bytes=settings.max_message_bytes).resolve(digest)
    for raw in (resolved, by_value.value):
        received = decode(raw)
        assert isinstance(received, SnapshotTaken)
        assert received.snapshot == snapshot
        assert hashlib.sha256(orjson.dumps(received.snapshot.model_dump())).hexdigest() == event.content_sha256

    limit = await topic_limit(settings, settings.topic(Topic.SNAPSHOTS))
    assert limit == MAX_MESSAGE_BYTES
    assert settings.kafka_compression == "zstd"
    wire = len(zstd_encode(payload))  # the producer's codec; Kafka's limit applies to the compressed batch
    print(f"\nlarge snapshot: {len(payload):,} bytes JSON, {wire:,} bytes zstd on the wire (limit {limit:,})")
    assert len(payload) > limit  # inline it fits only because it is compressed: the figure above is the one that counts
    assert wire < limit
