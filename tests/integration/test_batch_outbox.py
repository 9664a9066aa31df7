"""The outbox inside a consumer batch, on a real Postgres: the rows every handler queues are written in
one statement just before the batch commits, in the order they were queued, with one NOTIFY; a batch
that rolls back leaves none; outside a batch each `add` writes at once."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Table, event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra import tracing
from infra.messaging import batch_tx
from infra.messaging import outbox as outbox_store
from infra.settings import Settings
from tests.scratch_outbox import scratch_outbox as scratch_outbox_table

pytestmark = pytest.mark.integration


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_outbox_table(engine, "batch_outbox") as table:
        yield table


def _alert(tenant: str) -> outbox_store.Outgoing:
    message = SagaFailedAlert(
        event_id=uuid.uuid4(), tenant_id=tenant, saga_id=uuid.uuid4(), occurred_at=datetime.now(UTC), reason="r"
    )
    return outbox_store.Outgoing(Topic.ALERTS, message)


async def _handler(engine: AsyncEngine, outbox: Table, items: list[outbox_store.Outgoing]) -> None:
    """One handler: queues `items` in its transaction."""
    async with tracing.transaction(engine, "test") as conn:
        await outbox_store.add(conn, outbox, items)


def _count_inserts(engine: AsyncEngine, outbox: Table) -> list[str]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if f"INSERT INTO {outbox.schema}." in statement or f'INSERT INTO "{outbox.schema}".' in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


async def _stored(engine: AsyncEngine, outbox: Table) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(outbox.c.event_id).order_by(outbox.c.id))).scalars())


async def test_a_batchs_rows_are_one_statement_in_the_order_queued(
    engine: AsyncEngine, settings: Settings, scratch_outbox: Table
) -> None:
    items = [_alert(f"tenant-{i}") for i in range(5)]
    notified: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(settings.asyncpg_dsn)
    await listener.add_listener(outbox_store.channel(scratch_outbox), lambda *a: notified.put_nowait(a[2]))
    inserts = _count_inserts(engine, scratch_outbox)
    try:
        async with batch_tx.batch(engine):
            await _handler(engine, scratch_outbox, items[:2])  # one handler, two messages
            for item in items[2:]:
                await _handler(engine, scratch_outbox, [item])
            assert inserts == []  # queued, not yet written
            assert await _stored(engine, scratch_outbox) == []
        assert len(inserts) == 1
        assert await _stored(engine, scratch_outbox) == [i.message.event_id for i in items]
        await asyncio.wait_for(notified.get(), timeout=30)
        await asyncio.sleep(0.2)
        assert notified.empty()  # Postgres folds one transaction's NOTIFYs on a channel into one
    finally:
        await listener.close()


async def test_a_batch_that_rolls_back_writes_none_of_its_rows(engine: AsyncEngine, scratch_outbox: Table) -> None:
    inserts = _count_inserts(engine, scratch_outbox)

    async def handlers() -> None:
        async with batch_tx.batch(engine):
            await _handler(engine, scratch_outbox, [_alert("tenant-a")])
            raise RuntimeError("a bug in the next handler")

    with pytest.raises(RuntimeError, match="a bug"):
        await handlers()
    assert inserts == []
    assert await _stored(engine, scratch_outbox) == []


async def test_outside_a_batch_each_add_writes_at_once(engine: AsyncEngine, scratch_outbox: Table) -> None:
    inserts = _count_inserts(engine, scratch_outbox)
    first, second = _alert("tenant-a"), _alert("tenant-b")
    await _handler(engine, scratch_outbox, [first])
    await _handler(engine, scratch_outbox, [first, second])  # a re-added event id is a no-op
    assert len(inserts) == 2
    assert await _stored(engine, scratch_outbox) == [first.message.event_id, second.message.event_id]
