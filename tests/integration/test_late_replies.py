"""Deadlines, late replies and compensation on real Postgres, through the orchestrator's and a
worker's handlers with a fake clock (Kafka is not needed: the outboxes are read directly)."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from contracts.ids import compensation_command_id, saga_id_for_trigger
from contracts.messages import (
    DemandForecasted,
    DiscardForecast,
    ForecastDemand,
    PlanningRequested,
    SagaFailedAlert,
    StepFailed,
)
from infra.messaging.codec import decode
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import tables as orchestrator_tables
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from workers.forecasting import tables as forecasting_tables
from workers.forecasting.handler import SPEC as FORECASTING
from workers.shell.runtime import StepWorker

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)
STEP_TIMEOUT = timedelta(seconds=60)
M = TypeVar("M", bound=Message)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _outgoing(engine: AsyncEngine, outbox: Table, saga_id: uuid.UUID, kind: type[M]) -> list[M]:
    """The saga's messages of type `kind` in `outbox`, in order (only its tenant's rows are decoded:
    the shared test database holds every other test's messages too)."""
    sagas = orchestrator_tables.sagas
    async with engine.connect() as conn:
        tenant = (await conn.execute(select(sagas.c.tenant_id).where(sagas.c.saga_id == saga_id))).scalar_one()
        payloads = (
            (await conn.execute(select(outbox.c.payload).where(outbox.c.message_key == tenant).order_by(outbox.c.id)))
            .scalars()
            .all()
        )
    messages = [decode(p) for p in payloads]
    return [m for m in messages if isinstance(m, kind) and m.saga_id == saga_id]


async def _rows(engine: AsyncEngine, table: Table, saga_id: uuid.UUID, **where: Any) -> int:
    conditions = [table.c.saga_id == saga_id, *(table.c[k] == v for k, v in where.items())]
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*conditions))).scalar_one())


async def _saga(engine: AsyncEngine, saga_id: uuid.UUID) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(orchestrator_tables.sagas).where(orchestrator_tables.sagas.c.saga_id == saga_id))
        ).one()


async def _timeline(engine: AsyncEngine, saga_id: uuid.UUID) -> list[tuple[str, str | None]]:
    log = orchestrator_tables.saga_log
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(log.c.kind, log.c.step).where(log.c.saga_id == saga_id).order_by(log.c.id))
        ).all()
    return [(r.kind, r.step) for r in rows]


def _parts(engine: AsyncEngine) -> tuple[FakeClock, Orchestrator, StepWorker]:
    clock = FakeClock()
    definition = daily_plan_definition(
        step_timeout=STEP_TIMEOUT, compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    orchestrator = Orchestrator(PostgresStores(engine), {SagaKind.DAILY: definition}, clock, lambda: None)
    worker = StepWorker(FORECASTING, engine=engine, clock=clock, on_commit=lambda: None)
    return clock, orchestrator, worker


async def _started_saga(engine: AsyncEngine, orchestrator: Orchestrator, tenant_id: str) -> uuid.UUID:
    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=4, today=TODAY))
    trigger = PlanningRequested(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        business_date=TODAY,
        source="external",
    )
    await orchestrator.handle(trigger)
    return saga_id_for_trigger(trigger.event_id)


