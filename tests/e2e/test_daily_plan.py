"""The daily planning saga end to end: real Kafka, real Postgres, every component its own process."""

import asyncio
import functools
import signal
import uuid

import orjson
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.tables import saga_log, sagas, step_results
from tests.e2e.processes import Processes
from tests.e2e.support import eventually, publish, read_topic, saga_row, seed, trigger, wait_terminal, without_supply
from workers.forecasting.tables import forecasts
from workers.procurement.tables import purchase_lines
from workers.production.tables import batches

pytestmark = pytest.mark.e2e


async def _count(engine: AsyncEngine, table: Table, saga_id: uuid.UUID, status: str | None = None) -> int:
    query = select(func.count()).select_from(table).where(table.c.saga_id == saga_id)
    if status is not None:
        query = query.where(table.c.status == status)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _all_active(engine: AsyncEngine, saga_id: uuid.UUID) -> bool | None:
    for table in (forecasts, batches, purchase_lines):
        if await _count(engine, table, saga_id, "draft") > 0:
            return None
    return True


async def _timeline(engine: AsyncEngine, saga_id: uuid.UUID) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(saga_log.c.kind, saga_log.c.step).where(saga_log.c.saga_id == saga_id).order_by(saga_log.c.id)
        )
        return [(r.kind, r.step) for r in rows]


