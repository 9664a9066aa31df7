"""One bad thing must not stop everything, on real Postgres (docs/resilience.md): a worker's reply too
large to send fails its step at once, and a REPEATABLE READ trigger that takes the tenant's audit
chain head first is not undone by the tenant's low-stock signals archived meanwhile."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from contracts.ids import saga_id_for_trigger
from contracts.messages import DemandForecasted, ForecastDemand, LowStockObserved, PlanningRequested, StepFailed
from contracts.topics import Topic
from infra.messaging.codec import decode
from infra.messaging.outbox import PayloadLimits
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import audit
from orchestrator import tables as orchestrator_tables
from orchestrator.ports import Inbound, SagaKind
from orchestrator.saga import daily_plan_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from workers.forecasting import tables as forecasting_tables
from workers.forecasting.handler import SPEC as FORECASTING
from workers.shell.runtime import StepWorker

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)


async def _messages(engine: AsyncEngine, tenant_id: str, outbox: Table) -> list[Message]:
    async with engine.connect() as conn:
        payloads = (
            await conn.execute(select(outbox.c.payload).where(outbox.c.message_key == tenant_id).order_by(outbox.c.id))
        ).scalars()
        return [decode(p) for p in payloads]


async def test_a_reply_too_large_to_send_fails_the_step_with_the_reason_and_the_saga_compensates(
    engine: AsyncEngine, tenant_id: str
) -> None:
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    clock = lambda: NOW  # noqa: E731 - a fixed clock
    orchestrator = Orchestrator(PostgresStores(engine), {SagaKind.DAILY: definition}, clock, lambda: None)
    worker = StepWorker(
        FORECASTING, engine=engine, clock=clock, on_commit=lambda: None, limits=PayloadLimits(max_bytes=4096)
    )
    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=4, today=TODAY))
    trigger = PlanningRequested(
        event_id=uuid.uuid4(), tenant_id=tenant_id, occurred_at=NOW, business_date=TODAY, source="external"
    )
    await orchestrator.handle(trigger)
    saga_id = saga_id_for_trigger(trigger.event_id)
    (command,) = [
        m for m in await _messages(engine, tenant_id, orchestrator_tables.outbox) if isinstance(m, ForecastDemand)
    ]

    await worker.handle(command)

    replies = await _messages(engine, tenant_id, forecasting_tables.outbox)
    assert not [r for r in replies if isinstance(r, DemandForecasted)]
    (failed,) = [r for r in replies if isinstance(r, StepFailed)]
    assert "over the limit of 4096 bytes (BAKEPLAN_MAX_MESSAGE_BYTES)" in failed.reason
    assert "forecasting.demand_forecasted" in failed.reason
    forecasts = forecasting_tables.forecasts
    async with engine.connect() as conn:
        drafts = (await conn.execute(select(forecasts.c.saga_id).where(forecasts.c.saga_id == saga_id))).all()
    assert drafts == []  # the drafts of a reply that cannot be sent are rolled back with it
    await orchestrator.handle(failed)  # at once, not at the step's deadline
    sagas = orchestrator_tables.sagas
    async with engine.connect() as conn:
        saga = (await conn.execute(select(sagas.c.status, sagas.c.reason).where(sagas.c.saga_id == saga_id))).one()
    assert saga.status in ("COMPENSATING", "COMPENSATED")
    assert "over the limit" in saga.reason


def _signal(tenant_id: str) -> Inbound:
    message = LowStockObserved(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=NOW,
        ingredient_id="flour",
        quantity_on_hand=1.0,
        threshold=5.0,
        observed_at=NOW,
    )
    return Inbound(message, Topic.LOW_STOCK, None)


@pytest.mark.parametrize("lock_first", [True, False], ids=["lock first", "lock last (the old order)"])
async def test_a_repeatable_read_trigger_that_locks_the_chain_first_survives_signals_archived_meanwhile(
    engine: AsyncEngine, lock_first: bool
) -> None:
    tenant_id = f"lock-{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await audit.record(conn, inbound=_signal(tenant_id), at=NOW, keys=audit.DEV_AUDIT_KEYS)  # the chain exists
    read_done = asyncio.Event()
    appended: list[float] = []

    async def trigger() -> None:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                if lock_first:
                    await audit.lock_chain(conn, tenant_id)
                await conn.execute(select(orchestrator_tables.sagas.c.saga_id).limit(1))  # the snapshot read
                read_done.set()
                await asyncio.sleep(0.5)  # a large tenant's snapshot takes a while
                await audit.record(conn, inbound=_signal(tenant_id), at=NOW, keys=audit.DEV_AUDIT_KEYS)

    async def signals() -> None:
        await read_done.wait()
        for _ in range(3):  # a stream of low-stock signals of the same tenant, each archived
            async with engine.begin() as conn:
                await audit.record(conn, inbound=_signal(tenant_id), at=NOW, keys=audit.DEV_AUDIT_KEYS)
            appended.append(asyncio.get_running_loop().time())

    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(trigger(), signals(), return_exceptions=True)
    if lock_first:
        assert list(results) == [None, None]
        assert min(appended) - started >= 0.5  # the signals waited for the trigger, not the other way round
    else:
        assert isinstance(results[0], DBAPIError)
        assert "could not serialize access" in str(results[0])
    async with engine.connect() as conn:
        outcome = await audit.verify(conn, audit.DEV_AUDIT_KEYS, tenant_id=tenant_id)
    assert outcome.broken == []
    assert outcome.events == (5 if lock_first else 4)  # every committed append is in the chain


async def test_a_daily_trigger_starts_while_the_tenants_low_stock_signals_keep_arriving(
    engine: AsyncEngine, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The orchestrator's own start (not only the primitive): its snapshot read is slowed down, and
    the tenant's signals are archived meanwhile; the trigger must commit at its first attempt."""
    from orchestrator.stores import postgres as postgres_stores

    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=4, today=TODAY))
        await audit.record(conn, inbound=_signal(tenant_id), at=NOW, keys=audit.DEV_AUDIT_KEYS)
    reading = asyncio.Event()
    slow_read = postgres_stores.PostgresMasterData.snapshot

    async def snapshot(self: postgres_stores.PostgresMasterData, *args: object, **kwargs: object) -> object:
        reading.set()
        await asyncio.sleep(0.5)
        return await slow_read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(postgres_stores.PostgresMasterData, "snapshot", snapshot)
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    orchestrator = Orchestrator(PostgresStores(engine), {SagaKind.DAILY: definition}, lambda: NOW, lambda: None)
    trigger = PlanningRequested(
        event_id=uuid.uuid4(), tenant_id=tenant_id, occurred_at=NOW, business_date=TODAY, source="external"
    )

    async def signals() -> None:
        await reading.wait()
        for _ in range(3):
            async with engine.begin() as conn:
                await audit.record(conn, inbound=_signal(tenant_id), at=NOW, keys=audit.DEV_AUDIT_KEYS)

    results = await asyncio.gather(orchestrator.handle(trigger), signals(), return_exceptions=True)
    assert list(results) == [None, None]
    sagas = orchestrator_tables.sagas
    async with engine.connect() as conn:
        started = (
            await conn.execute(select(sagas.c.status).where(sagas.c.saga_id == saga_id_for_trigger(trigger.event_id)))
        ).scalar_one()
        outcome = await audit.verify(conn, audit.DEV_AUDIT_KEYS, tenant_id=tenant_id)
    assert started == "RUNNING"
    assert outcome.broken == []
