"""A saga's result rows in each worker's own tables: written as drafts, then moved to active or cancelled."""

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Table, Update, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
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


async def write_drafts(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert `rows` (each with the same keys: a planned line, its saga, tenant and status) in one
    statement; a row whose key is there already is skipped. Returns how many were inserted.

    The rows travel as one array per column, unnested by Postgres: one statement text and one bind
    per column whatever the number of rows. A multi-row VALUES list had a bind per cell (~5,000 for
    a standard tenant's batches), which Postgres parsed and planned for every saga."""
    if not rows:
        return 0
    names = tuple(rows[0])
    arrays = {f"u_{name}": [row[name] for row in rows] for name in names}
    # RETURNING counts the rows actually inserted (ON CONFLICT DO NOTHING skips the others)
    return len((await conn.execute(_drafting(table, names), arrays)).all())


@cache
def _drafting(table: Table, names: tuple[str, ...]) -> Any:
    """`write_drafts`'s statement for rows with these keys, built once per table and keys."""
    columns = [table.c[name] for name in names]
    unnested = (
        func.unnest(*(bindparam(f"u_{c.name}", type_=ARRAY(c.type)) for c in columns))
        .table_valued(*names)
        .render_derived("drafts")
    )
    return (
        pg_insert(table)
        .from_select(list(names), select(*(unnested.c[name] for name in names)))
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
