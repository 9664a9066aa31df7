"""The supplier channels' consumer: each released purchase order sent to its supplier, at least once on
the wire and exactly once in the record (docs/channels.md, "Wiring").

`ChannelWorker.handle` consumes `Topic.PURCHASE_ORDERS` (consumer `channels`, in the `bakeplan
serve --role channels` process). For an `OrderReleased`:

1. **Before the send**, one transaction: skip an event the inbox already holds; read the order's status
   and its supplier's channel (`procurement.supplier_channels`); record the delivery `sending`
   (`Deliveries.begin`). An order that is no longer `released` (cancelled, or sent by an earlier
   event) is not sent: the inbox claims the event and that is all.
2. **The send**, with no transaction open: `Sender.send` retries transient failures with backoff
   (each attempt bounded by its timeout) and returns `sent` or `send_failed`.
3. **After the send**, one transaction: claim the event in the inbox, record the outcome
   (`Deliveries.record`, which never overwrites `sent`) and, when this transaction changed the record,
   move the order through the lifecycle code with source `channel`: `released → sent`, or
   `released → send_failed` with an `OrderSendFailed` alert queued in the outbox. Only then is the
   Kafka offset committed.

A process killed between 2 and 3 leaves the delivery `sending`, the inbox without the event and the
offset uncommitted: the event comes again, the order is sent again, and the supplier drops the repeat
by the PO number (the Idempotency-Key, the Message-ID, the file name). The record and the order's
history say `sent` once. A supplier without a channel is a permanent failure: `send_failed` and the
alert at once, nothing sent. `OrderCancelled` is claimed and logged: an order cancelled before its
send is not sent (step 1 reads the status), and telling a supplier of a cancellation is not built yet.

The send runs inside the Kafka handler, so its worst case (attempts × timeout + waits) must stay below
`BAKEPLAN_MAX_POLL_INTERVAL_MS`; `worst_case_seconds` says it and the composition root checks it.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid5

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import ids
from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import OrderCancelled, OrderReleased, OrderSendFailed, OrderSent
from contracts.topics import Topic
from infra import tracing
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.outbox import Outgoing
from workers.procurement.channels.config import SupplierChannel
from workers.procurement.channels.deliveries import Delivery, DeliveryKey
from workers.procurement.channels.directory import channel_of
from workers.procurement.channels.postgres import PostgresDeliveries
from workers.procurement.channels.sending import DeliveryStatus, SendOutcome
from workers.procurement.tables import effect_log, inbox, outbox
from workers.purchase_orders import lifecycle, store
from workers.purchase_orders.lifecycle import Order
from workers.purchase_orders.tables import purchase_orders
from workers.shell.runtime import Effect, record_effect

log = logging.getLogger(__name__)

CONSUMER = "channels"
"""The channels' name in the procurement schema's inbox and effect log, and their consumer group."""
AFTER_SEND = "channels.after_send"
"""The crash point between a send and its record (infra/crash_points.py)."""

Send = Callable[[PurchaseOrder, SupplierChannel], Awaitable[SendOutcome]]


@dataclass(frozen=True)
class _Plan:
    """What step 1 decided: send on `channel`, or `done` (nothing to send; the event is claimed)."""

    channel: SupplierChannel | None = None
    done: bool = False


class ChannelWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        send: Send,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None],
        crash_points: CrashPoints = DISARMED,
        dedupe: bool = True,
    ) -> None:
        """`send` is `Sender.send`; `dedupe=False` is the fault suite's mutation switch."""
        self._engine = engine
        self._send = send
        self._clock = clock
        self._on_commit = on_commit
        self._crash_points = crash_points
        self._dedupe = dedupe

    async def handle(self, message: Message) -> None:
        if isinstance(message, OrderCancelled):
            await self._cancelled(message)
            return
        if not isinstance(message, OrderReleased):
            raise PermanentError(f"the channels do not handle {message.event_type} (tenant {message.tenant_id})")
        order = message.purchase_order
        if order.tenant_id != message.tenant_id:
            raise PermanentError(
                f"{message.event_type} {message.event_id} of tenant {message.tenant_id} carries PO {order.po_number} "
                f"of tenant {order.tenant_id}; refused"
            )
        plan = await self._before_send(message, order)
        if plan.done:
            return
        channel = plan.channel
        if channel is None:
            outcome = SendOutcome(
                DeliveryStatus.SEND_FAILED,
                attempts=0,
                last_error=(
                    f"supplier {order.supplier_id} ({order.supplier_name}) of tenant {order.tenant_id} has no channel; "
                    "configure one with `bakeplan channels set`, then `bakeplan orders resend`"
                ),
                permanent=True,
            )
        else:
            with tracing.span("deliver purchase order", {"bakeplan.channel": channel.kind}):
                outcome = await self._send(order, channel)
            self._crash_points.hit(AFTER_SEND)
        await self._after_send(message, order, channel, outcome)

    async def _before_send(self, message: OrderReleased, order: PurchaseOrder) -> _Plan:
        now = self._clock()
        async with tracing.transaction(self._engine, "channels") as conn:
            if self._dedupe and await _seen(conn, message):
                return _Plan(done=True)
            status = (
                await conn.execute(
                    select(purchase_orders.c.status).where(
                        purchase_orders.c.tenant_id == order.tenant_id, purchase_orders.c.po_number == order.po_number
                    )
                )
            ).scalar_one_or_none()
            if status is None:
                raise PermanentError(
                    f"{message.event_type} {message.event_id}: tenant {order.tenant_id} has no purchase order "
                    f"{order.po_number}; `bakeplan orders list --tenant {order.tenant_id}` shows its orders"
                )
            if status != "released":
                # cancelled before its send, or sent (confirmed, …) by an earlier event: not sent again
                await _claim(conn, message)
                await self._effect(conn, message, "not_sent", now)
                log.info("tenant %s: PO %s is %s; not sent", order.tenant_id, order.po_number, status)
                return _Plan(done=True)
            channel = await _channel_of(conn, order)
            if channel is None:
                return _Plan()
            begun = await PostgresDeliveries(conn).begin(DeliveryKey.of(order, channel), channel=channel, at=now)
            if not begun.changed:
                # the record says sent, the order is still `released`: the lifecycle catches up, nothing is sent
                await _claim(conn, message)
                await self._move(conn, message, order, begun.delivery, now)
                await self._effect(conn, message, "already_sent", now)
                return _Plan(done=True)
        return _Plan(channel=channel)

    async def _after_send(
        self, message: OrderReleased, order: PurchaseOrder, channel: SupplierChannel | None, outcome: SendOutcome
    ) -> None:
        now = self._clock()
        outgoing: list[Outgoing] = []
        async with tracing.transaction(self._engine, "channels") as conn:
            claimed = await _claim(conn, message)
            if not claimed and self._dedupe:
                return  # another replica recorded this event's send (ours reached the supplier too: it dedupes)
            if channel is None:
                outgoing = await self._failed(conn, message, order, "no channel", outcome, sends=0, now=now)
                kind = "send_failed"
            else:
                recorded = await PostgresDeliveries(conn).record(
                    DeliveryKey.of(order, channel), outcome, channel=channel, at=now
                )
                delivery = recorded.delivery
                kind = delivery.status.value if recorded.changed else "recorded_before"
                if recorded.changed:
                    outgoing = await self._move(conn, message, order, delivery, now)
            await self._effect(conn, message, kind, now)
            await outbox_store.add(conn, outbox, outgoing)
        if outgoing:
            self._on_commit()
        (log.debug if outcome.sent else log.warning)(
            "tenant %s: PO %s to %s: %s after %d attempt(s)%s",
            order.tenant_id,
            order.po_number,
            channel.describe() if channel else "no channel",
            outcome.status.value,
            outcome.attempts,
            f" ({outcome.receipt or outcome.last_error})",
        )

    async def _move(
        self, conn: AsyncConnection, message: OrderReleased, order: PurchaseOrder, delivery: Delivery, now: datetime
    ) -> list[Outgoing]:
        """The order's lifecycle after a recorded delivery: `sent`, or `send_failed` and its alert."""
        if delivery.status is DeliveryStatus.SENT:
            current = await _locked(conn, order)
            assert delivery.sent_at is not None
            sent = OrderSent(
                event_id=uuid5(message.event_id, "sent"),
                tenant_id=order.tenant_id,
                saga_id=message.saga_id,
                causation_id=message.event_id,
                correlation_id=message.correlation_id,
                occurred_at=now,
                po_number=order.po_number,
                sent_at=delivery.sent_at,
                channel=delivery.channel_kind,
                note=f"{delivery.target}; {delivery.receipt or ''}"[:500],
            )
            change = lifecycle.mark_sent(current, sent)
            await store.save_change(conn, current, change, source="channel", at=now, event_id=message.event_id)
            return []
        outcome = SendOutcome(
            DeliveryStatus.SEND_FAILED,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            permanent=delivery.permanent,
        )
        return await self._failed(conn, message, order, delivery.target, outcome, sends=delivery.sends, now=now)

    async def _failed(
        self,
        conn: AsyncConnection,
        message: OrderReleased,
        order: PurchaseOrder,
        target: str,
        outcome: SendOutcome,
        *,
        sends: int,
        now: datetime,
    ) -> list[Outgoing]:
        current = await _locked(conn, order)
        error = outcome.last_error or "unknown error"
        change = lifecycle.mark_send_failed(current, channel=target, attempts=outcome.attempts, error=error)
        await store.save_change(conn, current, change, source="channel", at=now, event_id=message.event_id)
        alert = OrderSendFailed(
            event_id=ids.order_event_id(order.po_number, order.tenant_id, f"send_failed:{message.event_id}:{sends}"),
            tenant_id=order.tenant_id,
            saga_id=message.saga_id,
            causation_id=message.event_id,
            correlation_id=message.correlation_id,
            occurred_at=now,
            po_number=order.po_number,
            supplier_id=order.supplier_id,
            supplier_name=order.supplier_name,
            channel=target[:300],
            attempts=outcome.attempts,
            permanent=outcome.permanent,
            reason=error[:2000],
        )
        log.error(
            "tenant %s: PO %s to %s could not be sent (%s): %s",
            order.tenant_id,
            order.po_number,
            order.supplier_name,
            target,
            error,
            extra={"tenant_id": order.tenant_id, "saga_id": str(message.saga_id), "event_id": str(message.event_id)},
        )
        return [Outgoing(Topic.ALERTS, alert)]

    async def _cancelled(self, message: OrderCancelled) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            claimed = await _claim(conn, message)
            if not claimed and self._dedupe:
                return
            await self._effect(conn, message, "cancelled", now)
        log.info("tenant %s: PO %s cancelled (%s)", message.tenant_id, message.po_number, message.reason)

    async def _effect(self, conn: AsyncConnection, message: Message, kind: str, now: datetime) -> None:
        await record_effect(
            conn, effect_log, consumer=CONSUMER, step="send", message=message, effect=Effect(kind), at=now
        )


