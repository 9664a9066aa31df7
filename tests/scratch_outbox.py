"""Tables of a test's own, each in a schema of its own, dropped afterwards: an outbox for tests of the
relay and of outbox writes that must not share rows with any process's outbox, or any other table."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging.tables import outbox_table


@asynccontextmanager
async def scratch_table(
    engine: AsyncEngine, label: str, make: Callable[[MetaData, str], Table]
) -> AsyncIterator[Table]:
    """The table `make(metadata, schema)` builds, created in a new schema named after `label`."""
    schema = f"{label}_{uuid.uuid4().hex[:10]}"
    table = make(MetaData(), schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(table.metadata.create_all)
    try:
        yield table
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@asynccontextmanager
async def scratch_outbox(engine: AsyncEngine, label: str) -> AsyncIterator[Table]:
    async with scratch_table(engine, label, outbox_table) as table:
        yield table
