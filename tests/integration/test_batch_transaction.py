"""`infra.messaging.batch_tx` on a real Postgres: the handlers of one batch share one transaction,
what they do after their commit waits for the batch's, and a failure anywhere leaves nothing."""

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra import tracing
from infra.db import create_engine
from infra.messaging import batch_tx
from infra.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe(engine: AsyncEngine) -> AsyncIterator[str]:
    name = f"batch_tx_probe_{uuid.uuid4().hex[:10]}"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {name} (n int PRIMARY KEY, txid bigint)"))
    yield name
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {name}"))


async def _write(engine: AsyncEngine, table: str, n: int) -> int:
    """One handler's transaction: writes row `n`; returns how many rows it sees."""
    async with tracing.transaction(engine, "test") as conn:
        await conn.execute(text(f"INSERT INTO {table} VALUES (:n, txid_current())"), {"n": n})
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _committed(engine: AsyncEngine, table: str) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        return [(r.n, r.txid) for r in await conn.execute(text(f"SELECT n, txid FROM {table} ORDER BY n"))]


async def test_handlers_share_one_transaction_and_wait_for_its_commit(engine: AsyncEngine, probe: str) -> None:
    woken: list[str] = []

    def wake() -> None:
        woken.append("relay")

    async with batch_tx.batch(engine):
        seen = [await _write(engine, probe, n) for n in (1, 2, 3)]
        for _ in range(3):
            batch_tx.when_committed(wake)
        before_commit = await _committed(engine, probe)
        assert woken == []
    rows = await _committed(engine, probe)
    assert seen == [1, 2, 3]  # a later handler reads what an earlier one wrote
    assert before_commit == []  # nobody else sees the batch before it commits
    assert [n for n, _ in rows] == [1, 2, 3]
    assert len({txid for _, txid in rows}) == 1
    assert woken == ["relay"]  # once, after the commit
    await _write(engine, probe, 4)  # outside a batch: a transaction of its own, committed at once
    assert [n for n, _ in await _committed(engine, probe)] == [1, 2, 3, 4]


async def test_a_failing_handler_leaves_nothing_of_its_batch(engine: AsyncEngine, probe: str) -> None:
    woken: list[str] = []

    async def handlers() -> None:
        async with batch_tx.batch(engine):
            await _write(engine, probe, 1)
            batch_tx.when_committed(lambda: woken.append("relay"))
            raise RuntimeError("a bug in the second handler")

    with pytest.raises(RuntimeError, match="a bug"):
        await handlers()
    assert await _committed(engine, probe) == []
    assert woken == []


async def test_a_failure_the_handler_swallowed_still_spoils_the_batch(engine: AsyncEngine, probe: str) -> None:
    async def handlers() -> None:
        async with batch_tx.batch(engine):
            await _write(engine, probe, 1)
            with contextlib.suppress(Exception):  # what a careless handler might do
                await _write(engine, probe, 1)  # the same key: its statement fails

    with pytest.raises(batch_tx.BatchSpoiledError, match="duplicate key"):
        await handlers()
    assert await _committed(engine, probe) == []


async def test_a_repeatable_read_unit_of_work_cannot_join(engine: AsyncEngine) -> None:
    async with batch_tx.transaction(engine, repeatable_read=True) as conn:
        alone = (await conn.execute(text("SHOW transaction_isolation"))).scalar_one()

    async def joining() -> None:
        async with batch_tx.batch(engine), batch_tx.transaction(engine, repeatable_read=True):
            pass

    with pytest.raises(batch_tx.NotBatchableError):
        await joining()
    assert alone == "repeatable read"


async def test_another_database_does_not_join(engine: AsyncEngine, db_settings: Settings, probe: str) -> None:
    other = create_engine(db_settings)

    async def handlers() -> None:
        async with batch_tx.batch(engine):
            await _write(other, probe, 7)  # not the batch's engine: commits by itself
            raise RuntimeError("the batch fails")

    try:
        with pytest.raises(RuntimeError, match="the batch fails"):
            await handlers()
    finally:
        await other.dispose()
    assert [n for n, _ in await _committed(engine, probe)] == [7]