async def _seen(conn: AsyncConnection, message: Message) -> bool:
    found = await conn.execute(
        select(inbox.c.event_id).where(
            inbox.c.consumer == CONSUMER,
            inbox.c.event_id == message.event_id,
            inbox.c.tenant_id.in_((message.tenant_id, inbox_store.LEGACY_TENANT)),
        )
    )
    return found.first() is not None


async def _locked(conn: AsyncConnection, order: PurchaseOrder) -> Order:
    current = await store.load_order(conn, order.tenant_id, order.po_number)
    if current is None:  # deleted while it was being sent: only a tenant's removal does that
        raise PermanentError(f"tenant {order.tenant_id}: purchase order {order.po_number} is gone")
    return current


async def _channel_of(conn: AsyncConnection, order: PurchaseOrder) -> SupplierChannel | None:
    """The supplier's channel; None when it has none. A stored channel that no longer validates is
    refused (the event is parked with the reason), never sent on."""
    try:
        return await channel_of(conn, order.tenant_id, order.supplier_id)
    except ValueError as exc:
        raise PermanentError(f"{exc}; set it again with `bakeplan channels set`, then `bakeplan dlq replay`") from exc


def worst_case_seconds(attempts: int, timeout_seconds: float, backoff_max_seconds: float, base_seconds: float) -> float:
    """The longest one send can take: every attempt timing out, every wait at its ceiling."""
    waits = sum(min(backoff_max_seconds, base_seconds * 2.0 ** (n - 1)) for n in range(1, attempts))
    return attempts * timeout_seconds + waits


async def _claim(conn: AsyncConnection, message: Message) -> bool:
    """The inbox claim, bound to the message's tenant and content (docs/security.md, "Tenant binding")."""
    return await inbox_store.claim(
        conn,
        inbox,
        consumer=CONSUMER,
        event_id=message.event_id,
        tenant_id=message.tenant_id,
        digest=content_digest(message),
    )
