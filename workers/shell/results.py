"""Status changes every worker applies to its own result rows of a saga."""

from typing import Literal
from uuid import UUID

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncConnection

ResultStatus = Literal["draft", "active", "cancelled"]


async def set_status(
    conn: AsyncConnection, table: Table, *, saga_id: UUID, tenant_id: str, to: ResultStatus, only_from: ResultStatus
) -> int:
    """Move a saga's rows from `only_from` to `to`; returns how many rows changed."""
    result = await conn.execute(
        update(table)
        .where(table.c.saga_id == saga_id, table.c.tenant_id == tenant_id, table.c.status == only_from)
        .values(status=to)
    )
    return int(result.rowcount)
