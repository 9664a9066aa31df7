"""Receipts into the snapshot on real Postgres (docs/learning.md): each delivered order line once, on the
tenant-local day of its first receipt, ordered on the order's date and expected on the date it asked
for; and the next plan learns from them."""

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.purchasing_store import Purchasing
from orchestrator.snapshot_reader import read_snapshot
from tests.integration.test_purchase_order_events import Clock, received, released_orders
from tests.integration.test_purchase_order_release import TODAY
from workers.chain import plan_snapshot
from workers.procurement.lead_time_learning import learned_suppliers

pytestmark = pytest.mark.integration


async def test_delivered_lines_come_into_the_snapshot_and_teach_the_plan(engine: AsyncEngine, tenant_id: str) -> None:
    orders = await released_orders(engine, tenant_id)
    order = next(o for o in orders if len(o.lines) >= 2)
    first, second, *_ = order.lines
    purchasing = Purchasing(engine, Clock())
    late = order.delivery_date + timedelta(days=3)
    async with engine.connect() as conn:
        before = await read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=7, history_days=30)
    assert before.receipts == ()

    # the first line in two parts (it counts from its first), the second once; nothing else delivered
    await purchasing.apply(received(order, "DN-1", late, **{first.line_id: first.quantity / 2}))
    await purchasing.apply(received(order, "DN-2", late + timedelta(days=2), **{first.line_id: first.quantity / 2}))
    await purchasing.apply(received(order, "DN-3", late + timedelta(days=1), **{second.line_id: second.quantity}))

    async with engine.connect() as conn:
        after = await read_snapshot(conn, tenant_id, business_date=late + timedelta(days=3), horizon_days=7)
    found = {(r.ingredient_id, r.ordered_on, r.expected_on, r.received_on, r.reference) for r in after.receipts}
    assert found == {
        (first.ingredient_id, order.order_date, order.delivery_date, late, f"{order.po_number}/1"),
        (second.ingredient_id, order.order_date, order.delivery_date, late + timedelta(days=1), f"{order.po_number}/2"),
    }
    assert {r.supplier_id for r in after.receipts} == {order.supplier_id}

    plan = plan_snapshot(after, saga_id=uuid4())
    sources = {
        (line.supplier_id, line.reasoning.facts.get("lead_time_source"), line.reasoning.facts.get("lead_time_receipts"))
        for line in plan.purchase_lines
        if line.reasoning is not None
    }
    # which suppliers today's plan buys from depends on the seeded tenant: lines of the delivering
    # supplier (if any) say learned from its 2 receipts, no other supplier's do
    assert {(source, n) for supplier, source, n in sources if supplier == order.supplier_id} <= {("learned", 2)}
    assert {source for supplier, source, _ in sources if supplier != order.supplier_id} <= {None}
    learning = learned_suppliers(after.suppliers, after.receipts).learning
    assert set(learning) == {order.supplier_id}
    assert learning[order.supplier_id].receipts == 2
