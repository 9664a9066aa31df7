"""What comes back for purchase orders, applied on real Postgres (orchestrator/purchasing_store.py):
sent, confirmed, received in parts and over, cancelled; exactly once; bad events refused with the
reason and nothing written; and what the next snapshot counts as supply."""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import PermanentError
from contracts.purchasing import PurchaseOrder, PurchaseOrderLine
from contracts.purchasing_messages import (
    ConfirmedLine,
    GoodsReceived,
    OrderConfirmed,
    OrderSent,
    PurchaseOrdersReleased,
    ReceivedLine,
)
from infra.messaging.codec import decode
from orchestrator import masterdata as md
from orchestrator.audit import saga_entries
from orchestrator.purchasing_store import Purchasing
from orchestrator.snapshot_reader import read_snapshot
from orchestrator.tables import outbox
from tests.integration.test_purchase_order_release import TODAY, rows, seeded
from workers.purchase_orders.tables import purchase_order_history, purchase_order_lines, purchase_orders

pytestmark = pytest.mark.integration


class Clock:
    now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def released_orders(engine: AsyncEngine, tenant_id: str) -> tuple[PurchaseOrder, ...]:
    pump = await seeded(engine, tenant_id)
    await pump.trigger(tenant_id, TODAY)
    await pump.run()
    (released,) = pump.messages(PurchaseOrdersReleased)
    return released.purchase_orders


def envelope(tenant_id: str) -> dict[str, Any]:
    return {"event_id": uuid4(), "tenant_id": tenant_id, "occurred_at": Clock.now}


def sent(order: PurchaseOrder) -> OrderSent:
    return OrderSent(**envelope(order.tenant_id), po_number=order.po_number, sent_at=Clock.now, channel="email")


def received(order: PurchaseOrder, receipt_id: str, day: date, **by_line: float) -> GoodsReceived:
    return GoodsReceived(
        **envelope(order.tenant_id),
        po_number=order.po_number,
        receipt_id=receipt_id,
        received_at=datetime(day.year, day.month, day.day, 7, tzinfo=UTC),
        lines=tuple(ReceivedLine(line_id=line_id, quantity=q) for line_id, q in by_line.items()),
    )


async def supply(engine: AsyncEngine, tenant_id: str, day: date) -> dict[str, tuple[float, date]]:
    async with engine.connect() as conn:
        snapshot = await read_snapshot(conn, tenant_id, business_date=day, horizon_days=7, history_days=7)
    return {o.order_id: (o.quantity, o.delivery_date) for o in snapshot.open_purchase_orders if o.order_id[:3] == "po:"}


async def history(engine: AsyncEngine, tenant_id: str, po_number: str) -> list[tuple[str | None, str, str]]:
    table = purchase_order_history
    query = (
        select(table.c.from_status, table.c.to_status, table.c.source)
        .where(table.c.tenant_id == tenant_id, table.c.po_number == po_number)
        .order_by(table.c.id)
    )
    return [(a, b, c) for a, b, c in await rows(engine, query)]


async def test_an_order_sent_confirmed_and_received_in_two_deliveries(engine: AsyncEngine, tenant_id: str) -> None:
    order = next(o for o in await released_orders(engine, tenant_id) if len(o.lines) >= 2)
    first, second, *rest = order.lines
    purchasing = Purchasing(engine, Clock())

    def key(line: PurchaseOrderLine) -> str:
        return f"po:{order.po_number}/{line.line_id}"

    assert (await supply(engine, tenant_id, TODAY + timedelta(days=1)))[key(first)] == (
        first.quantity,
        order.delivery_date,
    )

    await purchasing.apply(sent(order))
    later = order.delivery_date + timedelta(days=1)
    confirmed = OrderConfirmed(
        **envelope(tenant_id),
        po_number=order.po_number,
        confirmed_at=Clock.now,
        delivery_date=later,
        lines=(ConfirmedLine(line_id=second.line_id, quantity=second.quantity / 2),),
    )
    await purchasing.apply(confirmed)
    counted = await supply(engine, tenant_id, TODAY + timedelta(days=1))
    assert counted[key(first)] == (first.quantity, later)
    assert counted[key(second)] == (second.quantity / 2, later)

    # the first delivery: part of the first line, late; the same delivery note again books nothing
    part = received(order, "DN-1", later + timedelta(days=1), **{first.line_id: first.quantity * 0.4})
    await purchasing.apply(part)
    again = part.model_copy(update={"event_id": uuid4()})
    assert "was booked before" in await purchasing.apply(again)
    await purchasing.apply(part)  # and the same event id again is absorbed by the inbox
    counted = await supply(engine, tenant_id, TODAY + timedelta(days=1))
    assert counted[key(first)] == pytest.approx((first.quantity * 0.6, later))
    lots = await rows(
        engine, select(md.stock_lots).where(md.stock_lots.c.tenant_id == tenant_id, md.stock_lots.c.lot_id.like("PO-%"))
    )
    assert [(lot.lot_id, lot.ingredient_id, lot.quantity) for lot in lots] == [
        (f"{order.po_number}/1/DN-1", first.ingredient_id, first.quantity * 0.4)
    ]
    (status,) = await rows(
        engine, select(purchase_orders.c.status).where(purchase_orders.c.po_number == order.po_number)
    )
    assert status == ("partly_received",)

    # the rest, with more of the first line than was left: booked whole, and the order is received
    everything = {first.line_id: first.quantity * 0.7, second.line_id: second.quantity / 2}
    everything |= {line.line_id: line.quantity for line in rest}
    await purchasing.apply(received(order, "DN-2", later, **everything))
    assert not any(k.startswith(f"po:{order.po_number}/") for k in await supply(engine, tenant_id, later))
    stored = await rows(
        engine,
        select(purchase_order_lines.c.line_id, purchase_order_lines.c.received_quantity).where(
            purchase_order_lines.c.po_number == order.po_number
        ),
    )
    assert dict(stored)[first.line_id] == pytest.approx(first.quantity * 1.1)
    assert await history(engine, tenant_id, order.po_number) == [
        (None, "released", "release"),
        ("released", "sent", "channel"),
        ("sent", "confirmed", "supplier"),
        ("confirmed", "partly_received", "goods_in"),
        ("partly_received", "received", "goods_in"),
    ]
    # each applied event is in the tenant's audit chain, under the saga that released the order
    async with engine.connect() as conn:
        saga_id = (
            await conn.execute(select(purchase_orders.c.saga_id).where(purchase_orders.c.po_number == order.po_number))
        ).scalar_one()
        archived = [decode(e.payload).event_type for e in await saga_entries(conn, saga_id)]
    assert archived[-4:] == [
        "purchasing.order_sent",
        "purchasing.order_confirmed",
        "purchasing.goods_received",
        "purchasing.goods_received",
    ]


