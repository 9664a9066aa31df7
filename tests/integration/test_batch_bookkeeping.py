"""Bookkeeping rows inside a consumer batch, on a real Postgres (`batch_tx.insert_rows`, the
orchestrator's timeline and effect log): every handler's rows for a table are written in one
statement just before the batch commits, in the order added; a batch that rolls back writes none;
outside a batch they are written at once."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra import tracing
from infra.messaging import batch_tx
from tests.scratch_outbox import scratch_table

pytestmark = pytest.mark.integration


def _notes_table(metadata: MetaData, schema: str) -> Table:
    return Table("notes", metadata, Column("id", Integer, primary_key=True), Column("label", String(40)), schema=schema)


@pytest.fixture
async def notes(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_table(engine, "batch_notes", _notes_table) as table:
        yield table


def _inserts(engine: AsyncEngine, table: Table) -> list[str]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if f"INSERT INTO {table.schema}." in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


async def _handler(engine: AsyncEngine, table: Table, labels: list[str]) -> None:
    async with tracing.transaction(engine, "test") as conn:
        await batch_tx.insert_rows(conn, table, [{"label": label} for label in labels])


async def _labels(engine: AsyncEngine, table: Table) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(table.c.label).order_by(table.c.id))).scalars())


async def test_a_batchs_rows_wait_for_one_statement_at_its_commit(engine: AsyncEngine, notes: Table) -> None:
    inserts = _inserts(engine, notes)
    async with batch_tx.batch(engine):
        await _handler(engine, notes, ["a", "b"])
        await _handler(engine, notes, [])
        await _handler(engine, notes, ["c"])
        assert inserts == []
        assert await _labels(engine, notes) == []
    assert len(inserts) == 1
    assert await _labels(engine, notes) == ["a", "b", "c"]


async def test_a_batch_that_rolls_back_writes_none(engine: AsyncEngine, notes: Table) -> None:
    inserts = _inserts(engine, notes)

    async def handlers() -> None:
        async with batch_tx.batch(engine):
            await _handler(engine, notes, ["a"])
            raise RuntimeError("a bug in the next handler")

    with pytest.raises(RuntimeError, match="a bug"):
        await handlers()
    assert inserts == []
    assert await _labels(engine, notes) == []


async def test_outside_a_batch_rows_are_written_at_once(engine: AsyncEngine, notes: Table) -> None:
    inserts = _inserts(engine, notes)
    async with tracing.transaction(engine, "test") as conn:
        await batch_tx.insert_rows(conn, notes, [{"label": "a"}])
        assert len(inserts) == 1
        assert (await conn.execute(select(notes.c.label))).scalars().all() == ["a"]
    await _handler(engine, notes, ["b", "c"])
    assert await _labels(engine, notes) == ["a", "b", "c"]
