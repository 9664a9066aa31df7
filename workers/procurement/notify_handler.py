"""The bakery's notifications: a ready plan's summary, a failed saga, an order that could not be sent,
each sent to the tenant's own target (`procurement.tenant_notifications`, `bakeplan notify set`), at
least once on the wire and exactly once in the record (docs/channels.md, "Notifications").

`NotificationWorker.handle` consumes `Topic.PLANS` and `Topic.ALERTS` (consumer `channels-notifications`,
in the `bakeplan serve --role channels` process), like `send_handler` in three steps:

1. One transaction: skip an event the inbox already holds; read the tenant's target and, for a
   `PlanReady`, the plan's summary from the procurement schema (the saga's purchase orders and purchase
   lines). A tenant without a target: the event is claimed, logged at INFO, and nothing is sent.
2. The send, with no transaction open: `Sender.notify` retries transient failures with backoff.
3. One transaction: claim the event in the inbox and log the effect (`sent` or `send_failed`).

A process killed between 2 and 3 sends the notice again; the bakery's side drops the repeat by the
Message-ID or the Idempotency-Key, both the event's id. A send that fails after its retries is logged at
ERROR and counted (`bakeplan_notifications_total{outcome="send_failed"}`), and the event is claimed:
a notification is never worth a crash loop. `PlanCompensated` and `OperationsAlert` are not sent (the
first is the operator's business, the second the monitoring's); they are skipped without a record.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.messages import PlanReady, SagaFailedAlert
from contracts.purchasing_messages import OrderSendFailed
from infra import tracing
from infra.messaging import inbox as inbox_store
from workers.procurement.channels.config import TenantNotifications
from workers.procurement.channels.directory import notifications_of
from workers.procurement.channels.notices import Notice, PlanSummary, alert_notice, plan_ready_notice, summarise
from workers.procurement.channels.sending import SendOutcome
from workers.procurement.tables import effect_log, inbox, purchase_lines
from workers.purchase_orders.tables import purchase_orders
from workers.shell.runtime import Effect, record_effect

log = logging.getLogger(__name__)

NOTIFY_CONSUMER = "channels-notifications"
"""The notifications' name in the procurement schema's inbox and effect log, and their consumer group
(it starts with `channels`, so the channels principal's group ACL covers it)."""

Notify = Callable[[Notice, TenantNotifications], Awaitable[SendOutcome]]
Count = Callable[[str, str], None]
"""(notice kind, outcome): outcome is `sent`, `send_failed` or `no_target`."""


def _uncounted(kind: str, outcome: str) -> None:
    return None


class NotificationWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        notify: Notify,
        clock: Callable[[], datetime],
        count: Count = _uncounted,
        dedupe: bool = True,
    ) -> None:
        """`notify` is `Sender.notify`; `count` feeds the metric; `dedupe=False` is a mutation switch."""
        self._engine = engine
        self._notify = notify
        self._clock = clock
        self._count = count
        self._dedupe = dedupe

    async def handle(self, message: Message) -> None:
        if not isinstance(message, PlanReady | SagaFailedAlert | OrderSendFailed):
            return  # PlanCompensated, OperationsAlert: not the bakery's notifications
        async with tracing.transaction(self._engine, "channels") as conn:
            if self._dedupe and await _seen(conn, message):
                return
            target = await _target_of(conn, message)
            if target is None:
                await _claim(conn, message)
                await self._effect(conn, message, "no_target")
                notice = None
            else:
                notice = await _notice_of(conn, message)
        if target is None or notice is None:
            self._count(_kind_of(message), "no_target")
            log.info(
                "tenant %s: no notification target; %s %s not sent (set one with `bakeplan notify set`)",
                message.tenant_id,
                message.event_type,
                message.event_id,
            )
            return
        with tracing.span("notify the bakery"):
            outcome = await self._notify(notice, target)
        async with tracing.transaction(self._engine, "channels") as conn:
            claimed = await _claim(conn, message)
            if not claimed and self._dedupe:
                return  # another replica recorded it (its send reached the bakery too: the bakery dedupes)
            await self._effect(conn, message, outcome.status.value)
        self._count(notice.kind, outcome.status.value)
        if outcome.sent:
            log.info("tenant %s: %s notice sent by %s (%s)", notice.tenant_id, notice.kind, target.describe(),
                     outcome.receipt)  # fmt: skip
            return
        log.error(
            "tenant %s: %s notice %s could not be sent by %s after %d attempt(s): %s",
            notice.tenant_id,
            notice.kind,
            notice.event_id,
            target.describe(),
            outcome.attempts,
            outcome.last_error,
            extra={"tenant_id": message.tenant_id, "saga_id": str(message.saga_id), "event_id": str(message.event_id)},
        )

    async def _effect(self, conn: AsyncConnection, message: Message, kind: str) -> None:
        await record_effect(
            conn, effect_log, consumer=NOTIFY_CONSUMER, step="notify", message=message, effect=Effect(kind),
            at=self._clock(),
        )  # fmt: skip


