"""The statements on the purchase-order tables, each in the caller's transaction.

The procurement worker inserts released orders and cancels a compensated release's; the orchestrator
reads the open supply into each snapshot and applies what comes back through `load_order` and
`save_change`; `bakeplan orders` reads `list_orders` and `order_detail`.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.purchasing import PurchaseOrder
from workers.purchase_orders.lifecycle import OPEN_STATUSES, Change, Order, OrderLine, Source
from workers.purchase_orders.tables import (
    purchase_order_history,
    purchase_order_lines,
    purchase_order_receipts,
    purchase_orders,
)

orders, lines, history, receipts = (
    purchase_orders,
    purchase_order_lines,
    purchase_order_history,
    purchase_order_receipts,
)


async def insert_released(
    conn: AsyncConnection, released: Sequence[PurchaseOrder], *, saga_id: UUID, at: datetime
) -> list[str]:
    """Insert the orders of one release with their lines and a `released` history row; an order
    already there (a redelivered release) is left as it is. Returns the numbers inserted."""
    if not released:
        return []
    rows = [
        {
            "tenant_id": o.tenant_id,
            "po_number": o.po_number,
            "saga_id": saga_id,
            "supplier_id": o.supplier_id,
            "supplier_name": o.supplier_name,
            "order_date": o.order_date,
            "delivery_date": o.delivery_date,
            "currency": o.currency,
            "total": o.total,
            "status": "released",
            "released_at": o.released_at,
            "updated_at": at,
            "document": o.model_dump(mode="json"),
        }
        for o in released
    ]
    statement = pg_insert(orders).on_conflict_do_nothing().returning(orders.c.po_number)
    inserted = set((await conn.execute(statement, rows)).scalars().all())
    new = [o for o in released if o.po_number in inserted]
    if not new:
        return []
    await conn.execute(
        insert(lines),
        [
            {
                "tenant_id": o.tenant_id,
                "po_number": o.po_number,
                "line_no": n,
                **line.model_dump(include={"line_id", "ingredient_id", "ingredient_name", "unit"}),
                **line.model_dump(include={"quantity", "unit_price", "amount"}),
            }
            for o in new
            for n, line in enumerate(o.lines, start=1)
        ],
    )
    await conn.execute(
        insert(history),
        [
            {
                "tenant_id": o.tenant_id,
                "po_number": o.po_number,
                "at": at,
                "from_status": None,
                "to_status": "released",
                "source": "release",
                "note": f"released: {len(o.lines)} line(s), {o.total:.2f} {o.currency}, delivery {o.delivery_date}",
            }
            for o in new
        ],
    )
    return [o.po_number for o in new]


async def cancel_released(
    conn: AsyncConnection, *, tenant_id: str, saga_id: UUID, at: datetime, reason: str, event_id: UUID
) -> list[tuple[str, str]]:
    """Cancel the saga's orders still `released` (not yet handed to a channel); the others are left
    to be handled forward. Returns (po_number, supplier_id) of those cancelled."""
    found = await conn.execute(
        select(orders.c.po_number, orders.c.supplier_id, orders.c.status)
        .where(orders.c.tenant_id == tenant_id, orders.c.saga_id == saga_id)
        .order_by(orders.c.po_number)
        .with_for_update()
    )
    cancelled = [(r.po_number, r.supplier_id) for r in found if r.status == "released"]
    if cancelled:
        numbers = [po for po, _ in cancelled]
        await conn.execute(
            update(orders)
            .where(orders.c.tenant_id == tenant_id, orders.c.po_number.in_(numbers))
            .values(status="cancelled", updated_at=at)
        )
        await conn.execute(
            insert(history),
            [
                _history_row(tenant_id, po, at, "released", "cancelled", "compensation", reason, event_id)
                for po in numbers
            ],
        )
    return cancelled


def _history_row(
    tenant_id: str,
    po_number: str,
    at: datetime,
    before: str | None,
    after: str,
    source: Source,
    note: str,
    event_id: UUID | None,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "po_number": po_number,
        "at": at,
        "from_status": before,
        "to_status": after,
        "source": source,
        "note": note,
        "event_id": event_id,
    }


def open_supply(tenant_id: str | ColumnElement[str]) -> Select[Any]:
    """The tenant's open orders' lines still to come, as `OpenPurchaseOrder` columns: order id
    `po:<po_number>/<line_id>`, the remaining quantity, on the expected delivery date."""
    remaining = func.coalesce(lines.c.confirmed_quantity, lines.c.quantity) - lines.c.received_quantity
    return (
        select(
            func.concat(literal("po:"), lines.c.po_number, literal("/"), lines.c.line_id).label("order_id"),
            orders.c.supplier_id,
            lines.c.ingredient_id,
            remaining.label("quantity"),
            func.coalesce(orders.c.confirmed_delivery_date, orders.c.delivery_date).label("delivery_date"),
        )
        .join(orders, and_(orders.c.tenant_id == lines.c.tenant_id, orders.c.po_number == lines.c.po_number))
        .where(lines.c.tenant_id == tenant_id, orders.c.status.in_(OPEN_STATUSES), remaining > 1e-9)
    )


def delivered_lines(
    tenant_id: str | ColumnElement[str], time_zone: str | ColumnElement[str], *, per_supplier: int
) -> Select[Any]:
    """The tenant's delivered order lines as `SupplierReceipt` columns, the latest `per_supplier` per
    supplier (docs/learning.md): ordered on the order's date, expected on the delivery date it asked
    for, received on the tenant-local day of the line's first receipt; reference `<po_number>/<line_no>`."""
    booked = func.jsonb_array_elements(receipts.c.lines).table_valued("value").lateral("booked")
    received_on = func.min(func.date(func.timezone(time_zone, receipts.c.received_at))).label("received_on")
    first = (
        select(
            orders.c.supplier_id,
            lines.c.ingredient_id,
            orders.c.order_date.label("ordered_on"),
            orders.c.delivery_date.label("expected_on"),
            received_on,
            func.concat(lines.c.po_number, literal("/"), lines.c.line_no).label("reference"),
        )
        .select_from(receipts)
        .join(booked, literal(True))
        .join(
            lines,
            and_(
                lines.c.tenant_id == receipts.c.tenant_id,
                lines.c.po_number == receipts.c.po_number,
                lines.c.line_id == booked.c.value.op("->>")("line_id"),
            ),
        )
        .join(orders, and_(orders.c.tenant_id == lines.c.tenant_id, orders.c.po_number == lines.c.po_number))
        .where(receipts.c.tenant_id == tenant_id)
        .group_by(
            orders.c.supplier_id,
            lines.c.ingredient_id,
            orders.c.order_date,
            orders.c.delivery_date,
            lines.c.po_number,
            lines.c.line_no,
        )
        .subquery("first_receipts")
    )
    rank = (
        func.row_number()
        .over(partition_by=first.c.supplier_id, order_by=(first.c.received_on.desc(), first.c.reference.desc()))
        .label("rank")
    )
    ranked = select(first, rank).subquery("ranked_receipts")
    return select(*(c for c in ranked.c if c.name != "rank")).where(ranked.c.rank <= per_supplier)


