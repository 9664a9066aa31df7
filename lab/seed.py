"""Writes generated tenants into the master-data schema (`bakeplan seed`)."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.planning import Regressor
from lab.synthetic import TenantData
from orchestrator import masterdata as md


async def write_tenant(conn: AsyncConnection, tenant: TenantData, *, regressors: Sequence[Regressor] = ()) -> None:
    """Replace the tenant's master data with `tenant` and its daily `regressors`, in the caller's transaction.

    With the regressors, everything a `PlanningSnapshot` carries is written, so `read_snapshot` gives
    it back (in id order). Regressors are a separate argument because synthetic tenants have none;
    an import passes its signals (weather, local events). Sales days that are `None` get no row;
    regressor days that are `None` get a row with a NULL value, so a series keeps its exact start and end.
    """
    tid = tenant.tenant_id
    await md.delete_tenant(conn, tid)
    await conn.execute(
        insert(md.tenants).values(
            tenant_id=tid,
            name=tenant.name,
            timezone=tenant.timezone,
            calendar=tenant.calendar.model_dump(mode="json"),
            capacity=tenant.capacity.model_dump(mode="json"),
            policy=tenant.policy.model_dump(mode="json"),
        )
    )

    async def rows(table: Table, values: list[dict[str, Any]]) -> None:
        if values:
            await conn.execute(insert(table), [{"tenant_id": tid, **v} for v in values])

    nested = {"lines", "components"}
    await rows(md.products, [p.model_dump() for p in tenant.products])
    await rows(md.recipes, [r.model_dump(exclude=nested) for r in tenant.recipes])
    await rows(
        md.recipe_lines, [{"product_id": r.product_id, **line.model_dump()} for r in tenant.recipes for line in r.lines]
    )
    await rows(
        md.recipe_components,
        [{"product_id": r.product_id, **use.model_dump()} for r in tenant.recipes for use in r.components],
    )
    await rows(md.components, [c.model_dump(exclude=nested) for c in tenant.components])
    await rows(
        md.component_lines,
        [{"component_id": c.component_id, **line.model_dump()} for c in tenant.components for line in c.lines],
    )
    await rows(
        md.component_components,
        [{"parent_id": c.component_id, **use.model_dump()} for c in tenant.components for use in c.components],
    )
    await rows(md.ingredients, [i.model_dump() for i in tenant.ingredients])
    await rows(md.stock_lots, [lot.model_dump() for lot in tenant.stock_lots])
    await rows(md.suppliers, [s.model_dump(exclude={"items"}) for s in tenant.suppliers])
    await rows(
        md.supplier_items,
        [{"supplier_id": s.supplier_id, **item.model_dump()} for s in tenant.suppliers for item in s.items],
    )
    await rows(md.open_purchase_orders, [o.model_dump() for o in tenant.open_purchase_orders])
    sales = [
        (tid, history.product_id, history.start_date + timedelta(days=offset), units)
        for history in tenant.sales
        for offset, units in enumerate(history.daily_units)
        if units is not None
    ]
    signals = [
        (tid, regressor.name, regressor.start_date + timedelta(days=offset), value)
        for regressor in regressors
        for offset, value in enumerate(regressor.values)
    ]
    await _copy(conn, md.daily_sales, ["tenant_id", "product_id", "day", "units"], sales)
    await _copy(conn, md.regressors, ["tenant_id", "name", "day", "value"], signals)


async def _copy(conn: AsyncConnection, table: Table, columns: list[str], records: Sequence[tuple[Any, ...]]) -> None:
    # COPY: a large tenant has ~200,000 sales rows and years of daily signals; INSERT would take many seconds.
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, schema_name=md.SCHEMA, records=records, columns=columns
    )
