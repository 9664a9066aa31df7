"""Read models for the CLI: runs, a saga's timeline, the plan a saga produced.

Names, units and the currency come from the tenant's current master data (`masterdata`), joined
with LEFT JOINs: a product, ingredient or supplier removed since the plan keeps its row, with a
`None` name (people then read its id) and, for an ingredient, a `None` unit. The saga's recorded
snapshot would give the names as they were when it planned, but reading it means decoding the whole
snapshot (megabytes for a large tenant) for a list; `bakeplan explain`, which decodes it anyway,
names things from the snapshot. Products are in pieces (`amounts.PIECES`).
"""

from collections.abc import Collection, Iterable
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.amounts import PIECES
from orchestrator import masterdata as md
from orchestrator.ports import DAY_TAKEN_STATUSES, SagaKind
from orchestrator.tables import saga_log, sagas
from orchestrator.tenant_files.reading import DEFAULT_CURRENCY as NEW_TENANT_CURRENCY
from workers.procurement.tables import purchase_lines
from workers.production.tables import batches

# what a tenant removed since its plan is shown in: masterdata.tenants.currency's server default
DEFAULT_CURRENCY = NEW_TENANT_CURRENCY


async def tenant_names(conn: AsyncConnection, tenant_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """`{tenant_id: {"name", "currency", "timezone"}}` of the tenants that exist among `tenant_ids`."""
    wanted = sorted(set(tenant_ids))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(md.tenants.c.tenant_id, md.tenants.c.name, md.tenants.c.currency, md.tenants.c.timezone).where(
            md.tenants.c.tenant_id.in_(wanted)
        )
    )
    return {r.tenant_id: {"name": r.name, "currency": r.currency, "timezone": r.timezone} for r in rows}


async def list_runs(
    conn: AsyncConnection,
    *,
    tenant: str | None,
    status: str | None,
    limit: int,
    tenants: Collection[str] | None = None,
    kind: str | None = None,
    business_date: date | None = None,
) -> list[dict[str, Any]]:
    """Sagas newest first, with `tenant_name`; `tenants` limits them to those tenants (the console's grants)."""
    query = (
        select(
            sagas.c.saga_id,
            sagas.c.tenant_id,
            sagas.c.business_date,
            sagas.c.status,
            sagas.c.kind,
            sagas.c.created_at,
            sagas.c.updated_at,
            sagas.c.reason,
        )
        .order_by(sagas.c.created_at.desc())
        .limit(limit)
    )
    if tenant:
        query = query.where(sagas.c.tenant_id == tenant)
    if tenants is not None:
        query = query.where(sagas.c.tenant_id.in_(sorted(tenants)))
    if status:
        query = query.where(sagas.c.status == status.upper())
    if kind:
        query = query.where(sagas.c.kind == kind)
    if business_date is not None:
        query = query.where(sagas.c.business_date == business_date)
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    names = await tenant_names(conn, (r["tenant_id"] for r in rows))
    return [{**r, "tenant_name": names.get(r["tenant_id"], {}).get("name")} for r in rows]


async def saga(conn: AsyncConnection, saga_id: UUID) -> dict[str, Any] | None:
    row = (await conn.execute(select(sagas).where(sagas.c.saga_id == saga_id))).mappings().first()
    if row is None:
        return None
    tenant = (await tenant_names(conn, [row["tenant_id"]])).get(row["tenant_id"], {})
    timeline = (
        await conn.execute(
            select(saga_log.c.at, saga_log.c.kind, saga_log.c.step, saga_log.c.detail)
            .where(saga_log.c.saga_id == saga_id)
            .order_by(saga_log.c.id)
        )
    ).mappings()
    return {**dict(row), "tenant_name": tenant.get("name"), "timeline": [dict(t) for t in timeline]}


async def active_saga_for(conn: AsyncConnection, tenant_id: str, business_date: date) -> tuple[UUID, str] | None:
    row = (
        await conn.execute(
            select(sagas.c.saga_id, sagas.c.status).where(
                sagas.c.tenant_id == tenant_id,
                sagas.c.business_date == business_date,
                sagas.c.kind == SagaKind.DAILY,  # a low-stock saga of the same date is not the day's plan
                sagas.c.status.in_(DAY_TAKEN_STATUSES),
            )
        )
    ).first()
    return (row.saga_id, row.status) if row else None


async def plan_of(conn: AsyncConnection, saga_id: UUID) -> dict[str, Any] | None:
    """A saga's batches and purchase lines, each with its `reasoning` (a dict, or None before it existed)
    and the names, units and currency a person reads; `None` for an unknown saga.

    Batches add `product_name` and `unit` (pieces); purchase lines add `ingredient_name`, `unit` (the
    ingredient's), `supplier_name` and `currency` (the tenant's); the plan adds `tenant_id`,
    `tenant_name`, `business_date` and `currency`."""
    found = (
        await conn.execute(select(sagas.c.tenant_id, sagas.c.business_date).where(sagas.c.saga_id == saga_id))
    ).first()
    if found is None:
        return None
    tenant = (await tenant_names(conn, [found.tenant_id])).get(found.tenant_id, {})
    currency = tenant.get("currency", DEFAULT_CURRENCY)
    product = md.products
    batch_rows = (
        await conn.execute(
            select(
                batches.c.batch_id,
                batches.c.product_id,
                batches.c.day,
                batches.c.batches,
                batches.c.units,
                batches.c.oven_minutes,
                batches.c.status,
                batches.c.reason,
                batches.c.reasoning,
                product.c.name.label("product_name"),
            )
            .select_from(
                batches.outerjoin(
                    product,
                    and_(product.c.tenant_id == batches.c.tenant_id, product.c.product_id == batches.c.product_id),
                )
            )
            .where(batches.c.saga_id == saga_id)
            .order_by(batches.c.day, batches.c.product_id)
        )
    ).mappings()
    ingredient, supplier = md.ingredients, md.suppliers
    line_rows = (
        await conn.execute(
            select(
                purchase_lines.c.line_id,
                purchase_lines.c.supplier_id,
                purchase_lines.c.ingredient_id,
                purchase_lines.c.order_date,
                purchase_lines.c.delivery_date,
                purchase_lines.c.quantity,
                purchase_lines.c.unit_price,
                purchase_lines.c.late,
                purchase_lines.c.status,
                purchase_lines.c.reason,
                purchase_lines.c.reasoning,
                ingredient.c.name.label("ingredient_name"),
                ingredient.c.unit,
                supplier.c.name.label("supplier_name"),
            )
            .select_from(
                purchase_lines.outerjoin(
                    ingredient,
                    and_(
                        ingredient.c.tenant_id == purchase_lines.c.tenant_id,
                        ingredient.c.ingredient_id == purchase_lines.c.ingredient_id,
                    ),
                ).outerjoin(
                    supplier,
                    and_(
                        supplier.c.tenant_id == purchase_lines.c.tenant_id,
                        supplier.c.supplier_id == purchase_lines.c.supplier_id,
                    ),
                )
            )
            .where(purchase_lines.c.saga_id == saga_id)
            .order_by(purchase_lines.c.order_date, purchase_lines.c.supplier_id, purchase_lines.c.ingredient_id)
        )
    ).mappings()
    return {
        "tenant_id": found.tenant_id,
        "tenant_name": tenant.get("name"),
        "business_date": found.business_date,
        "currency": currency,
        "batches": [{**dict(r), "unit": PIECES} for r in batch_rows],
        "purchase_lines": [{**dict(r), "currency": currency} for r in line_rows],
    }
