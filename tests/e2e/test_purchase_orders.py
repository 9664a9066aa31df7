"""Purchase orders on the real stack (Kafka, Postgres, `bakeplan serve` processes): two consecutive daily
plans of one tenant, where day 2 orders nothing day 1 released; the orders on the supplier channels'
topic; what comes back (sent, received) applied exactly once from its topic, bad events parked; and a
delivery teaching the next plan its supplier's lead time (docs/learning.md)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import ProcurementPlanned
from contracts.planning import PlanningSnapshot
from contracts.purchasing_messages import GoodsReceived, OrderReleased, OrderSent, PurchaseOrdersReleased, ReceivedLine
from contracts.topics import Topic
from infra.messaging.codec import decode, encode
from infra.settings import Settings
from orchestrator import masterdata as md
from orchestrator.tables import sagas, snapshots, step_results
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, publish, read_topic, seed, trigger, wait_terminal
from tests.purchase_order_checks import assert_counted_as_supply, assert_no_need_ordered_twice, released_lines
from workers.purchase_orders.tables import purchase_order_history, purchase_orders

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class TwoDays:
    tenant_id: str
    saga_ids: tuple[UUID, UUID]
    plans: tuple[ProcurementPlanned, ProcurementPlanned]
    releases: tuple[PurchaseOrdersReleased, PurchaseOrdersReleased]
    second_snapshot: PlanningSnapshot


async def _reply(engine: AsyncEngine, saga_id: UUID, step: str) -> Any:
    async with engine.connect() as conn:
        payload = (
            await conn.execute(
                select(step_results.c.payload).where(step_results.c.saga_id == saga_id, step_results.c.step == step)
            )
        ).scalar_one()
    return decode(payload)


@pytest.fixture(scope="module")
async def two_days(settings: Settings, engine: AsyncEngine, processes: Processes) -> TwoDays:
    """One tenant planned on two consecutive business dates. Its suppliers take orders at any hour, so
    what is due is released whenever the test runs (the synthetic cut-offs are 10:00–18:00 local)."""
    tenant_id = f"o{uuid4().hex[:8]}-orders"
    # a cold store, so the first morning orders. The same bakery on every run: "no need ordered twice"
    # holds when the next plan's demand over the days an order covers is not higher than the plan that
    # ordered them; about 1 in 400 drawn bakeries has lumpy batches that raise it, and its next plan
    # rightly orders more (docs/orders.md)
    await seed(engine, tenant_id, cold=True, drawn_as="release-bakery")
    async with engine.begin() as conn:
        await conn.execute(update(md.suppliers).where(md.suppliers.c.tenant_id == tenant_id).values(order_cutoff=None))
    saga_ids = []
    for day in (TODAY, TODAY + timedelta(days=1)):  # one after the other, as the mornings come
        saga_id = await trigger(settings, tenant_id, day)
        row = await wait_terminal(engine, saga_id)
        assert row["status"] == "COMPLETED", row["reason"]
        saga_ids.append(saga_id)
    first, second = saga_ids
    async with engine.connect() as conn:
        body = (
            await conn.execute(
                select(snapshots.c.body)
                .join(sagas, sagas.c.snapshot_sha256 == snapshots.c.sha256)
                .where(sagas.c.saga_id == second)
            )
        ).scalar_one()
    return TwoDays(
        tenant_id,
        (first, second),
        (await _reply(engine, first, "procurement"), await _reply(engine, second, "procurement")),
        (await _reply(engine, first, "release"), await _reply(engine, second, "release")),
        PlanningSnapshot.model_validate_json(body),
    )


async def test_day_two_counts_what_day_one_released_and_orders_no_need_twice(
    settings: Settings, two_days: TwoDays
) -> None:
    (plan1, plan2), (day1, day2) = two_days.plans, two_days.releases
    assert day1.purchase_orders, "the first morning orders something"
    assert_counted_as_supply(day1, two_days.second_snapshot)
    ordered = released_lines(day1.purchase_orders, plan1.purchase_lines)
    assert_no_need_ordered_twice(ordered, released_lines(day2.purchase_orders, plan2.purchase_lines))
    # a purchase line is released once: no line of day 1's plan is in one of day 2's orders either
    first_ids = {line.line_id for line in plan1.purchase_lines}
    assert not any(x.line_id in first_ids for o in day2.purchase_orders for x in o.lines)

    # every order went out once to the supplier channels' topic, as released
    records = await read_topic(
        settings,
        Topic.PURCHASE_ORDERS,
        lambda r: r.key == two_days.tenant_id.encode(),
        expect=len(day1.purchase_orders) + len(day2.purchase_orders),
    )
    on_topic = [decode(r.value) for r in records]
    assert all(isinstance(m, OrderReleased) for m in on_topic)
    assert sorted(
        (m.purchase_order for m in on_topic if isinstance(m, OrderReleased)), key=lambda o: o.po_number
    ) == sorted((*day1.purchase_orders, *day2.purchase_orders), key=lambda o: o.po_number)


async def _status(engine: AsyncEngine, tenant_id: str, po_number: str) -> str:
    async with engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    select(purchase_orders.c.status).where(
                        purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.po_number == po_number
                    )
                )
            ).scalar_one()
        )


async def test_events_from_suppliers_and_goods_in_apply_once_and_bad_ones_are_parked(
    settings: Settings, engine: AsyncEngine, two_days: TwoDays
) -> None:
    tenant_id = two_days.tenant_id
    order = two_days.releases[0].purchase_orders[0]
    line = order.lines[0]
    now = datetime.now(UTC)
    key = tenant_id.encode()
    sent = OrderSent(
        event_id=uuid4(), tenant_id=tenant_id, occurred_at=now, po_number=order.po_number, sent_at=now, channel="email"
    )
    receipt = GoodsReceived(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=now,
        po_number=order.po_number,
        receipt_id="DN-E2E-1",
        received_at=now,
        lines=(ReceivedLine(line_id=line.line_id, quantity=line.quantity / 4),),
    )
    marker = uuid4().hex
    unknown_order = receipt.model_copy(update={"event_id": uuid4(), "po_number": f"PO-{marker}"})
    negative = orjson.loads(encode(receipt.model_copy(update={"event_id": uuid4(), "receipt_id": "DN-NEG"})))
    negative["lines"][0]["quantity"] = -5.0
    negative["note"] = marker

    for message in (sent, receipt, receipt, receipt.model_copy(update={"event_id": uuid4()}), unknown_order):
        await publish(settings, Topic.PURCHASING_EVENTS, encode(message), key=key)
    await publish(settings, Topic.PURCHASING_EVENTS, orjson.dumps(negative), key=key)

    async def received() -> bool | None:
        return True if await _status(engine, tenant_id, order.po_number) == "partly_received" else None

    await eventually(received, timeout_s=60, what="the receipt to be booked")
    parked = await read_topic(
        settings, Topic.DEAD_LETTER, lambda r: marker.encode() in (r.value or b""), timeout_s=60, expect=2
    )
    reasons = [dict(r.headers)["dlq.reason"].decode() for r in parked]
    assert len(reasons) == 2
    assert any(f"unknown purchase order 'PO-{marker}'" in r for r in reasons)
    assert any("goods_received" in r and "failed validation" in r and "quantity" in r for r in reasons)
    async with engine.connect() as conn:
        lots = (
            await conn.execute(
                select(md.stock_lots).where(
                    md.stock_lots.c.tenant_id == tenant_id, md.stock_lots.c.lot_id.like(f"{order.po_number}/%")
                )
            )
        ).all()
        history = (
            await conn.execute(
                select(purchase_order_history.c.to_status, purchase_order_history.c.source)
                .where(purchase_order_history.c.po_number == order.po_number)
                .order_by(purchase_order_history.c.id)
            )
        ).all()
    # the receipt sent three times (twice under one event id, once under another) booked one lot
    assert [(lot.lot_id, lot.quantity) for lot in lots] == [(f"{order.po_number}/1/DN-E2E-1", line.quantity / 4)]
    assert [(h.to_status, h.source) for h in history] == [
        ("released", "release"),
        ("sent", "channel"),
        ("partly_received", "goods_in"),
    ]


async def test_goods_received_teach_the_next_plan_its_suppliers_lead_time(
    settings: Settings, engine: AsyncEngine, two_days: TwoDays
) -> None:
    """docs/learning.md on the real stack: a delivery booked from the events topic is in the next
    saga's snapshot as a receipt, and the next plan's lines from that supplier say they learned from it."""
    tenant_id = two_days.tenant_id
    order = two_days.releases[0].purchase_orders[-1]
    arrived = datetime.combine(order.delivery_date + timedelta(days=2), datetime.min.time(), UTC).replace(hour=7)
    receipt = GoodsReceived(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=arrived,
        po_number=order.po_number,
        receipt_id="DN-LEARN-1",
        received_at=arrived,
        lines=tuple(ReceivedLine(line_id=line.line_id, quantity=line.quantity) for line in order.lines),
    )
    await publish(settings, Topic.PURCHASING_EVENTS, encode(receipt), key=tenant_id.encode())

    async def received() -> bool | None:
        return True if await _status(engine, tenant_id, order.po_number) == "received" else None

    await eventually(received, timeout_s=60, what="the delivery to be booked")
    saga_id = await trigger(settings, tenant_id, TODAY + timedelta(days=5))
    row = await wait_terminal(engine, saga_id)
    assert row["status"] == "COMPLETED", row["reason"]
    async with engine.connect() as conn:
        body = (
            await conn.execute(
                select(snapshots.c.body)
                .join(sagas, sagas.c.snapshot_sha256 == snapshots.c.sha256)
                .where(sagas.c.saga_id == saga_id)
            )
        ).scalar_one()
    snapshot = PlanningSnapshot.model_validate_json(body)
    # each line once, from its first delivery: this one, or an earlier part of it when another test
    # of the module booked one on the same order (a day with a single order)
    first = {(r.ingredient_id, r.ordered_on, r.expected_on): r.received_on for r in snapshot.receipts}
    for line in order.lines:
        received_on = first.get((line.ingredient_id, order.order_date, order.delivery_date))
        assert received_on is not None, (line, snapshot.receipts)
        assert received_on <= arrived.date(), (line, snapshot.receipts)
    plan: ProcurementPlanned = await _reply(engine, saga_id, "procurement")
    said = {
        line.reasoning.facts.get("lead_time_source")
        for line in plan.purchase_lines
        if line.reasoning is not None and line.supplier_id == order.supplier_id
    }
    assert said <= {"learned"}
    others = {r.supplier_id for r in snapshot.receipts}
    assert all(
        line.reasoning.facts.get("lead_time_source") is None
        for line in plan.purchase_lines
        if line.reasoning is not None and line.supplier_id not in others
    )
