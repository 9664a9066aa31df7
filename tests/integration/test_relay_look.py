"""The relay's look, one statement on a real Postgres (`outbox.pending_rows`): it returns what the
byte rule of `batch_by_bytes` keeps of the first `batch_size` pending rows, skips published, parked
and locked rows, and returns nothing while another transaction leads the outbox."""

import random
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging.outbox import batch_by_bytes, pending_rows
from tests.scratch_outbox import scratch_outbox as scratch_outbox_table

pytestmark = pytest.mark.integration


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_outbox_table(engine, "relay_look") as table:
        yield table


async def _add(engine: AsyncEngine, outbox: Table, sizes: list[int]) -> list[int]:
    rows = [
        {"event_id": uuid.uuid4(), "topic": "t", "message_key": "k", "event_type": "E", "payload": b"x" * size}
        for size in sizes
    ]
    async with engine.begin() as conn:
        return list((await conn.execute(insert(outbox).returning(outbox.c.id), rows)).scalars())


async def _look(engine: AsyncEngine, outbox: Table, *, batch_size: int, batch_bytes: int) -> list[tuple[int, int]]:
    async with engine.begin() as conn:
        rows = (await conn.execute(pending_rows(outbox, batch_size=batch_size, batch_bytes=batch_bytes))).all()
    return [(row.id, row.locked) for row in rows]


@pytest.mark.parametrize("seed", range(6))
async def test_the_look_keeps_the_prefix_the_byte_rule_keeps(
    engine: AsyncEngine, scratch_outbox: Table, seed: int
) -> None:
    rng = random.Random(seed)
    sizes = [rng.choice([0, 1, 50, 400, 1_000, 5_000]) for _ in range(rng.randint(1, 40))]
    ids = await _add(engine, scratch_outbox, sizes)
    batch_size = rng.randint(1, 45)
    batch_bytes = rng.choice([1, 100, 1_000, 6_000, 50_000])
    looked = await _look(engine, scratch_outbox, batch_size=batch_size, batch_bytes=batch_bytes)

    first = list(zip(ids, sizes, strict=True))[:batch_size]
    assert [row_id for row_id, _ in looked] == batch_by_bytes(first, batch_bytes)
    assert {locked for _, locked in looked} == {len(first)}


async def test_a_first_row_past_the_budget_goes_alone(engine: AsyncEngine, scratch_outbox: Table) -> None:
    ids = await _add(engine, scratch_outbox, [9_000, 10, 10])
    assert await _look(engine, scratch_outbox, batch_size=10, batch_bytes=1_000) == [(ids[0], 3)]


async def test_published_and_parked_rows_are_not_looked_at(engine: AsyncEngine, scratch_outbox: Table) -> None:
    ids = await _add(engine, scratch_outbox, [10, 10, 10, 10])
    o = scratch_outbox
    async with engine.begin() as conn:
        await conn.execute(update(o).where(o.c.id == ids[0]).values(published_at=func.now()))
        await conn.execute(update(o).where(o.c.id == ids[2]).values(parked_at=func.now(), park_reason="refused"))
    assert await _look(engine, scratch_outbox, batch_size=10, batch_bytes=1_000) == [(ids[1], 2), (ids[3], 2)]


async def test_rows_another_look_locked_are_skipped(engine: AsyncEngine, scratch_outbox: Table) -> None:
    ids = await _add(engine, scratch_outbox, [10, 10, 10])
    o = scratch_outbox
    async with engine.connect() as other:
        await other.begin()
        await other.execute(select(o.c.id).where(o.c.id == ids[0]).with_for_update())
        assert await _look(engine, scratch_outbox, batch_size=10, batch_bytes=1_000) == [(ids[1], 2), (ids[2], 2)]
        await other.rollback()


async def test_nothing_while_another_transaction_leads_the_outbox(engine: AsyncEngine, scratch_outbox: Table) -> None:
    await _add(engine, scratch_outbox, [10, 10])
    async with engine.connect() as leader:
        await leader.begin()
        won = await leader.execute(select(func.pg_try_advisory_xact_lock(func.hashtext(scratch_outbox.fullname))))
        assert won.scalar_one() is True
        assert await _look(engine, scratch_outbox, batch_size=10, batch_bytes=1_000) == []
        await leader.rollback()
    assert len(await _look(engine, scratch_outbox, batch_size=10, batch_bytes=1_000)) == 2
