"""The simulation's world as an outside system against the live stack (`bakeplan world`, docs/world.md).

The same world as the offline simulation (true demand, lots, shipments, suppliers' lateness) lives
next to the real processes and talks to them only as a bakery's systems and its suppliers would: the
days pass on the clock file it writes; each morning goods-in books what arrived, the closed day's
sales and a full stock count go out on the feeds topic, then the day's trigger; the released orders
reach it through the suppliers' file-drop channel, and it ships their lines with the lead time and
lateness the offline simulation draws; then the day's true demand is made from the lots. The ledger
is the offline simulation's, so the figures sit next to `bakeplan simulate` with the same seed.
"""

import asyncio
import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from bakeplan.roles.clock import set_clock
from contracts.envelope import Message
from contracts.ids import daily_trigger_id, saga_id_for_trigger
from contracts.messages import (
    CountedLot,
    MasterDataChanged,
    PlanningRequested,
    SalesDayClosed,
    SoldLine,
    StockCounted,
)
from contracts.planning import PlanningSnapshot
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import GoodsReceived, OrderConfirmed, ReceivedLine
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from lab.seed import write_tenant
from lab.simulation.live import LiveTenant, lot_id, tenant_data
from lab.simulation.simulator import make_to_demand
from lab.simulation.world import Order, delivery_dates
from orchestrator.tables import inbox as orchestrator_inbox
from orchestrator.tables import sagas, snapshots
from workers.procurement.channels.documents import file_stem
from workers.procurement.channels.tables import po_deliveries
from workers.purchase_orders.tables import purchase_orders

MORNING = time(4, 0)  # UTC: the world's morning, before any supplier's cut-off in the tenant's day
_NAMESPACE = uuid5(UUID(int=0), "bakeplan-world")
TERMINAL = ("COMPLETED", "COMPENSATED", "FAILED")


class WorldError(RuntimeError):
    """The live system did not do what the world waited for (a plan, a booking) in time."""


