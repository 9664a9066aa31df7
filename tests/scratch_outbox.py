"""An outbox table of a test's own, in a schema of its own, dropped afterwards: for tests of the relay
and of outbox writes that must not share rows with any process's outbox."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging.tables import outbox_table


@asynccontextmanager
async def scratch_outbox(engine: AsyncEngine, label: str) -> AsyncIterator[Table]:
    schema = f"{label}_{uuid.uuid4().hex[:10]}"
    table = outbox_table(MetaData(), schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(table.metadata.create_all)
    try:
        yield table
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
