"""A private copy of `procurement.po_deliveries` (migration 0010) in a schema of its own: the contract and
fault tests race and count rows on it without seeing the channels role's records, and leave nothing
behind."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from workers.procurement.channels.tables import deliveries_table


@asynccontextmanager
async def private_deliveries_table(engine: AsyncEngine) -> AsyncIterator[Table]:
    schema = f"channels_test_{uuid.uuid4().hex[:10]}"
    metadata = MetaData(schema=schema)
    table = deliveries_table(metadata)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    try:
        yield table
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