async def test_a_reply_after_the_deadline_is_recorded_ignored_and_its_effects_compensated(
    engine: AsyncEngine, tenant_id: str
) -> None:
    clock, orchestrator, worker = _parts(engine)
    saga_id = await _started_saga(engine, orchestrator, tenant_id)
    (command,) = await _outgoing(engine, orchestrator_tables.outbox, saga_id, ForecastDemand)

    clock.now += STEP_TIMEOUT + timedelta(seconds=1)
    assert await orchestrator.tick() >= 1
    (discard,) = await _outgoing(engine, orchestrator_tables.outbox, saga_id, DiscardForecast)
    assert (await _saga(engine, saga_id)).status == "COMPENSATING"

    await worker.handle(command)  # the slow worker finishes after the deadline: drafts + a late reply
    drafts = await _rows(engine, forecasting_tables.forecasts, saga_id, status="draft")
    assert drafts > 0
    (late,) = await _outgoing(engine, forecasting_tables.outbox, saga_id, DemandForecasted)
    await orchestrator.handle(late)
    assert ("ignored", "forecasting") in await _timeline(engine, saga_id)
    assert (await _saga(engine, saga_id)).status == "COMPENSATING"

    await worker.handle(discard)  # the compensation follows the command on the tenant's partition
    assert await _rows(engine, forecasting_tables.forecasts, saga_id, status="cancelled") == drafts
    assert await _rows(engine, forecasting_tables.forecasts, saga_id, status="draft") == 0
    for reply in await _outgoing(engine, forecasting_tables.outbox, saga_id, Message):
        if reply.event_type == "planning.step_compensated":
            await orchestrator.handle(reply)
    saga = await _saga(engine, saga_id)
    assert saga.status == "COMPENSATED"
    assert "no reply before the deadline" in saga.reason

    # a re-sent compensation (the orchestrator's next attempt, with that attempt's id) changes nothing and
    # is logged as such; a redelivered command is a no-op
    resent = compensation_command_id(saga_id, "forecasting", 2)
    await worker.handle(discard.model_copy(update={"event_id": resent, "attempt": 2}))
    await worker.handle(command)
    log = forecasting_tables.effect_log
    async with engine.connect() as conn:
        kinds = (
            await conn.execute(
                select(log.c.kind, log.c.affected_rows).where(log.c.saga_id == saga_id).order_by(log.c.id)
            )
        ).all()
    assert [(k, n) for k, n in kinds] == [("run", drafts), ("compensate", drafts), ("compensate_again", 0)]


async def test_a_command_arriving_after_its_compensation_makes_no_effects(engine: AsyncEngine, tenant_id: str) -> None:
    clock, orchestrator, worker = _parts(engine)
    saga_id = await _started_saga(engine, orchestrator, tenant_id)
    (command,) = await _outgoing(engine, orchestrator_tables.outbox, saga_id, ForecastDemand)
    clock.now += STEP_TIMEOUT + timedelta(seconds=1)
    await orchestrator.tick()
    (discard,) = await _outgoing(engine, orchestrator_tables.outbox, saga_id, DiscardForecast)

    await worker.handle(discard)  # e.g. the command was parked, and is replayed from the DLQ later
    await worker.handle(command)

    assert await _rows(engine, forecasting_tables.forecasts, saga_id) == 0
    (failed,) = await _outgoing(engine, forecasting_tables.outbox, saga_id, StepFailed)
    assert "was compensated" in failed.reason
    await orchestrator.handle(failed)
    assert ("ignored", "forecasting") in await _timeline(engine, saga_id)
    log = forecasting_tables.effect_log
    async with engine.connect() as conn:
        kinds = (
            (await conn.execute(select(log.c.kind).where(log.c.saga_id == saga_id).order_by(log.c.id))).scalars().all()
        )
    assert kinds == ["compensate", "run_after_compensation"]


async def test_a_compensation_that_never_answers_ends_failed_with_an_alert(engine: AsyncEngine, tenant_id: str) -> None:
    clock, orchestrator, _ = _parts(engine)
    saga_id = await _started_saga(engine, orchestrator, tenant_id)
    clock.now += STEP_TIMEOUT + timedelta(seconds=1)
    await orchestrator.tick()
    for _ in range(3):  # each unanswered compensation is re-sent after its deadline, up to 3 attempts
        clock.now += timedelta(seconds=31)
        await orchestrator.tick()

    discards = await _outgoing(engine, orchestrator_tables.outbox, saga_id, DiscardForecast)
    assert [d.attempt for d in discards] == [1, 2, 3]
    assert len({d.event_id for d in discards}) == 3
    saga = await _saga(engine, saga_id)
    assert saga.status == "FAILED"
    (alert,) = await _outgoing(engine, orchestrator_tables.outbox, saga_id, SagaFailedAlert)
    assert "unanswered after 3 attempts" in alert.reason
    clock.now += timedelta(hours=1)
    await orchestrator.tick()  # a terminal saga has no deadline left: nothing more is sent
    assert len(await _outgoing(engine, orchestrator_tables.outbox, saga_id, DiscardForecast)) == 3
