"""Low-stock signals and the debounce scan on real Postgres: duplicates are stored once, unknown
ingredients are refused, the window holds the saga back, and several replicas scanning at the same
instant start exactly one procurement-only saga covering every pending signal."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import PermanentError
from contracts.messages import LowStockObserved, PlanningRequested, PlanProcurement
from infra.db import create_engine
from infra.messaging.codec import decode
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import masterdata
from orchestrator.low_stock import LowStock
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import low_stock_signals, outbox, sagas
from workers.procurement.tables import purchase_lines

pytestmark = pytest.mark.integration

WINDOW = timedelta(seconds=30)
REPLICAS = 4


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def tenant(engine: AsyncEngine, tenant_id: str) -> AsyncIterator[str]:
    data = generate_tenant(tenant_id, profile="small", seed=5, today=datetime.now(UTC).date())
    async with engine.begin() as conn:
        await write_tenant(conn, data)
    yield tenant_id
    async with engine.begin() as conn:
        await masterdata.delete_tenant(conn, tenant_id)
        await conn.execute(delete(low_stock_signals).where(low_stock_signals.c.tenant_id == tenant_id))
        # nothing of this test may be published later by a real orchestrator's relay (the e2e suite's)
        await conn.execute(delete(outbox).where(outbox.c.message_key == tenant_id))
        await conn.execute(delete(sagas).where(sagas.c.tenant_id == tenant_id))


@pytest.fixture
async def replicas(db_settings: Settings) -> AsyncIterator[list[AsyncEngine]]:
    """Each orchestrator replica with its own connection pool."""
    engines = [create_engine(db_settings) for _ in range(REPLICAS)]
    yield engines
    for engine in engines:
        await engine.dispose()


def low_stock(engine: AsyncEngine, clock: Clock) -> LowStock:
    definition = low_stock_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    return LowStock(PostgresStores(engine), definition, clock, lambda: None, debounce=WINDOW, horizon_days=14)


def an_event(tenant_id: str, ingredient_id: str, on_hand: float, at: datetime) -> LowStockObserved:
    return LowStockObserved(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=at,
        ingredient_id=ingredient_id,
        quantity_on_hand=on_hand,
        threshold=50.0,
        observed_at=at,
    )


async def first_ingredient(engine: AsyncEngine, tenant_id: str) -> str:
    async with engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    select(func.min(masterdata.ingredients.c.ingredient_id)).where(
                        masterdata.ingredients.c.tenant_id == tenant_id
                    )
                )
            ).scalar_one()
        )


async def test_concurrent_scans_start_one_saga_for_a_debounced_burst(
    engine: AsyncEngine, replicas: list[AsyncEngine], tenant: str
) -> None:
    clock = Clock()
    recorder = low_stock(engine, clock)
    ingredient = await first_ingredient(engine, tenant)
    burst = [an_event(tenant, ingredient, 40.0 - i, clock.now + timedelta(seconds=i)) for i in range(40)]
    for event in [*burst, *burst[:10]]:  # 10 re-sent duplicates
        await recorder.record(event)
    with pytest.raises(PermanentError, match="unknown ingredient 'no-such-flour'"):
        await recorder.record(an_event(tenant, "no-such-flour", 1.0, clock.now))

    async with engine.connect() as conn:
        stored = (await conn.execute(select(func.count()).where(low_stock_signals.c.tenant_id == tenant))).scalar_one()
    assert stored == 40

    scanners = [low_stock(replica, clock) for replica in replicas]
    assert sum(await asyncio.gather(*(s.scan() for s in scanners))) == 0  # inside the window

    clock.now += WINDOW
    started = sum(await asyncio.gather(*(s.scan() for s in scanners)))
    started += sum(await asyncio.gather(*(s.scan() for s in scanners)))
    assert started == 1

    async with engine.connect() as conn:
        rows = (await conn.execute(select(sagas).where(sagas.c.tenant_id == tenant))).all()
        covered = (
            await conn.execute(
                select(low_stock_signals.c.saga_id, func.count())
                .where(low_stock_signals.c.tenant_id == tenant)
                .group_by(low_stock_signals.c.saga_id)
            )
        ).all()
        commands = [
            decode(r.payload)
            for r in await conn.execute(select(outbox.c.payload).where(outbox.c.message_key == tenant))
        ]
    assert [(r.kind, r.status) for r in rows] == [("low_stock", "RUNNING")]
    saga_id = UUID(bytes=rows[0].saga_id.bytes)
    assert [(UUID(bytes=s.bytes), n) for s, n in covered] == [(saga_id, 40)]
    plans = [c for c in commands if isinstance(c, PlanProcurement)]
    assert len(plans) == 1
    (plan,) = plans
    assert plan.saga_id == saga_id
    assert plan.purpose == "low_stock"
    assert [i.ingredient_id for i in plan.ingredients] == [ingredient]
    assert sum(lot.quantity for lot in plan.stock_lots) == pytest.approx(1.0)  # the newest count: 40 - 39
    assert [(f.ingredient_id, f.quantity) for f in plan.stock_floors] == [(ingredient, 50.0)]

    # a signal that arrives while the saga runs waits for the next one
    await recorder.record(an_event(tenant, ingredient, 0.5, clock.now))
    clock.now += 2 * WINDOW
    assert sum(await asyncio.gather(*(s.scan() for s in scanners))) == 0


async def test_a_running_low_stock_saga_does_not_block_the_days_daily_plan(engine: AsyncEngine, tenant: str) -> None:
    clock = Clock()
    scanner = low_stock(engine, clock)
    await scanner.record(an_event(tenant, await first_ingredient(engine, tenant), 1.0, clock.now))
    clock.now += WINDOW
    assert await scanner.scan() == 1
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    orchestrator = Orchestrator(PostgresStores(engine), {SagaKind.DAILY: definition}, clock, lambda: None)
    trigger = PlanningRequested(
        event_id=uuid4(),
        tenant_id=tenant,
        occurred_at=clock.now,
        business_date=clock.now.date(),
        source="operator",
        requested_by="test",
    )
    await orchestrator.start(trigger)
    async with engine.connect() as conn:
        kinds = sorted((await conn.execute(select(sagas.c.kind).where(sagas.c.tenant_id == tenant))).scalars())
    assert kinds == ["daily", "low_stock"]


async def test_postgres_refuses_a_second_open_low_stock_line_on_a_slot(engine: AsyncEngine, tenant_id: str) -> None:
    def row(line_id: str, status: str, purpose: str = "low_stock") -> dict[str, object]:
        return {
            "line_id": line_id,
            "saga_id": uuid4(),
            "tenant_id": tenant_id,
            "supplier_id": "mill",
            "ingredient_id": "flour",
            "order_date": datetime(2026, 11, 28, tzinfo=UTC).date(),
            "delivery_date": datetime(2026, 11, 30, tzinfo=UTC).date(),
            "quantity": 10.0,
            "unit_price": 1.0,
            "late": False,
            "reason": "test",
            "status": status,
            "purpose": purpose,
        }

    try:
        async with engine.begin() as conn:
            # a cancelled low-stock line and a daily line on the slot do not make it occupied for the index
            await conn.execute(
                insert(purchase_lines), [row("c1", "cancelled"), row("d1", "active", "daily"), row("a1", "active")]
            )
        with pytest.raises(IntegrityError, match="uq_purchase_lines_one_open_low_stock_slot"):
            async with engine.begin() as conn:
                await conn.execute(insert(purchase_lines).values(row("a2", "draft")))
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(purchase_lines).where(purchase_lines.c.tenant_id == tenant_id))
