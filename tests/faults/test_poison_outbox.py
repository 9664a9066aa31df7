"""One bad thing must not stop everything, the outbox (docs/resilience.md), on the real broker and
database: an oversize row goes by claim check, a row the broker refuses is parked with an alert while
the rows behind it leave, and a payload past the hard limit is refused when written.

Each test prints one line of the table in docs/resilience.md (`RESILIENCE …`): load, what fired,
outcome, time to terminal, lost, duplicate effects.
"""

import asyncio
import base64
import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.envelope import Message
from contracts.messages import OperationsAlert, SagaFailedAlert
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging import outbox as outbox_store
from infra.messaging.admin import ensure_topics
from infra.messaging.claim_check import ClaimChecks
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.messaging.outbox import OutboxRelay, Outgoing, PayloadLimits, PayloadTooLargeError
from infra.messaging.producer import create_producer
from infra.messaging.tables import claim_checks
from infra.metrics import Metrics
from infra.settings import Settings
from tests.faults.poison_support import report
from tests.scratch_outbox import scratch_outbox as scratch_outbox_table

pytestmark = pytest.mark.faults
ROWS = 40
BIG_BYTES = 3 * 1024 * 1024  # incompressible: over the broker's 1 MiB message.max.bytes even with zstd


@pytest.fixture
async def engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_outbox_table(engine, "poison") as table:
        yield table


def _alert(tenant: str, i: int, reason: str = "") -> Outgoing:
    message = SagaFailedAlert(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        saga_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        reason=reason or f"row {i}",
    )
    return Outgoing(Topic.ALERTS, message)


async def _relay_and_consume(
    settings: Settings, engine: AsyncEngine, table: Table, tenant: str, expected: int, relay: OutboxRelay
) -> tuple[list[Message], float]:
    """Run the relay and the real consumer shell until `expected` messages of `tenant` arrived."""
    received: list[Message] = []
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        if message.tenant_id == tenant:
            received.append(message)
            if len(received) >= expected:
                done.set()

    run = uuid.uuid4().hex[:8]
    broker = KafkaBroker(settings.kafka_bootstrap)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    subscribe(
        broker,
        producer,
        topic=settings.topic(Topic.ALERTS),
        consumer=f"poison-{run}",
        group=settings.group(f"poison-{run}"),
        dead_letter=settings.topic(Topic.DEAD_LETTER),
        handler=handler,
        policy=DeliveryPolicy(3, 0.1),
        metrics=Metrics(),
        claims=ClaimChecks(engine, max_bytes=settings.max_message_bytes),
    )
    await broker.start()
    started = time.monotonic()
    relay_task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(45):
            await done.wait()
        await asyncio.sleep(1.0)  # a duplicate would arrive now
    finally:
        relay_task.cancel()
        await broker.stop()
        await producer.stop()
    return received, time.monotonic() - started