async def test_three_tenants_planned_concurrently(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenants = [f"{tenant_prefix}-{n}" for n in range(3)]
    for n, tenant in enumerate(tenants):
        await seed(engine, tenant, seed=n)
    saga_ids = await asyncio.gather(*(trigger(settings, t) for t in tenants))

    finished = [await wait_terminal(engine, s) for s in saga_ids]

    assert [f["status"] for f in finished] == ["COMPLETED"] * 3
    assert sorted(f["tenant_id"] for f in finished) == sorted(tenants)
    for saga_id in saga_ids:
        await eventually(functools.partial(_all_active, engine, saga_id), what="drafts to become active")
        assert await _count(engine, forecasts, saga_id, "active") > 0
        assert await _count(engine, batches, saga_id, "active") > 0
        assert await _count(engine, purchase_lines, saga_id, "active") > 0
        steps = [step for kind, step in await _timeline(engine, saga_id) if kind == "step_done"]
        assert steps == ["forecasting", "production", "procurement", "release"]
    # tenants stay apart: every stored row of a saga belongs to its tenant
    async with engine.connect() as conn:
        for saga_id, f in zip(saga_ids, finished, strict=True):
            owners = await conn.execute(select(batches.c.tenant_id).where(batches.c.saga_id == saga_id).distinct())
            assert owners.scalars().all() == [f["tenant_id"]]


async def test_second_trigger_for_the_same_day_is_a_no_op(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-dup"
    await seed(engine, tenant)
    first = await trigger(settings, tenant)
    await wait_terminal(engine, first)
    second = await trigger(settings, tenant)

    async def logged_duplicate() -> bool | None:
        return True if ("duplicate_trigger", None) in await _timeline(engine, first) else None

    await eventually(logged_duplicate, what="the duplicate trigger to be recorded")
    assert await saga_row(engine, second) is None
    async with engine.connect() as conn:
        n = (
            await conn.execute(select(func.count()).select_from(sagas).where(sagas.c.tenant_id == tenant))
        ).scalar_one()
    assert n == 1


async def test_procurement_failure_compensates_in_reverse_order(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-nosupplier"
    # flour is in most recipes; with no stock of it and no supplier offering it, procurement cannot plan
    flour = await without_supply(engine, await seed(engine, tenant))
    saga_id = await trigger(settings, tenant)

    finished = await wait_terminal(engine, saga_id)

    assert finished["status"] == "COMPENSATED"
    assert flour in finished["reason"]
    compensations = [step for kind, step in await _timeline(engine, saga_id) if kind == "CompensateStep"]
    assert compensations == ["production", "forecasting"]
    assert await _count(engine, batches, saga_id) > 0
    assert await _count(engine, batches, saga_id, "cancelled") == await _count(engine, batches, saga_id)
    assert await _count(engine, forecasts, saga_id, "cancelled") == await _count(engine, forecasts, saga_id)
    assert await _count(engine, purchase_lines, saga_id) == 0
    for table in (forecasts, batches, purchase_lines):
        assert await _count(engine, table, saga_id, "active") == 0


async def test_orchestrator_killed_mid_saga_completes_after_restart(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-crash"
    await seed(engine, tenant)
    processes.kill("production", signal.SIGTERM)  # hold the saga between steps
    try:
        saga_id = await trigger(settings, tenant)

        async def waiting_for_production() -> bool | None:
            row = await saga_row(engine, saga_id)
            steps = {s["name"]: s["status"] for s in row["state"]["steps"]} if row else {}
            return True if steps.get("production") == "RUNNING" else None

        await eventually(waiting_for_production, what="the saga to wait on production")
        processes.kill("orchestrator", signal.SIGKILL)
        processes.start("orchestrator")
    finally:
        processes.start("production")

    finished = await wait_terminal(engine, saga_id)

    assert finished["status"] == "COMPLETED"
    assert processes.starts["orchestrator"] >= 2
    timeline = await _timeline(engine, saga_id)
    assert [s for k, s in timeline if k == "step_done"] == ["forecasting", "production", "procurement", "release"]
    assert [k for k, _ in timeline].count("started") == 1
    async with engine.connect() as conn:
        results = await conn.execute(select(step_results.c.step).where(step_results.c.saga_id == saga_id))
        assert sorted(results.scalars().all()) == ["forecasting", "procurement", "production", "release"]
        # each forecast line exists once: the stored rows equal the lines the worker replied with
        payload = (
            await conn.execute(
                select(step_results.c.payload).where(
                    step_results.c.saga_id == saga_id, step_results.c.step == "forecasting"
                )
            )
        ).scalar_one()
    assert await _count(engine, forecasts, saga_id) == len(orjson.loads(payload)["forecast"])


async def test_malformed_messages_are_parked_and_consumers_keep_working(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    marker = uuid.uuid4().hex
    garbage = f'{{"not json at all {marker}'.encode()
    wrong_types = orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "planning.requested",
            "tenant_id": f"{tenant_prefix}-x",
            "occurred_at": "2026-11-28T04:30:00+00:00",
            "business_date": f"not-a-date-{marker}",
        }
    )
    unknown_tenant = orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "planning.requested",
            "tenant_id": f"nobody-{marker}",
            "occurred_at": "2026-11-28T04:30:00+00:00",
            "business_date": "2026-11-28",
        }
    )
    await publish(settings, Topic.TRIGGERS, garbage, key=b"x")
    await publish(settings, Topic.TRIGGERS, wrong_types, key=b"x")
    await publish(settings, Topic.TRIGGERS, unknown_tenant, key=f"nobody-{marker}".encode())
    await publish(settings, Topic.FORECASTING_COMMANDS, garbage, key=b"x")
    await publish(settings, Topic.PRODUCTION_COMMANDS, unknown_tenant, key=b"someone-else")

    parked = await read_topic(settings, Topic.DEAD_LETTER, lambda r: marker.encode() in (r.value or b""), timeout_s=60)
    while len(parked) < 5:
        parked = await read_topic(settings, Topic.DEAD_LETTER, lambda r: marker.encode() in (r.value or b""))

    by_value = {(r.value, dict(r.headers)["dlq.consumer"]): dict(r.headers) for r in parked}
    assert set(by_value) == {
        (garbage, b"orchestrator"),
        (wrong_types, b"orchestrator"),
        (unknown_tenant, b"orchestrator"),
        (garbage, b"forecasting"),
        (unknown_tenant, b"production"),
    }
    assert b"not valid JSON" in by_value[(garbage, b"orchestrator")]["dlq.reason"]
    assert b"business_date" in by_value[(wrong_types, b"orchestrator")]["dlq.reason"]
    assert b"unknown tenant" in by_value[(unknown_tenant, b"orchestrator")]["dlq.reason"]
    assert b"differs from the payload's tenant_id" in by_value[(unknown_tenant, b"production")]["dlq.reason"]
    assert (
        by_value[(garbage, b"forecasting")]["dlq.source.topic"] == settings.topic(Topic.FORECASTING_COMMANDS).encode()
    )
    async with engine.connect() as conn:
        n = await conn.execute(select(func.count()).select_from(sagas).where(sagas.c.tenant_id == f"nobody-{marker}"))
        assert n.scalar_one() == 0
    # the consumers are still alive and planning
    tenant = f"{tenant_prefix}-after"
    await seed(engine, tenant)
    finished = await wait_terminal(engine, await trigger(settings, tenant))
    assert finished["status"] == "COMPLETED"