def _kind_of(message: PlanReady | SagaFailedAlert | OrderSendFailed) -> str:
    if isinstance(message, PlanReady):
        return "plan_ready"
    return "saga_failed" if isinstance(message, SagaFailedAlert) else "order_send_failed"


async def _notice_of(conn: AsyncConnection, message: PlanReady | SagaFailedAlert | OrderSendFailed) -> Notice:
    if isinstance(message, PlanReady):
        return plan_ready_notice(message, await plan_summary(conn, message))
    return alert_notice(message)


async def plan_summary(conn: AsyncConnection, message: PlanReady) -> PlanSummary:
    """The plan's purchasing from the procurement schema: the orders its release placed, its purchase
    lines (late, expected waste); the waste is valued in the orders' currency, else the tenant's last one."""
    tenant, saga = message.tenant_id, message.saga_id
    orders = (
        await conn.execute(
            select(purchase_orders.c.currency, purchase_orders.c.total)
            .where(purchase_orders.c.tenant_id == tenant, purchase_orders.c.saga_id == saga)
            .order_by(purchase_orders.c.po_number)
        )
    ).all()
    lines = (
        await conn.execute(
            select(purchase_lines.c.late, purchase_lines.c.unit_price, purchase_lines.c.reasoning).where(
                purchase_lines.c.tenant_id == tenant, purchase_lines.c.saga_id == saga
            )
        )
    ).all()
    fallback = ""
    if not orders:
        fallback = (
            await conn.execute(
                select(purchase_orders.c.currency)
                .where(purchase_orders.c.tenant_id == tenant)
                .order_by(purchase_orders.c.released_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none() or ""
    return summarise(
        message.business_date,
        [(o.currency, o.total) for o in orders],
        [(line.late, line.unit_price, line.reasoning) for line in lines],
        fallback_currency=fallback,
    )


async def _target_of(conn: AsyncConnection, message: Message) -> TenantNotifications | None:
    """The tenant's target; None when it has none. A stored target that no longer validates is refused
    (the event is parked with the reason), never sent to."""
    try:
        found = await notifications_of(conn, message.tenant_id)
    except ValueError as exc:
        raise PermanentError(f"{exc}; set it again with `bakeplan notify set`, then `bakeplan dlq replay`") from exc
    return found[0] if found else None


async def _seen(conn: AsyncConnection, message: Message) -> bool:
    found = await conn.execute(
        select(inbox.c.event_id).where(
            inbox.c.consumer == NOTIFY_CONSUMER,
            inbox.c.event_id == message.event_id,
            inbox.c.tenant_id.in_((message.tenant_id, inbox_store.LEGACY_TENANT)),
        )
    )
    return found.first() is not None


async def _claim(conn: AsyncConnection, message: Message) -> bool:
    """The inbox claim, bound to the message's tenant and content (docs/security.md, "Tenant binding")."""
    return await inbox_store.claim(
        conn,
        inbox,
        consumer=NOTIFY_CONSUMER,
        event_id=message.event_id,
        tenant_id=message.tenant_id,
        digest=content_digest(message),
    )