async def load_order(conn: AsyncConnection, tenant_id: str, po_number: str) -> Order | None:
    """The order with its lines, locked until the transaction ends; None if the tenant has no such order."""
    head = (
        await conn.execute(
            select(orders).where(orders.c.tenant_id == tenant_id, orders.c.po_number == po_number).with_for_update()
        )
    ).first()
    if head is None:
        return None
    rows = await conn.execute(
        select(lines).where(lines.c.tenant_id == tenant_id, lines.c.po_number == po_number).order_by(lines.c.line_no)
    )
    return Order(
        tenant_id=tenant_id,
        po_number=po_number,
        supplier_id=head.supplier_id,
        status=head.status,
        delivery_date=head.delivery_date,
        confirmed_delivery_date=head.confirmed_delivery_date,
        lines=tuple(
            OrderLine(
                line_no=r.line_no,
                line_id=r.line_id,
                ingredient_id=r.ingredient_id,
                ingredient_name=r.ingredient_name,
                unit=r.unit,
                quantity=r.quantity,
                unit_price=r.unit_price,
                confirmed_quantity=r.confirmed_quantity,
                received_quantity=r.received_quantity,
            )
            for r in rows
        ),
    )


async def save_change(
    conn: AsyncConnection, before: Order, change: Change, *, source: Source, at: datetime, event_id: UUID | None
) -> None:
    """Write `change.order` over `before` (status, confirmed date, changed lines) and one history row."""
    after = change.order
    key = and_(orders.c.tenant_id == after.tenant_id, orders.c.po_number == after.po_number)
    await conn.execute(
        update(orders)
        .where(key)
        .values(status=after.status, confirmed_delivery_date=after.confirmed_delivery_date, updated_at=at)
    )
    for old, new in zip(before.lines, after.lines, strict=True):
        if (old.confirmed_quantity, old.received_quantity) != (new.confirmed_quantity, new.received_quantity):
            await conn.execute(
                update(lines)
                .where(
                    lines.c.tenant_id == after.tenant_id,
                    lines.c.po_number == after.po_number,
                    lines.c.line_no == new.line_no,
                )
                .values(confirmed_quantity=new.confirmed_quantity, received_quantity=new.received_quantity)
            )
    await conn.execute(
        insert(history).values(
            _history_row(
                after.tenant_id, after.po_number, at, before.status, after.status, source, change.note, event_id
            )
        )
    )


