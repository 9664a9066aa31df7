"""The release step on real Postgres (docs/orders.md): whole daily sagas through the orchestrator's
and the workers' own handlers (tests/integration/saga_pump.py, no Kafka), with a fake clock."""

import dataclasses
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import PlanReady, ProcurementPlanned, ProductionScheduled, StepFailed
from contracts.planning import PlanningSnapshot
from contracts.purchasing_messages import (
    CancelReleasedOrders,
    OrderCancelled,
    OrderReleased,
    PurchaseOrdersReleased,
    ReleasePurchaseOrders,
)
from contracts.step_inputs import release_purchase_orders
from contracts.topics import Topic
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator.tables import sagas, snapshots
from tests.integration.saga_pump import STEP_TIMEOUT, Pump
from tests.purchase_order_checks import (
    assert_counted_as_supply,
    assert_no_need_ordered_twice,
    ordered_again,
    released_lines,
)
from workers.chain import plan_snapshot, release_for_command
from workers.procurement.release_handler import ReleaseWorker
from workers.procurement.tables import effect_log, purchase_lines
from workers.purchase_orders.tables import purchase_order_history, purchase_order_lines, purchase_orders

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


async def seeded(engine: AsyncEngine, tenant_id: str) -> Pump:
    """A small bakery (its suppliers' cut-offs are 10:00–18:00; the pump's clock says 04:30 UTC, before
    every one of them in the European zones the synthetic tenants live in)."""
    # the same bakery every run, under the test's own tenant id: its data would otherwise vary with the
    # id (the generator seeds on it), and now and then release no order of two lines
    data = generate_tenant("release-bakery", profile="small", seed=3, today=TODAY)
    async with engine.begin() as conn:
        await write_tenant(conn, dataclasses.replace(data, tenant_id=tenant_id))
    return Pump(engine, [tenant_id])


