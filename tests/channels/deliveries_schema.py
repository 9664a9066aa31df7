"""A private copy of `procurement.po_deliveries` in a schema of its own: the Alembic history does not
have the table yet (docs/channels.md, "For the integrator"), and the test leaves nothing behind."""

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
