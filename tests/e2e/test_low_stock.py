"""Low-stock events on the real stack (Kafka, Postgres, `bakeplan serve` processes with a 10 s debounce
window): a burst coalesces into one procurement-only saga and one emergency purchase line, released at
once as a purchase order; a second burst is covered by that order; an event for an unknown ingredient
is parked with the reason."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.messages import LowStockObserved, ProcurementPlanned
from contracts.planning import WEEKDAYS, Calendar, PlanningSnapshot
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import decode, encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import TenantData, generate_tenant
from orchestrator.replay import replay
from orchestrator.replay_store import expected_commands, load_saga, read_only
from orchestrator.tables import low_stock_signals, sagas, snapshots, step_results
from tests.e2e.processes import Processes
from tests.e2e.support import TERMINAL, TODAY, eventually, read_topic, seed, trigger, wait_terminal
from workers.procurement.tables import purchase_lines
from workers.purchase_orders.tables import purchase_order_lines, purchase_orders

pytestmark = pytest.mark.e2e


def pick_ingredient(tenant: TenantData) -> tuple[str, float]:
    """An offered ingredient without master-data open orders, and a threshold a few packs deep that no
    offer's maximum per line caps (so one line can cover it)."""
    ordered = {order.ingredient_id for order in tenant.open_purchase_orders}
    for ingredient in tenant.ingredients:
        items = [i for s in tenant.suppliers for i in s.items if i.ingredient_id == ingredient.ingredient_id]
        if not items or ingredient.ingredient_id in ordered:
            continue
        big = max(max(i.pack_size, i.moq) for i in items)
        if all(i.max_quantity is None or i.max_quantity >= 4 * big for i in items):
            return ingredient.ingredient_id, 2 * big
    raise AssertionError(f"tenant {tenant.tenant_id} has no suitable ingredient; change the seed")


async def seed_always_open(engine: AsyncEngine, tenant_id: str) -> TenantData:
    """A tenant open every day whose suppliers deliver every day: then the earliest delivery is always
    placement + lead time, and a line for it must be ordered now (an emergency) on any day the test runs."""
    tenant = generate_tenant(tenant_id, profile="small", seed=3, today=TODAY)
    tenant = replace(
        tenant,
        calendar=Calendar(),
        suppliers=tuple(s.model_copy(update={"delivery_weekdays": WEEKDAYS}) for s in tenant.suppliers),
    )
    async with engine.begin() as conn:
        await write_tenant(conn, tenant)
    return tenant


def events(tenant_id: str, ingredient_id: str, quantities: list[float], threshold: float) -> list[LowStockObserved]:
    start = datetime.now(UTC)
    return [
        LowStockObserved(
            event_id=uuid4(),
            tenant_id=tenant_id,
            occurred_at=start + timedelta(milliseconds=i),
            ingredient_id=ingredient_id,
            quantity_on_hand=quantity,
            threshold=threshold,
            observed_at=start + timedelta(milliseconds=i),
        )
        for i, quantity in enumerate(quantities)
    ]


async def publish_all(settings: Settings, messages: list[LowStockObserved]) -> None:
    await ensure_topics(settings, Principal.ADMIN)
    producer = new_producer(settings, Principal.ADMIN, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(settings.topic(Topic.LOW_STOCK), encode(m), key=m.tenant_id.encode()) for m in messages
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


async def low_stock_sagas(engine: AsyncEngine, tenant_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(sagas)
                    .where(sagas.c.tenant_id == tenant_id, sagas.c.kind == "low_stock")
                    .order_by(sagas.c.created_at)
                )
            ).all()
        )


async def wait_sagas_done(engine: AsyncEngine, tenant_id: str, count: int) -> list[Any]:
    async def probe() -> list[Any] | None:
        rows = await low_stock_sagas(engine, tenant_id)
        return rows if len(rows) >= count and all(r.status in TERMINAL for r in rows) else None

    return await eventually(probe, timeout_s=90, what=f"{count} low-stock saga(s) of {tenant_id} to finish")


async def lines_of(engine: AsyncEngine, tenant_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(purchase_lines).where(purchase_lines.c.tenant_id == tenant_id))).all())


