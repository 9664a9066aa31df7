"""What comes back for purchase orders, applied to Postgres (docs/orders.md): one event, one
transaction, exactly once.

`Purchasing.apply` handles the orchestrator's consumer `orchestrator-purchasing` on
`Topic.PURCHASING_EVENTS` (`purchasing.order_sent`, `purchasing.order_confirmed`,
`purchasing.goods_received`): claim the inbox (a re-sent event id does nothing), take the tenant's
master-data lock (a receipt adds stock lots, which a stock count or an import replaces: they never
interleave), check the event against the order (`workers.purchase_orders.lifecycle`), write the order's
new state with a history row, the receipt's stock lots, and archive the event in the tenant's audit
chain under the order's saga. An event that cannot be applied raises `PermanentError`: its transaction
rolls back, inbox claim included, and the consumer parks it with the reason for `bakeplan dlq replay`.

The same delivery sent again under a new event id books once: a receipt id is unique per order.
`bakeplan orders receive` and `orders cancel` go through the same code, as the operator.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import ids
from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.planning import Ingredient
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import GoodsReceived, OrderCancelled, OrderConfirmed, OrderReleased, OrderSent
from contracts.topics import Topic
from infra import tracing
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.outbox import Outgoing
from orchestrator import audit
from orchestrator import masterdata as md
from orchestrator.ports import Inbound
from orchestrator.tables import inbox, outbox
from workers.purchase_orders import lifecycle, store
from workers.purchase_orders.lifecycle import Change, Order, Source
from workers.purchase_orders.tables import purchase_order_history, purchase_orders

log = logging.getLogger(__name__)

CONSUMER = "orchestrator-purchasing"
_SHOWN_PROBLEMS = 20


class Purchasing:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime],
        *,
        on_commit: Callable[[], None] = lambda: None,
        dedupe: bool = True,
        audit_keys: audit.AuditKeys = audit.DEV_AUDIT_KEYS,
    ) -> None:
        """`on_commit` wakes the outbox relay (a cancellation publishes); `dedupe=False` is the fault
        suite's mutation switch (see `PostgresStores`); `audit_keys` key the audit chain."""
        self._engine = engine
        self._clock = clock
        self._on_commit = on_commit
        self._dedupe = dedupe
        self._audit_keys = audit_keys

    async def apply(self, message: Message, *, source: Source | None = None) -> str:
        """Apply one event; returns what it did, for the log. Raises `PermanentError` (the event is
        parked) when it cannot be applied. `source` names who reported it in the order's history (by
        default: the channel for `sent`, the supplier for `confirmed`, goods-in for a receipt)."""
        if not isinstance(message, OrderSent | OrderConfirmed | GoodsReceived):
            raise PermanentError(
                f"the purchasing consumer does not handle {message.event_type} (tenant {message.tenant_id})"
            )
        now = self._clock()
        async with tracing.transaction(self._engine, "orchestrator") as conn:
            claimed = await inbox_store.claim(
                conn,
                inbox,
                consumer=CONSUMER,
                event_id=message.event_id,
                tenant_id=message.tenant_id,
                digest=content_digest(message),
            )
            if not claimed and self._dedupe:
                return "already applied"
            order, saga_id = await _locked_order(conn, message.tenant_id, message.po_number, message)
            match message:
                case OrderSent():
                    change, who = lifecycle.mark_sent(order, message), source or "channel"
                case OrderConfirmed():
                    if problems := lifecycle.confirmation_problems(order, message):
                        raise _refuse(message, problems)
                    change, who = lifecycle.confirm(order, message), source or "supplier"
                case GoodsReceived():
                    if problems := lifecycle.receipt_problems(order, message):
                        raise _refuse(message, problems)
                    change, who = (
                        lifecycle.receive(order, message, await _ingredients(conn, order)),
                        source or "goods_in",
                    )
                    if not await _book_receipt(conn, order, change, message, now):
                        summary = (
                            f"receipt {message.receipt_id} of {order.po_number} was booked before; nothing changed"
                        )
                        log.info("tenant %s: %s", message.tenant_id, summary)
                        return summary
            await store.save_change(conn, order, change, source=who, at=now, event_id=message.event_id)
            await audit.record(
                conn, inbound=Inbound(message, Topic.PURCHASING_EVENTS, saga_id), at=now, keys=self._audit_keys
            )
        summary = f"{order.po_number}: {order.status} → {change.order.status} ({change.note})"
        log.info("tenant %s: %s %s applied: %s", message.tenant_id, message.event_type, message.event_id, summary)
        return summary

    async def resend(self, tenant_id: str, po_number: str, *, by: str) -> Change:
        """Send a `send_failed` order again as the operator `by` (docs/channels.md): it goes back to
        `released` and its `OrderReleased` is published anew (a new event id per resend), so the
        channels send it on the supplier's channel as it is configured now. Raises `PermanentError`
        for an unknown order or one in another status."""
        now = self._clock()
        async with tracing.transaction(self._engine, "orchestrator") as conn:
            order, saga_id = await _locked_order(conn, tenant_id, po_number, None)
            if problems := lifecycle.resend_problems(order):
                raise PermanentError(f"tenant {tenant_id}: cannot resend: " + "; ".join(problems))
            document = (
                await conn.execute(
                    select(purchase_orders.c.document).where(
                        purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.po_number == po_number
                    )
                )
            ).scalar_one()
            earlier = await conn.scalar(
                select(func.count())
                .select_from(purchase_order_history)
                .where(
                    purchase_order_history.c.tenant_id == tenant_id,
                    purchase_order_history.c.po_number == po_number,
                    purchase_order_history.c.source == "operator",
                    purchase_order_history.c.note.startswith("resend requested"),
                )
            )
            change = lifecycle.resend(order, by)
            await store.save_change(conn, order, change, source="operator", at=now, event_id=None)
            again = OrderReleased(
                event_id=ids.order_event_id(po_number, tenant_id, f"resend:{(earlier or 0) + 1}"),
                tenant_id=tenant_id,
                saga_id=saga_id,
                correlation_id=saga_id,
                occurred_at=now,
                purchase_order=PurchaseOrder.model_validate(document, strict=False),
            )
            outgoing = [Outgoing(Topic.PURCHASE_ORDERS, again)]
            await outbox_store.add(conn, outbox, outgoing)
            await audit.record(conn, outgoing=outgoing, at=now, keys=self._audit_keys)
        self._on_commit()
        return change

    async def cancel(self, tenant_id: str, po_number: str, *, reason: str, by: str) -> Change:
        """Cancel an order as the operator `by`: its history records why, and `OrderCancelled` goes to the
        supplier channels. Raises `PermanentError` for an unknown order or one already received or cancelled."""
        now = self._clock()
        async with tracing.transaction(self._engine, "orchestrator") as conn:
            order, saga_id = await _locked_order(conn, tenant_id, po_number, None)
            if problems := lifecycle.cancel_problems(order):
                raise PermanentError(f"tenant {tenant_id}: cannot cancel: " + "; ".join(problems))
            change = lifecycle.cancel(order, f"{reason} (by {by})")
            await store.save_change(conn, order, change, source="operator", at=now, event_id=None)
            cancelled = OrderCancelled(
                event_id=ids.order_event_id(po_number, tenant_id, "cancelled"),
                tenant_id=tenant_id,
                saga_id=saga_id,
                correlation_id=saga_id,
                occurred_at=now,
                po_number=po_number,
                supplier_id=order.supplier_id,
                reason=reason,
            )
            outgoing = [Outgoing(Topic.PURCHASE_ORDERS, cancelled)]
            await outbox_store.add(conn, outbox, outgoing)
            await audit.record(conn, outgoing=outgoing, at=now, keys=self._audit_keys)
        self._on_commit()
        return change


