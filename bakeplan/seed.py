"""Writes generated tenants into the master-data schema (`bakeplan seed`)."""

from datetime import timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.synthetic import TenantData
from orchestrator import masterdata as md


async def write_tenant(conn: AsyncConnection, tenant: TenantData) -> None:
    """Replace the tenant's master data with `tenant`, in the caller's transaction."""
    tid = tenant.tenant_id
    await md.delete_tenant(conn, tid)
    await conn.execute(
        insert(md.tenants).values(
            tenant_id=tid, name=tenant.name, timezone=tenant.timezone, calendar=tenant.calendar.model_dump(mode="json")
        )
    )

    async def rows(table: Table, values: list[dict[str, Any]]) -> None:
        if values:
            await conn.execute(insert(table), [{"tenant_id": tid, **v} for v in values])

    await rows(md.products, [p.model_dump() for p in tenant.products])
    await rows(md.recipes, [r.model_dump(exclude={"lines"}) for r in tenant.recipes])
    await rows(
        md.recipe_lines, [{"product_id": r.product_id, **line.model_dump()} for r in tenant.recipes for line in r.lines]
    )
    await rows(md.ingredients, [i.model_dump() for i in tenant.ingredients])
    await rows(md.stock_lots, [lot.model_dump() for lot in tenant.stock_lots])
    await rows(md.suppliers, [s.model_dump(exclude={"items"}) for s in tenant.suppliers])
    await rows(
        md.supplier_items,
        [{"supplier_id": s.supplier_id, **item.model_dump()} for s in tenant.suppliers for item in s.items],
    )
    sales = [
        (tid, history.product_id, history.start_date + timedelta(days=offset), units)
        for history in tenant.sales
        for offset, units in enumerate(history.daily_units)
        if units is not None
    ]
    # COPY: a large tenant has ~200,000 sales rows; INSERT would take many seconds.
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        md.daily_sales.name, schema_name=md.SCHEMA, records=sales, columns=["tenant_id", "product_id", "day", "units"]
    )