async def add_receipt(
    conn: AsyncConnection,
    order: Order,
    *,
    receipt_id: str,
    received_at: datetime,
    event_id: UUID,
    booked: Sequence[dict[str, Any]],
    at: datetime,
) -> bool:
    """Record one delivery of `order`; False (and nothing written) when its receipt id was booked before."""
    row = {
        "tenant_id": order.tenant_id,
        "po_number": order.po_number,
        "receipt_id": receipt_id,
        "received_at": received_at,
        "event_id": event_id,
        "lines": list(booked),
        "recorded_at": at,
    }
    statement = pg_insert(receipts).values(row).on_conflict_do_nothing().returning(receipts.c.receipt_id)
    return (await conn.execute(statement)).first() is not None


async def list_orders(
    conn: AsyncConnection, *, tenant_id: str | None, statuses: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Orders newest first (by release), with line counts and what is still to come."""
    remaining = func.greatest(
        func.coalesce(lines.c.confirmed_quantity, lines.c.quantity) - lines.c.received_quantity, 0
    )
    per_order = (
        select(
            lines.c.tenant_id,
            lines.c.po_number,
            func.count().label("lines"),
            func.count().filter(remaining > 1e-9).label("open_lines"),
        )
        .group_by(lines.c.tenant_id, lines.c.po_number)
        .subquery()
    )
    query = (
        select(
            orders.c.tenant_id,
            orders.c.po_number,
            orders.c.saga_id,
            orders.c.supplier_id,
            orders.c.supplier_name,
            orders.c.order_date,
            orders.c.delivery_date,
            orders.c.confirmed_delivery_date,
            orders.c.currency,
            orders.c.total,
            orders.c.status,
            orders.c.released_at,
            orders.c.updated_at,
            per_order.c.lines,
            per_order.c.open_lines,
        )
        .join(
            per_order,
            and_(per_order.c.tenant_id == orders.c.tenant_id, per_order.c.po_number == orders.c.po_number),
        )
        .order_by(orders.c.released_at.desc(), orders.c.po_number)
        .limit(limit)
    )
    if tenant_id is not None:
        query = query.where(orders.c.tenant_id == tenant_id)
    if statuses:
        query = query.where(orders.c.status.in_(list(statuses)))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def order_detail(conn: AsyncConnection, tenant_id: str, po_number: str) -> dict[str, Any] | None:
    """The order as released, its lines with what was confirmed and received, its receipts and history."""
    head = (
        (await conn.execute(select(orders).where(orders.c.tenant_id == tenant_id, orders.c.po_number == po_number)))
        .mappings()
        .first()
    )
    if head is None:
        return None
    key = and_(lines.c.tenant_id == tenant_id, lines.c.po_number == po_number)
    line_rows = (await conn.execute(select(lines).where(key).order_by(lines.c.line_no))).mappings().all()
    receipt_rows = (
        (
            await conn.execute(
                select(receipts)
                .where(receipts.c.tenant_id == tenant_id, receipts.c.po_number == po_number)
                .order_by(receipts.c.received_at, receipts.c.receipt_id)
            )
        )
        .mappings()
        .all()
    )
    history_rows = (
        (
            await conn.execute(
                select(history)
                .where(history.c.tenant_id == tenant_id, history.c.po_number == po_number)
                .order_by(history.c.id)
            )
        )
        .mappings()
        .all()
    )
    return {
        **{k: v for k, v in head.items() if k != "document"},
        "tenant_name": head["document"].get("tenant_name", ""),
        "lines": [dict(r) for r in line_rows],
        "receipts": [dict(r) for r in receipt_rows],
        "history": [dict(r) for r in history_rows],
    }