async def _locked_order(
    conn: AsyncConnection, tenant_id: str, po_number: str, message: Message | None
) -> tuple[Order, UUID]:
    """The order, locked, and the saga that released it, after the tenant's master-data lock (the one
    `bakeplan import` and the live feeds take). Raises `PermanentError` naming what is unknown."""
    what = f"{message.event_type} {message.event_id}" if message is not None else "cancel"
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"tenant_files:{tenant_id}"))))
    if not await md.tenant_exists(conn, tenant_id):
        raise PermanentError(
            f"{what}: unknown tenant {tenant_id!r}; create it (`bakeplan import` or `bakeplan seed`) or fix the "
            "tenant id, then `bakeplan dlq replay`"
        )
    order = await store.load_order(conn, tenant_id, po_number)
    if order is None:
        raise PermanentError(
            f"{what} of tenant {tenant_id}: unknown purchase order {po_number!r}; "
            "`bakeplan orders list --tenant` shows the tenant's orders"
        )
    saga_id = (
        await conn.execute(
            select(purchase_orders.c.saga_id).where(
                purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.po_number == po_number
            )
        )
    ).scalar_one()
    return order, UUID(bytes=saga_id.bytes)


def _refuse(message: Message, problems: list[str]) -> PermanentError:
    shown = problems[:_SHOWN_PROBLEMS]
    more = f"; … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return PermanentError(
        f"{message.event_type} {message.event_id} of tenant {message.tenant_id} not applied: " + "; ".join(shown) + more
    )


async def _ingredients(conn: AsyncConnection, order: Order) -> dict[str, Ingredient]:
    """The order's ingredients as master data has them now (for the shelf life of a lot without expiry)."""
    table = md.ingredients
    rows = await conn.execute(
        select(table).where(
            table.c.tenant_id == order.tenant_id,
            table.c.ingredient_id.in_(sorted({line.ingredient_id for line in order.lines})),
        )
    )
    return {
        r.ingredient_id: Ingredient.model_validate({k: v for k, v in r._mapping.items() if k != "tenant_id"})
        for r in rows
    }


async def _book_receipt(
    conn: AsyncConnection, order: Order, change: Change, event: GoodsReceived, now: datetime
) -> bool:
    """Record the receipt and add its stock lots; False (nothing written) when it was booked before."""
    lots = {lot.lot_id: lot for lot in change.lots}
    booked = [
        {
            "line_id": line.line_id,
            "quantity": lot.quantity,
            "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
            "lot_id": lot.lot_id,
        }
        for line in order.lines
        if (lot := lots.get(lifecycle.lot_id(order.po_number, line.line_no, event.receipt_id))) is not None
    ]
    first = await store.add_receipt(
        conn,
        order,
        receipt_id=event.receipt_id,
        received_at=event.received_at,
        event_id=event.event_id,
        booked=booked,
        at=now,
    )
    if first and change.lots:
        rows = [{"tenant_id": order.tenant_id, **lot.model_dump()} for lot in change.lots]
        await conn.execute(insert(md.stock_lots), rows)
    return first