def _big_reason() -> str:
    return base64.b64encode(os.urandom(BIG_BYTES * 3 // 4)).decode()


async def test_an_oversize_row_goes_by_claim_check_and_the_rows_behind_it_leave(
    settings: Settings, engine: AsyncEngine, scratch_outbox: Table
) -> None:
    await ensure_topics(settings, Principal.ADMIN)
    tenant = f"pz{uuid.uuid4().hex[:8]}"
    rows = [_alert(tenant, i) for i in range(ROWS)]
    rows.insert(10, _alert(tenant, 10, _big_reason()))
    async with engine.begin() as conn:
        await outbox_store.add(conn, scratch_outbox, rows, limits=PayloadLimits(claim_check_bytes=512 * 1024))
    async with engine.connect() as conn:
        claimed = (
            (
                await conn.execute(
                    select(scratch_outbox.c.claim_sha256).where(scratch_outbox.c.claim_sha256.is_not(None))
                )
            )
            .scalars()
            .all()
        )
    assert len(claimed) == 1  # only the big row went by claim check

    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    relay = OutboxRelay(engine, scratch_outbox, producer, poll_seconds=0.1, topic_prefix=settings.topic_prefix)
    try:
        received, seconds = await _relay_and_consume(settings, engine, scratch_outbox, tenant, len(rows), relay)
    finally:
        await producer.stop()

    ids = Counter(m.event_id for m in received)
    big = rows[10].message
    assert set(ids) == {r.message.event_id for r in rows}  # 0 lost, the big one included
    assert max(ids.values()) == 1  # 0 duplicates
    resolved = next(m for m in received if m.event_id == big.event_id)
    assert resolved == big  # resolved transparently: the handler got the full message
    async with engine.connect() as conn:
        unpublished = (
            await conn.execute(select(func.count()).where(scratch_outbox.c.published_at.is_(None)))
        ).scalar_one()
    assert unpublished == 0
    report(
        "oversize row by claim check",
        load=f"{len(rows)} rows, one of {len(big.model_dump_json()) // 1024} KiB",
        fired="claim check",
        outcome="all delivered, big one resolved",
        seconds=f"{seconds:.2f}",
        lost=0,
        duplicates=0,
    )


async def test_a_row_the_broker_refuses_is_parked_with_an_alert_and_the_rest_proceed(
    settings: Settings, engine: AsyncEngine, scratch_outbox: Table
) -> None:
    await ensure_topics(settings, Principal.ADMIN)
    tenant = f"pz{uuid.uuid4().hex[:8]}"
    rows = [_alert(tenant, i) for i in range(ROWS)]
    rows.insert(10, _alert(tenant, 10, _big_reason()))
    no_claim_check = PayloadLimits(claim_check_bytes=64 * 1024 * 1024, max_bytes=64 * 1024 * 1024)
    async with engine.begin() as conn:
        await outbox_store.add(conn, scratch_outbox, rows, limits=no_claim_check)

    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    parked: list[int] = []
    relay = OutboxRelay(
        engine,
        scratch_outbox,
        producer,
        poll_seconds=0.1,
        topic_prefix=settings.topic_prefix,
        on_parked=parked.append,
        component="test",
        producer_factory=lambda: create_producer(settings, Principal.ADMIN),
    )
    try:
        # all but the refused row, plus the alert about it
        received, seconds = await _relay_and_consume(settings, engine, scratch_outbox, tenant, len(rows), relay)
    finally:
        await relay.close()
        await producer.stop()

    big = rows[10].message
    ids = Counter(m.event_id for m in received)
    alerts = [m for m in received if isinstance(m, OperationsAlert)]
    assert big.event_id not in ids
    assert {r.message.event_id for r in rows} - set(ids) == {big.event_id}  # the rows behind it left
    assert max(ids.values()) == 1
    assert len(alerts) == 1
    assert alerts[0].kind == "outbox_row_parked"
    assert str(big.event_id) in alerts[0].subject
    assert "MessageSizeTooLarge" in alerts[0].reason
    async with engine.connect() as conn:
        kept = (
            await conn.execute(
                select(scratch_outbox.c.event_id, scratch_outbox.c.park_reason).where(
                    scratch_outbox.c.parked_at.is_not(None)
                )
            )
        ).all()
    assert [r.event_id for r in kept] == [big.event_id]  # parked, not dropped: the row is still there
    assert "refused" in kept[0].park_reason
    assert "fix the topic" in kept[0].park_reason
    assert sum(parked) == 1
    report(
        "row the broker refuses",
        load=f"{len(rows)} rows, one of 3 MiB incompressible, no claim check",
        fired="park + OperationsAlert",
        outcome=f"{len(rows) - 1} delivered, 1 parked with reason, 1 alert",
        seconds=f"{seconds:.2f}",
        lost=0,
        duplicates=0,
    )


async def test_a_payload_past_the_hard_limit_is_refused_when_written(
    engine: AsyncEngine, scratch_outbox: Table
) -> None:
    tenant = f"pz{uuid.uuid4().hex[:8]}"
    small = _alert(tenant, 0)
    too_big = _alert(tenant, 1, "x" * 5000)
    with pytest.raises(
        PayloadTooLargeError, match=r"is \d+ bytes, over the limit of 4096 bytes \(BAKEPLAN_MAX_MESSAGE_BYTES\)"
    ):
        async with engine.begin() as conn:
            await outbox_store.add(
                conn, scratch_outbox, [small, too_big], limits=PayloadLimits(max_bytes=4096, claim_check_bytes=2048)
            )
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(scratch_outbox))).scalar_one() == 0
        stored = (
            await conn.execute(
                select(func.count())
                .select_from(claim_checks)
                .where(claim_checks.c.sha256 == hashlib.sha256(too_big.payload).hexdigest())
            )
        ).scalar_one()
    assert stored == 0