async def test_bad_events_are_refused_with_the_reason_and_write_nothing(engine: AsyncEngine, tenant_id: str) -> None:
    order, *_ = await released_orders(engine, tenant_id)
    purchasing = Purchasing(engine, Clock())
    line = order.lines[0].line_id
    cases = [
        (
            received(order, "DN-1", TODAY, **{line: 1.0}).model_copy(update={"po_number": "PO-NOPE"}),
            f"of tenant {tenant_id}: unknown purchase order 'PO-NOPE'",
        ),
        (
            received(order, "DN-1", TODAY, ghost=1.0),
            f"lines[0].line_id: unknown line 'ghost' of order {order.po_number}; its lines: {line}",
        ),
        (
            received(order, "DN-1", TODAY, **{line: 1.0}).model_copy(update={"tenant_id": "it-nobody-here"}),
            "unknown tenant 'it-nobody-here'",
        ),
    ]
    for event, reason in cases:
        with pytest.raises(PermanentError, match=re.escape(reason)):
            await purchasing.apply(event)
        with pytest.raises(PermanentError):  # its inbox claim was rolled back: a replay is checked again
            await purchasing.apply(event)

    change = await purchasing.cancel(tenant_id, order.po_number, reason="supplier closed", by="test")
    assert change.order.status == "cancelled"
    with pytest.raises(PermanentError, match=f"order {order.po_number} is cancelled"):
        await purchasing.apply(received(order, "DN-2", TODAY, **{line: 1.0}))
    with pytest.raises(PermanentError, match=f"cannot cancel: cancel: order {order.po_number} is cancelled"):
        await purchasing.cancel(tenant_id, order.po_number, reason="again", by="test")
    lots = await rows(engine, select(md.stock_lots.c.lot_id).where(md.stock_lots.c.lot_id.like(f"{order.po_number}%")))
    assert lots == []
    assert not any(k.startswith(f"po:{order.po_number}/") for k in await supply(engine, tenant_id, TODAY))
    # the cancellation goes out to the supplier channels through the orchestrator's outbox, once
    payloads = await rows(
        engine,
        select(outbox.c.topic, outbox.c.payload).where(
            outbox.c.message_key == tenant_id, outbox.c.event_type == "purchasing.order_cancelled"
        ),
    )
    assert [(t, decode(p).po_number) for t, p in payloads] == [("bakeplan.purchasing.orders", order.po_number)]  # type: ignore[attr-defined]
    assert (await history(engine, tenant_id, order.po_number))[-1] == ("released", "cancelled", "operator")


async def test_a_confirmation_after_goods_came_is_refused(engine: AsyncEngine, tenant_id: str) -> None:
    order, *_ = await released_orders(engine, tenant_id)
    purchasing = Purchasing(engine, Clock())
    await purchasing.apply(received(order, "DN-1", TODAY, **{order.lines[0].line_id: 0.5}))
    late = OrderConfirmed(**envelope(tenant_id), po_number=order.po_number, confirmed_at=Clock.now)
    with pytest.raises(PermanentError, match=f"purchasing.order_confirmed: order {order.po_number} is partly_received"):
        await purchasing.apply(late)