class LiveWorld:
    """Drives the live stack through the days of `tenants` (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        tenants: Sequence[LiveTenant],
        *,
        clock_file: Path,
        drop_root: Path,
        timeout_s: float = 180.0,
        progress: Callable[[date], None] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._tenants = list(tenants)
        self._clock_file = clock_file
        self._drop_root = drop_root
        self._timeout_s = timeout_s
        self._progress = progress
        self._producer: AIOKafkaProducer | None = None
        self._now = datetime.now(UTC)

    async def seed(self, *, name_prefix: str = "World bakery", time_zone: str = "UTC") -> None:
        """Write each tenant as it is on the first morning (`tenant_data`)."""
        async with self._engine.begin() as conn:
            for n, tenant in enumerate(self._tenants, start=1):
                data = tenant_data(tenant.truth, tenant.world, name=f"{name_prefix} {n}", time_zone=time_zone)
                await write_tenant(conn, data)

    async def run(self, days: int) -> None:
        await ensure_topics(self._settings, Principal.EXTERNAL, (Topic.TRIGGERS, Topic.FEEDS, Topic.PURCHASING_EVENTS))
        self._producer = new_producer(self._settings, Principal.EXTERNAL, enable_idempotence=True, acks="all")
        await self._producer.start()
        try:
            start = self._tenants[0].truth.start
            for offset in range(days):
                day = start + timedelta(days=offset)
                self._now = datetime.combine(day, MORNING, UTC)
                set_clock(self._clock_file, self._now)
                for tenant in self._tenants:
                    await self._day(tenant, day)
                if self._progress is not None:
                    self._progress(day)
        finally:
            await self._producer.stop()

    async def _send(self, topic: Topic, message: Message) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            self._settings.topic(topic),
            encode(message),
            key=message.tenant_id.encode(),
            headers=[("event_type", message.event_type.encode())],
        )

    def _id(self, *parts: object) -> UUID:
        return uuid5(_NAMESPACE, ":".join(str(p) for p in parts))

    async def _day(self, tenant: LiveTenant, day: date) -> None:
        truth, world, ledger, terms = tenant.truth, tenant.world, tenant.ledger, tenant.terms
        ledger.expired(world.write_off(day), terms.perishable)
        arrived = world.receive(day)
        for shipment in arrived:
            order = shipment.order
            ledger.received(
                order.ingredient_id,
                order.quantity * order.unit_price,
                perishable=order.ingredient_id in terms.perishable,
            )
        await self._book(tenant, day, arrived)
        await self._feed(tenant, day)
        saga_id = await self._plan(tenant, day)
        orders = await self._receive_orders(tenant, day, saga_id)
        suppliers = sorted({order.supplier_id for order, _, _ in orders})
        ledger.ordered(len(suppliers), sum(terms.suppliers[s].order_cost for s in suppliers))
        make_to_demand(truth, world, ledger, day)

    async def _book(self, tenant: LiveTenant, day: date, arrived: Sequence[Any]) -> None:
        """Goods-in books what arrived: a receipt per released order, a removal per order of before the run."""
        by_order: dict[str, list[ReceivedLine]] = {}
        removals = []
        life = {i.ingredient_id: i.shelf_life_days for i in tenant.truth.ingredients}
        for shipment in arrived:
            if shipment.order_id in tenant.before_run:
                removals.append(shipment.order_id)
                continue
            po_number, line_id = tenant.shipped.pop(shipment.order_id)
            days = life[shipment.order.ingredient_id]
            by_order.setdefault(po_number, []).append(
                ReceivedLine(
                    line_id=line_id,
                    quantity=shipment.order.quantity,
                    expires_on=None if days is None else day + timedelta(days=days),
                )
            )
        tid = tenant.truth.tenant_id
        for po_number, lines in sorted(by_order.items()):
            await self._send(
                Topic.PURCHASING_EVENTS,
                GoodsReceived(
                    event_id=self._id(tid, po_number, day, "received"),
                    tenant_id=tid,
                    occurred_at=self._now,
                    po_number=po_number,
                    receipt_id=f"DN{day:%Y%m%d}",
                    received_at=self._now,
                    lines=tuple(lines),
                ),
            )
        for order_id in removals:
            await self._send(
                Topic.FEEDS,
                MasterDataChanged(
                    event_id=self._id(tid, order_id, "arrived"),
                    tenant_id=tid,
                    occurred_at=self._now,
                    entity="open_purchase_orders",
                    operation="remove",
                    row={"order_id": order_id},
                ),
            )
        if by_order:
            await self._until(lambda: self._all_received(tid, sorted(by_order)), f"{tid}: receipts of {day} booked")

    async def _all_received(self, tenant_id: str, po_numbers: list[str]) -> bool:
        async with self._engine.connect() as conn:
            open_ = await conn.scalar(
                select(func.count())
                .select_from(purchase_orders)
                .where(
                    purchase_orders.c.tenant_id == tenant_id,
                    purchase_orders.c.po_number.in_(po_numbers),
                    purchase_orders.c.status.not_in(("received", "cancelled")),
                )
            )
        return open_ == 0

    async def _feed(self, tenant: LiveTenant, day: date) -> None:
        """Yesterday's closed sales and this morning's full count; returns once the count is applied."""
        truth, tid = tenant.truth, tenant.truth.tenant_id
        yesterday = day - timedelta(days=1)
        index = truth.day_index(yesterday)
        sold = [
            SoldLine(product_id=p.product_id, units=int(units))
            for p in truth.products
            if (units := truth.demand[p.product_id][index]) is not None
        ]
        if sold:
            await self._send(
                Topic.FEEDS,
                SalesDayClosed(
                    event_id=self._id(tid, yesterday, "sales"),
                    tenant_id=tid,
                    occurred_at=self._now,
                    store_id="main",
                    business_date=yesterday,
                    lines=tuple(sold),
                    closed_at=self._now,
                ),
            )
        count = StockCounted(
            event_id=self._id(tid, day, "count"),
            tenant_id=tid,
            occurred_at=self._now,
            counted_at=self._now,
            lots=tuple(
                CountedLot(
                    lot_id=lot_id(lot.lot_id),
                    ingredient_id=lot.ingredient_id,
                    quantity=lot.quantity,
                    expires_on=lot.expires_on,
                )
                for lot in tenant.world.stock_lots()
                if lot.quantity > 0
            ),
        )
        await self._send(Topic.FEEDS, count)
        await self._until(lambda: self._claimed(count.event_id), f"{tid}: the stock count of {day} applied")

    async def _claimed(self, event_id: UUID) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(func.count()).select_from(orchestrator_inbox).where(orchestrator_inbox.c.event_id == event_id)
            )
        return bool(found)

    async def _plan(self, tenant: LiveTenant, day: date) -> UUID:
        tid = tenant.truth.tenant_id
        trigger = PlanningRequested(
            event_id=daily_trigger_id(tid, day),
            tenant_id=tid,
            occurred_at=self._now,
            business_date=day,
            source="external",
            requested_by="world",
        )
        await self._send(Topic.TRIGGERS, trigger)
        saga_id = saga_id_for_trigger(trigger.event_id)
        status = await self._until(lambda: self._terminal(saga_id), f"{tid}: the plan of {day}")
        if status != "COMPLETED":
            raise WorldError(f"{tid}: the plan of {day} ended {status} (saga {saga_id}); see `bakeplan show {saga_id}`")
        tenant.sagas.append(saga_id)
        await self._check_supply(tenant, saga_id)
        return saga_id

    async def _terminal(self, saga_id: UUID) -> str | None:
        async with self._engine.connect() as conn:
            status = await conn.scalar(select(sagas.c.status).where(sagas.c.saga_id == saga_id))
        return status if status in TERMINAL else None

    async def _check_supply(self, tenant: LiveTenant, saga_id: UUID) -> None:
        """Every released line not yet received must be supply in the plan's snapshot."""
        async with self._engine.connect() as conn:
            body = await conn.scalar(
                select(snapshots.c.body)
                .join(sagas, sagas.c.snapshot_sha256 == snapshots.c.sha256)
                .where(sagas.c.saga_id == saga_id)
            )
        if body is None:
            raise WorldError(f"saga {saga_id} has no snapshot")
        snapshot = PlanningSnapshot.model_validate_json(body)
        counted = {o.order_id for o in snapshot.open_purchase_orders}
        for po_number, line_id in tenant.shipped.values():
            if f"po:{po_number}/{line_id}" not in counted:
                tenant.uncounted_supply += 1

    async def _receive_orders(self, tenant: LiveTenant, day: date, saga_id: UUID) -> list[tuple[Order, str, str]]:
        """The saga's released orders as their suppliers got them (the dropped CSV files); each line shipped."""
        tid = tenant.truth.tenant_id
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(purchase_orders.c.po_number, purchase_orders.c.document).where(
                        purchase_orders.c.tenant_id == tid, purchase_orders.c.saga_id == saga_id
                    )
                )
            ).all()
        released = [PurchaseOrder.model_validate(row.document, strict=False) for row in rows]
        numbers = [order.po_number for order in released]
        await self._until(lambda: self._all_sent(tid, numbers), f"{tid}: the orders of {day} sent")
        open_lines = {
            (s.order.ingredient_id, s.order.delivery_date)
            for s in tenant.world.in_flight()
            if s.order_id in tenant.shipped
        }
        shipped: list[tuple[Order, str, str]] = []
        for po in released:
            rows_ = _read_drop(self._drop_root / tid / po.supplier_id / f"{file_stem(po)}.csv")
            supplier = tenant.terms.suppliers[po.supplier_id]
            moved: date | None = None
            for row, line in zip(rows_, po.lines, strict=True):
                order = Order(
                    supplier_id=row["supplier_id"],
                    ingredient_id=row["ingredient_id"],
                    quantity=float(row["quantity"]),
                    unit_price=float(row["unit_price"]),
                    delivery_date=date.fromisoformat(row["delivery_date"]),
                )
                if (order.ingredient_id, order.delivery_date) in open_lines:
                    tenant.repeat_lines += 1
                planned, arrives = delivery_dates(
                    order,
                    supplier,
                    lead_time_days=tenant.terms.lead_times[order.supplier_id, order.ingredient_id],
                    ordered_on=day,
                    seed=tenant.seed,
                )
                if planned != order.delivery_date:
                    moved = planned
                shipment = tenant.world.place(order, ordered_on=day, planned_on=planned, arrives_on=arrives)
                tenant.shipped[shipment.order_id] = (po.po_number, line.line_id)
                shipped.append((order, po.po_number, line.line_id))
            if moved is not None:
                await self._send(
                    Topic.PURCHASING_EVENTS,
                    OrderConfirmed(
                        event_id=self._id(tid, po.po_number, "confirmed"),
                        tenant_id=tid,
                        occurred_at=self._now,
                        po_number=po.po_number,
                        confirmed_at=self._now,
                        delivery_date=moved,
                    ),
                )
        tenant.released += len(released)
        tenant.lines += len(shipped)
        return shipped

    async def _all_sent(self, tenant_id: str, po_numbers: list[str]) -> bool:
        if not po_numbers:
            return True
        async with self._engine.connect() as conn:
            sent = await conn.scalar(
                select(func.count())
                .select_from(po_deliveries)
                .where(
                    po_deliveries.c.tenant_id == tenant_id,
                    po_deliveries.c.po_number.in_(po_numbers),
                    po_deliveries.c.status == "sent",
                )
            )
        return sent == len(po_numbers)

    async def sent_once(self, tenant: LiveTenant) -> int:
        """Orders of the run recorded sent exactly once, on exactly one channel."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(po_deliveries.c.po_number, func.count(), func.sum(po_deliveries.c.sends))
                    .where(po_deliveries.c.tenant_id == tenant.truth.tenant_id, po_deliveries.c.status == "sent")
                    .group_by(po_deliveries.c.po_number)
                )
            ).all()
        return sum(1 for _, channels, sends in rows if channels == 1 and sends == 1)

    async def _until(self, check: Callable[[], Any], what: str) -> Any:
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        while True:
            found = await check()
            if found:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise WorldError(f"waited {self._timeout_s:.0f} s for {what}; is `bakeplan serve --role all` running?")
            await asyncio.sleep(0.1)


def _read_drop(path: Path) -> list[dict[str, str]]:
    """The rows of a dropped purchase-order CSV (docs/channels.md)."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