async def test_a_burst_makes_one_saga_and_one_emergency_line_and_a_second_burst_orders_nothing(
    processes: Processes, settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    tenant_id = f"{tenant_prefix}-low"
    tenant = await seed_always_open(engine, tenant_id)
    ingredient_id, threshold = pick_ingredient(tenant)
    quantities = [threshold * (0.9 - 0.02 * i) for i in range(40)]  # falling, all below the threshold
    burst = events(tenant_id, ingredient_id, quantities, threshold)
    await publish_all(settings, [*burst, *burst[::4]])  # 40 distinct ids + 10 re-sent duplicates

    (saga,) = await wait_sagas_done(engine, tenant_id, 1)
    assert saga.status == "COMPLETED", saga.reason

    async def activated() -> list[Any] | None:
        rows = await lines_of(engine, tenant_id)
        return rows if rows and all(r.status == "active" for r in rows) else None

    lines = await eventually(activated, timeout_s=30, what="the low-stock line to be activated")
    assert [(r.ingredient_id, r.purpose, r.emergency) for r in lines] == [(ingredient_id, "low_stock", True)]
    (line,) = lines
    assert line.quantity >= threshold - quantities[-1] - 1e-9  # back to the threshold from the newest count
    assert "EMERGENCY" in line.reason
    # an emergency goes out now: released as a purchase order by the saga's pivot, whatever the hour
    async with engine.connect() as conn:
        (order,) = (
            await conn.execute(
                select(purchase_orders.c.po_number, purchase_order_lines.c.quantity)
                .join(purchase_order_lines, purchase_order_lines.c.po_number == purchase_orders.c.po_number)
                .where(purchase_orders.c.tenant_id == tenant_id, purchase_order_lines.c.line_id == line.line_id)
            )
        ).all()
    assert order.quantity == line.quantity
    async with engine.connect() as conn:
        covered = (
            await conn.execute(select(low_stock_signals.c.saga_id).where(low_stock_signals.c.tenant_id == tenant_id))
        ).all()
    assert len(covered) == 40
    assert {UUID(bytes=r.saga_id.bytes) for r in covered} == {UUID(bytes=saga.saga_id.bytes)}
    await _audited_and_replays_identical(engine, UUID(bytes=saga.saga_id.bytes), signals=40)

    # the inventory system keeps reporting the same low count: the open line already covers it
    await publish_all(settings, events(tenant_id, ingredient_id, [quantities[-1]] * 5, threshold))
    first, second = await wait_sagas_done(engine, tenant_id, 2)
    assert first.saga_id == saga.saga_id
    assert second.status == "COMPLETED", second.reason
    async with engine.connect() as conn:
        payload = (
            await conn.execute(
                select(step_results.c.payload).where(
                    step_results.c.saga_id == second.saga_id, step_results.c.step == "procurement"
                )
            )
        ).scalar_one()
    result = decode(payload)
    assert isinstance(result, ProcurementPlanned)
    assert result.purchase_lines == ()
    assert [r.line_id for r in await lines_of(engine, tenant_id)] == [line.line_id]

    # the next daily plan counts the released order as supply instead of ordering that need again
    daily = await wait_terminal(engine, await trigger(settings, tenant_id))
    assert daily["status"] == "COMPLETED", daily["reason"]
    async with engine.connect() as conn:
        body = (
            await conn.execute(select(snapshots.c.body).where(snapshots.c.sha256 == daily["snapshot_sha256"]))
        ).scalar_one()
    supply = {o.order_id: o for o in PlanningSnapshot.model_validate_json(body).open_purchase_orders}
    assert supply[f"po:{order.po_number}/{line.line_id}"].quantity == line.quantity


async def test_an_event_for_an_unknown_ingredient_is_parked_with_a_reason_naming_it(
    processes: Processes, settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    tenant_id = f"{tenant_prefix}-unk"
    await seed(engine, tenant_id)
    (event,) = events(tenant_id, "no-such-ingredient", [1.0], 5.0)
    await publish_all(settings, [event])
    parked = await read_topic(settings, Topic.DEAD_LETTER, lambda r: r.key == tenant_id.encode(), timeout_s=60)
    assert len(parked) == 1
    headers = dict(parked[0].headers)
    assert b"unknown ingredient 'no-such-ingredient'" in headers["dlq.reason"]
    assert headers["dlq.source.topic"] == settings.topic(Topic.LOW_STOCK).encode()
    assert await low_stock_sagas(engine, tenant_id) == []


async def _audited_and_replays_identical(engine: AsyncEngine, saga_id: UUID, *, signals: int) -> None:
    """The archive holds the saga's signals (each once) and its own events, and a replay of its one
    step re-plans the same line without writing anything."""
    async with read_only(engine) as conn:
        recorded = await load_saga(conn, saga_id)
    assert recorded is not None
    kinds = [type(m).__name__ for m in (*recorded.others, *recorded.commands, *recorded.procurements)]
    assert kinds.count("LowStockObserved") == signals
    assert recorded.snapshot is not None
    assert [c.event_type for c in recorded.commands] == [
        "procurement.plan_procurement",
        "procurement.release_purchase_orders",
    ]
    assert len(recorded.procurements) == 1
    assert len(recorded.releases) == 1
    report = replay(recorded, expected_commands=expected_commands(recorded))
    assert report.identical, [d.describe() for d in report.differences]
    assert report.compared == {
        "commands": 2,
        "purchase_lines": 1,
        "purchase_orders": 1,
        "purchase_order_lines": 1,
        "held_lines": 0,
    }
