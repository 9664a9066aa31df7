"""What the console's pages read beyond the CLI's read models: a snapshot's summary and a product's
forecast with its sales history. Everything else comes from `bakeplan.cli.run_views`,
`bakeplan.cli.tenant_views`, `bakeplan.cli.audit.explain_line` and `orchestrator.scheduler`."""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrator import masterdata as md
from orchestrator.stores.snapshot_store import PostgresSnapshots
from orchestrator.tables import snapshots
from workers.forecasting.tables import forecasts

HISTORY_DAYS = 28


async def snapshot_summary(conn: AsyncConnection, sha256: str) -> dict[str, Any] | None:
    """Size, sha and what the snapshot holds (counts per kind of master data); None if it is gone."""
    size = (await conn.execute(select(snapshots.c.size_bytes).where(snapshots.c.sha256 == sha256))).scalar_one_or_none()
    if size is None:
        return None
    snapshot = await PostgresSnapshots(conn).get(sha256)
    return {
        "sha256": sha256,
        "size_bytes": size,
        "counts": {
            "products": len(snapshot.products),
            "recipes": len(snapshot.recipes),
            "components": len(snapshot.components),
            "ingredients": len(snapshot.ingredients),
            "suppliers": len(snapshot.suppliers),
            "supplier items": sum(len(s.items) for s in snapshot.suppliers),
            "stock lots": len(snapshot.stock_lots),
            "open purchase orders": len(snapshot.open_purchase_orders),
            "sales days": max((len(s.daily_units) for s in snapshot.sales), default=0),
            "receipts": len(snapshot.receipts),
        },
        "horizon_days": snapshot.horizon_days,
    }


async def forecast_products(conn: AsyncConnection, saga_id: UUID, tenant_id: str) -> list[dict[str, Any]]:
    """The products the saga forecast, with their names, by name."""
    rows = await conn.execute(
        select(forecasts.c.product_id, md.products.c.name)
        .select_from(
            forecasts.outerjoin(
                md.products,
                and_(md.products.c.tenant_id == tenant_id, md.products.c.product_id == forecasts.c.product_id),
            )
        )
        .where(forecasts.c.saga_id == saga_id)
        .distinct()
    )
    return sorted(({"product_id": r[0], "name": r[1] or r[0]} for r in rows), key=lambda p: p["name"])


async def forecast_of(
    conn: AsyncConnection, saga_id: UUID, tenant_id: str, product_id: str, business_date: date
) -> tuple[list[tuple[date, float]], list[dict[str, Any]]]:
    """The product's sales over the `HISTORY_DAYS` before `business_date` and the saga's forecast rows."""
    history = await conn.execute(
        select(md.daily_sales.c.day, md.daily_sales.c.units)
        .where(
            md.daily_sales.c.tenant_id == tenant_id,
            md.daily_sales.c.product_id == product_id,
            md.daily_sales.c.day >= business_date - timedelta(days=HISTORY_DAYS),
            md.daily_sales.c.day < business_date,
        )
        .order_by(md.daily_sales.c.day)
    )
    rows = await conn.execute(
        select(forecasts.c.day, forecasts.c.units, forecasts.c.p10, forecasts.c.p50, forecasts.c.p90, forecasts.c.model)
        .where(forecasts.c.saga_id == saga_id, forecasts.c.product_id == product_id)
        .order_by(forecasts.c.day)
    )
    return [(r[0], float(r[1])) for r in history], [dict(r) for r in rows.mappings()]
