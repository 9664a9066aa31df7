"""The procurement worker's second step: releasing a saga's due purchase lines as purchase orders,
the saga's pivot (docs/orders.md).

One transaction per message, as for every step (workers/shell/runtime.py): claim the event id in the
inbox, write the effect, log it, queue the reply and events in the outbox.

- `ReleasePurchaseOrders`: the pure release rule (`workers.purchase_orders.release`) gives the orders;
  they are inserted as `released` with a history row, and each also goes out as `OrderReleased` on
  `Topic.PURCHASE_ORDERS` for the supplier channels, next to the `PurchaseOrdersReleased` reply.
  Order numbers and event ids are deterministic, so a re-run inserts and publishes nothing new.
- `CancelReleasedOrders` (the release timed out, so the saga compensates): the saga's orders still
  `released` are cancelled and `OrderCancelled` goes out; orders a channel already sent are handled
  forward. The compensation is recorded per saga: a re-send changes nothing, and a release command
  that arrives after it releases nothing.
"""

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import ids
from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError, PlanningError
from contracts.messages import StepCompensated, StepFailed
from contracts.purchasing_messages import (
    CancelReleasedOrders,
    OrderCancelled,
    OrderReleased,
    PurchaseOrdersReleased,
    ReleasePurchaseOrders,
)
from contracts.topics import Topic
from infra import tracing
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.outbox import Outgoing
from workers.procurement.tables import effect_log, inbox, outbox
from workers.purchase_orders import store
from workers.purchase_orders.release import release
from workers.purchase_orders.tables import purchase_orders, release_compensations
from workers.shell.binding import check_compensation_id, check_saga_tenant
from workers.shell.runtime import Effect, record_effect, reply_envelope

CONSUMER = "release"
"""The release step's name in the procurement worker's inbox and effect log."""
RELEASE_MESSAGES = (ReleasePurchaseOrders, CancelReleasedOrders)

Handler = Callable[[Message], Coroutine[Any, Any, None]]


class ReleaseWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None],
        dedupe: bool = True,
    ) -> None:
        """`dedupe=False` is the fault suite's mutation switch: redeliveries are handled again."""
        self._engine = engine
        self._clock = clock
        self._on_commit = on_commit
        self._dedupe = dedupe

    async def handle(self, message: Message) -> None:
        now = self._clock()
        async with tracing.transaction(self._engine, "release") as conn:
            claimed = await inbox_store.claim(
                conn,
                inbox,
                consumer=CONSUMER,
                event_id=message.event_id,
                tenant_id=message.tenant_id,
                digest=content_digest(message),
            )
            if not claimed and self._dedupe:
                return
            if message.saga_id is None:
                raise PermanentError(f"{message.event_type} for tenant {message.tenant_id} has no saga_id")
            if isinstance(message, ReleasePurchaseOrders):
                outgoing, effect = await self._release(conn, message, now)
            elif isinstance(message, CancelReleasedOrders):
                check_compensation_id(message, step="release", attempt=message.attempt)
                await check_saga_tenant(conn, effect_log, message)
                outgoing, effect = await self._cancel(conn, message, now)
            else:
                raise PermanentError(f"release does not handle {message.event_type} (tenant {message.tenant_id})")
            await record_effect(
                conn, effect_log, consumer=CONSUMER, step="release", message=message, effect=effect, at=now
            )
            await outbox_store.add(conn, outbox, outgoing)
        self._on_commit()

    async def _release(
        self, conn: AsyncConnection, command: ReleasePurchaseOrders, now: datetime
    ) -> tuple[list[Outgoing], Effect]:
        def failed(reason: str) -> list[Outgoing]:
            reply = StepFailed(step="release", reason=reason, **reply_envelope(command, "failed", now))
            return [Outgoing(Topic.STEP_REPLIES, reply)]

        compensated = (
            await conn.execute(
                select(release_compensations.c.at).where(
                    release_compensations.c.saga_id == command.saga_id,
                    release_compensations.c.tenant_id == command.tenant_id,
                )
            )
        ).first()
        if compensated is not None:
            reason = f"saga {command.saga_id} was compensated at {compensated.at:%Y-%m-%d %H:%M:%S}; nothing released"
            return failed(reason), Effect("run_after_compensation")
        try:
            with tracing.span("plan release"):
                result = release(command)
        except PlanningError as exc:
            return failed(str(exc)), Effect("run")
        numbers = [o.po_number for o in result.orders]
        taken = (
            (
                await conn.execute(
                    select(purchase_orders.c.po_number).where(
                        purchase_orders.c.tenant_id == command.tenant_id,
                        purchase_orders.c.po_number.in_(numbers),
                        purchase_orders.c.saga_id != command.saga_id,
                    )
                )
            )
            .scalars()
            .all()
        )
        if taken:
            reason = (
                f"tenant {command.tenant_id}: order number(s) {', '.join(taken)} already belong to another saga; "
                "nothing released (trigger the plan again to number its orders afresh)"
            )
            return failed(reason), Effect("run")
        assert command.saga_id is not None
        inserted = await store.insert_released(conn, result.orders, saga_id=command.saga_id, at=now)
        reply = PurchaseOrdersReleased(
            purchase_orders=result.orders, held_lines=result.held, **reply_envelope(command, "done", now)
        )
        events = [
            OrderReleased(
                event_id=ids.order_event_id(order.po_number, command.tenant_id, "released"),
                tenant_id=command.tenant_id,
                saga_id=command.saga_id,
                causation_id=command.event_id,
                correlation_id=command.correlation_id,
                occurred_at=now,
                purchase_order=order,
            )
            for order in result.orders
        ]
        outgoing = [Outgoing(Topic.STEP_REPLIES, reply), *(Outgoing(Topic.PURCHASE_ORDERS, e) for e in events)]
        return outgoing, Effect("run", len(inserted))

    async def _cancel(
        self, conn: AsyncConnection, command: CancelReleasedOrders, now: datetime
    ) -> tuple[list[Outgoing], Effect]:
        first = (
            await conn.execute(
                pg_insert(release_compensations)
                .values(saga_id=command.saga_id, tenant_id=command.tenant_id, event_id=command.event_id)
                .on_conflict_do_nothing()
                .returning(release_compensations.c.saga_id)
            )
        ).first()
        cancelled: list[tuple[str, str]] = []
        if first is not None:
            assert command.saga_id is not None
            reason = f"the release of saga {command.saga_id} timed out and the saga was compensated"
            cancelled = await store.cancel_released(
                conn,
                tenant_id=command.tenant_id,
                saga_id=command.saga_id,
                at=now,
                reason=reason,
                event_id=command.event_id,
            )
        done = StepCompensated(
            step="release", affected_rows=len(cancelled), **reply_envelope(command, "compensated", now)
        )
        outgoing = [Outgoing(Topic.STEP_REPLIES, done)]
        for po_number, supplier_id in cancelled:
            event = OrderCancelled(
                event_id=ids.order_event_id(po_number, command.tenant_id, "cancelled"),
                tenant_id=command.tenant_id,
                saga_id=command.saga_id,
                causation_id=command.event_id,
                correlation_id=command.correlation_id,
                occurred_at=now,
                po_number=po_number,
                supplier_id=supplier_id,
                reason="the release timed out and its saga was compensated",
            )
            outgoing.append(Outgoing(Topic.PURCHASE_ORDERS, event))
        return outgoing, Effect("compensate" if first is not None else "compensate_again", len(cancelled))


def route(release_worker: ReleaseWorker, planning: Handler) -> Handler:
    """The procurement commands topic's handler: release commands to the release step, the rest
    (planning, voiding, plan outcomes) to the planning step's worker."""

    async def handle(message: Message) -> None:
        if isinstance(message, RELEASE_MESSAGES):
            await release_worker.handle(message)
        else:
            await planning(message)

    return handle
