"""Read models for the CLI: runs, a saga's timeline, the plan a saga produced."""

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrator.ports import DAY_TAKEN_STATUSES, SagaKind
from orchestrator.tables import saga_log, sagas
from workers.procurement.tables import purchase_lines
from workers.production.tables import batches


async def list_runs(
    conn: AsyncConnection, *, tenant: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    query = (
        select(
            sagas.c.saga_id,
            sagas.c.tenant_id,
            sagas.c.business_date,
            sagas.c.status,
            sagas.c.created_at,
            sagas.c.updated_at,
            sagas.c.reason,
        )
        .order_by(sagas.c.created_at.desc())
        .limit(limit)
    )
    if tenant:
        query = query.where(sagas.c.tenant_id == tenant)
    if status:
        query = query.where(sagas.c.status == status.upper())
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def saga(conn: AsyncConnection, saga_id: UUID) -> dict[str, Any] | None:
    row = (await conn.execute(select(sagas).where(sagas.c.saga_id == saga_id))).mappings().first()
    if row is None:
        return None
    timeline = (
        await conn.execute(
            select(saga_log.c.at, saga_log.c.kind, saga_log.c.step, saga_log.c.detail)
            .where(saga_log.c.saga_id == saga_id)
            .order_by(saga_log.c.id)
        )
    ).mappings()
    return {**dict(row), "timeline": [dict(t) for t in timeline]}


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


async def plan_of(conn: AsyncConnection, saga_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """A saga's batches and purchase lines, each with its `reasoning` (a dict, or None before it existed)."""
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
            )
            .where(batches.c.saga_id == saga_id)
            .order_by(batches.c.day, batches.c.product_id)
        )
    ).mappings()
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
            )
            .where(purchase_lines.c.saga_id == saga_id)
            .order_by(purchase_lines.c.order_date, purchase_lines.c.supplier_id, purchase_lines.c.ingredient_id)
        )
    ).mappings()
    return {"batches": [dict(r) for r in batch_rows], "purchase_lines": [dict(r) for r in line_rows]}