async def rows(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def saga_status(engine: AsyncEngine, saga_id: UUID) -> tuple[str, str]:
    (row,) = await rows(engine, select(sagas.c.status, sagas.c.reason).where(sagas.c.saga_id == saga_id))
    return row.status, row.reason


async def snapshot_of(engine: AsyncEngine, saga_id: UUID) -> PlanningSnapshot:
    query = select(snapshots.c.body).join(sagas, sagas.c.snapshot_sha256 == snapshots.c.sha256)
    ((body,),) = await rows(engine, query.where(sagas.c.saga_id == saga_id))
    return PlanningSnapshot.model_validate_json(body)


async def test_a_daily_saga_releases_its_due_lines_once_as_purchase_orders(engine: AsyncEngine, tenant_id: str) -> None:
    pump = await seeded(engine, tenant_id)
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()

    assert await saga_status(engine, saga_id) == ("COMPLETED", "")
    (planned,) = pump.messages(ProcurementPlanned)
    (command,) = pump.messages(ReleasePurchaseOrders)
    (released,) = pump.messages(PurchaseOrdersReleased)
    orders = released.purchase_orders
    assert orders, "a small bakery orders something on its first day"
    assert released.held_lines, "and plans lines for later days"
    assert all(h.reason == "order_date_later" for h in released.held_lines)  # 05:30 local: before every cut-off
    assert sorted([*(x.line_id for o in orders for x in o.lines), *(h.line_id for h in released.held_lines)]) == sorted(
        line.line_id for line in planned.purchase_lines
    )
    assert all(line.order_date == TODAY for line in released_lines(released.purchase_orders, planned.purchase_lines))
    (ready,) = pump.messages(PlanReady)
    (scheduled,) = pump.messages(ProductionScheduled)
    assert scheduled.batches, "a small bakery bakes something on its first day"
    # the counts of the kept replies (read without validating them) and of the reply in hand
    assert (ready.batches, ready.purchase_lines, ready.purchase_orders) == (
        len(scheduled.batches),
        len(planned.purchase_lines),
        len(orders),
    )
    # each order went out to the supplier channels once, exactly as released
    assert [e.purchase_order for e in pump.messages(OrderReleased, topic=Topic.PURCHASE_ORDERS)] == list(orders)

    stored = await rows(engine, select(purchase_orders).where(purchase_orders.c.tenant_id == tenant_id))
    assert sorted((r.po_number, r.status, r.supplier_name, r.total) for r in stored) == sorted(
        (o.po_number, "released", o.supplier_name, o.total) for o in orders
    )
    assert {r.currency for r in stored} == {"EUR"}
    lines = await rows(engine, select(purchase_order_lines).where(purchase_order_lines.c.tenant_id == tenant_id))
    assert sorted((r.po_number, r.line_id, r.quantity, r.unit) for r in lines) == sorted(
        (o.po_number, x.line_id, x.quantity, x.unit) for o in orders for x in o.lines
    )
    history = await rows(engine, select(purchase_order_history).where(purchase_order_history.c.tenant_id == tenant_id))
    assert sorted((h.po_number, h.from_status, h.to_status, h.source) for h in history) == sorted(
        (o.po_number, None, "released", "release") for o in orders
    )
    statuses = await rows(engine, select(purchase_lines.c.status).where(purchase_lines.c.saga_id == saga_id))
    assert {s for (s,) in statuses} == {"active"}

    # a redelivered release is absorbed by the inbox; a re-run without it inserts nothing either
    await pump.release.handle(command)
    await ReleaseWorker(engine=engine, clock=pump.clock, on_commit=lambda: None, dedupe=False).handle(command)
    assert len(await rows(engine, select(purchase_orders).where(purchase_orders.c.tenant_id == tenant_id))) == len(
        orders
    )
    effects = await rows(
        engine,
        select(effect_log.c.kind, effect_log.c.affected_rows).where(
            effect_log.c.saga_id == saga_id, effect_log.c.step == "release"
        ),
    )
    assert sorted((k, n) for k, n in effects) == [("run", 0), ("run", len(orders))]


async def test_the_next_days_plan_counts_released_orders_and_orders_no_need_twice(
    engine: AsyncEngine, tenant_id: str
) -> None:
    pump = await seeded(engine, tenant_id)
    first = await pump.trigger(tenant_id, TODAY)
    await pump.run()
    pump.clock.now += timedelta(days=1)
    second = await pump.trigger(tenant_id, TODAY + timedelta(days=1))
    await pump.run()

    assert [await saga_status(engine, s) for s in (first, second)] == [("COMPLETED", "")] * 2
    day1, day2 = pump.messages(PurchaseOrdersReleased)
    plan1, plan2 = pump.messages(ProcurementPlanned)
    snapshot = await snapshot_of(engine, second)
    assert_counted_as_supply(day1, snapshot)
    ordered = released_lines(day1.purchase_orders, plan1.purchase_lines)
    assert ordered
    assert_no_need_ordered_twice(ordered, released_lines(day2.purchase_orders, plan2.purchase_lines))

    # without the released orders as supply, day 2 would order again what day 1 ordered: the check bites
    blind = snapshot.model_copy(
        update={
            "open_purchase_orders": tuple(o for o in snapshot.open_purchase_orders if not o.order_id.startswith("po:"))
        }
    )
    (command,) = pump.messages(ReleasePurchaseOrders, saga_id=second)
    again = plan_snapshot(blind, saga_id=second).purchase_lines
    blind_release = release_for_command(
        release_purchase_orders(
            blind,
            again,
            {
                "event_id": uuid4(),
                "tenant_id": tenant_id,
                "saga_id": second,
                "causation_id": second,
                "correlation_id": second,
                "occurred_at": command.occurred_at,
            },
            tenant_name=command.tenant_name,
            time_zone=command.time_zone,
            currency=command.currency,
            placed_at=command.placed_at,
        )
    )
    assert ordered_again(ordered, released_lines(blind_release.orders, again)), "the blind plan re-orders day 1's needs"


async def test_a_release_that_timed_out_is_compensated_and_its_orders_cancelled(
    engine: AsyncEngine, tenant_id: str
) -> None:
    held_back: list[ReleasePurchaseOrders] = []

    def slow_release(topic: Topic, message: Any) -> bool:
        if isinstance(message, ReleasePurchaseOrders):
            held_back.append(message)
            return True
        return False

    pump = await seeded(engine, tenant_id)
    pump.skip = slow_release
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()
    (late,) = held_back
    pump.clock.now += STEP_TIMEOUT + timedelta(seconds=1)
    pump.skip = lambda topic, message: isinstance(message, CancelReleasedOrders)
    await pump.orchestrator.tick()
    await pump.run()
    (cancel,) = pump.messages(CancelReleasedOrders)

    # the release arrives late, then its compensation, in that order on the tenant's partition
    await pump.release.handle(late)
    await pump.release.handle(cancel)
    pump.skip = lambda topic, message: isinstance(message, PurchaseOrdersReleased)  # the late reply is moot
    await pump.run()

    status, reason = await saga_status(engine, saga_id)
    assert (status, "release: no reply before the deadline" in reason) == ("COMPENSATED", True)
    orders = await rows(engine, select(purchase_orders).where(purchase_orders.c.tenant_id == tenant_id))
    assert orders
    assert {o.status for o in orders} == {"cancelled"}
    cancelled = pump.messages(OrderCancelled, topic=Topic.PURCHASE_ORDERS)
    assert sorted(c.po_number for c in cancelled) == sorted(o.po_number for o in orders)
    lines = await rows(engine, select(purchase_lines.c.status).where(purchase_lines.c.saga_id == saga_id))
    assert {s for (s,) in lines} == {"cancelled"}
    kinds = await rows(
        engine,
        select(effect_log.c.step, effect_log.c.kind)
        .where(effect_log.c.saga_id == saga_id, effect_log.c.kind.like("compensate%"))
        .order_by(effect_log.c.id),
    )
    assert [(s, k) for s, k in kinds] == [("release", "compensate"), ("procurement", "compensate")]


async def test_a_release_command_after_its_compensation_releases_nothing(engine: AsyncEngine, tenant_id: str) -> None:
    pump = await seeded(engine, tenant_id)
    pump.skip = lambda topic, message: isinstance(message, ReleasePurchaseOrders)
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()
    (late,) = pump.messages(ReleasePurchaseOrders)
    pump.clock.now += STEP_TIMEOUT + timedelta(seconds=1)
    await pump.orchestrator.tick()
    await pump.run()  # the compensation is handled: nothing was released, so nothing is cancelled
    await pump.release.handle(late)  # e.g. replayed from the dead-letter topic afterwards
    await pump.run()

    assert (await saga_status(engine, saga_id))[0] == "COMPENSATED"
    count = select(func.count()).select_from(purchase_orders).where(purchase_orders.c.tenant_id == tenant_id)
    assert (await rows(engine, count))[0][0] == 0
    (refused,) = pump.messages(StepFailed, saga_id=saga_id)
    assert (refused.step, "was compensated" in refused.reason) == ("release", True)


async def test_a_failed_release_compensates_the_whole_plan(engine: AsyncEngine, tenant_id: str) -> None:
    """Before the pivot completes, a failure undoes every step: here the saga's first order number is
    already another saga's, so the release fails and nothing goes out."""
    pump = await seeded(engine, tenant_id)
    pump.skip = lambda topic, message: isinstance(message, ReleasePurchaseOrders)
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()
    (command,) = pump.messages(ReleasePurchaseOrders)
    first = release_for_command(command).orders[0]
    async with engine.begin() as conn:
        await conn.execute(
            insert(purchase_orders).values(
                tenant_id=tenant_id,
                po_number=first.po_number,
                saga_id=uuid4(),
                supplier_id=first.supplier_id,
                supplier_name=first.supplier_name,
                order_date=first.order_date,
                delivery_date=first.delivery_date,
                currency="EUR",
                total=0.0,
                status="released",
                released_at=first.released_at,
                updated_at=first.released_at,
                document={},
            )
        )
    pump.skip = lambda topic, message: False
    await pump.release.handle(command)
    await pump.run()

    status, reason = await saga_status(engine, saga_id)
    assert status == "COMPENSATED"
    assert f"release: tenant {tenant_id}: order number(s) {first.po_number} already belong to another saga" in reason
    assert pump.messages(OrderReleased) == []
    statuses = await rows(engine, select(purchase_lines.c.status).where(purchase_lines.c.saga_id == saga_id))
    assert {s for (s,) in statuses} == {"cancelled"}
