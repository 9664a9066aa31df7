"""Status changes every worker applies to its own result rows of a saga."""

from functools import cache
from typing import Literal
from uuid import UUID

from sqlalchemy import Table, Update, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

ResultStatus = Literal["draft", "active", "cancelled"]

# Half of each page of a result table is kept free when rows are inserted, so that each row's one
# status move finds room on its own page: a heap-only-tuple update that touches no index (migration
# 0019). Declared on the tables whose `status` is in no index; `postgresql_with` takes it as is.
RESULT_PAGE_ROOM = {"fillfactor": 50}


async def set_status(
    conn: AsyncConnection, table: Table, *, saga_id: UUID, tenant_id: str, to: ResultStatus, only_from: ResultStatus
) -> int:
    """Move a saga's rows from `only_from` to `to`; returns how many rows changed."""
    values = {"b_saga_id": saga_id, "b_tenant_id": tenant_id, "b_from": only_from, "b_to": to}
    return int((await conn.execute(_moving(table), values)).rowcount)


@cache
def _moving(table: Table) -> Update:
    """`set_status`'s statement, built once per table."""
    c = table.c
    return (
        update(table)
        .where(
            c.saga_id == bindparam("b_saga_id"),
            c.tenant_id == bindparam("b_tenant_id"),
            c.status == bindparam("b_from"),
        )
        .values(status=bindparam("b_to"))
    )
