"""An external cron (`bakeplan trigger`) and the orchestrator's scheduler trigger the same tenant
and day: both use the day's trigger id, so the day gets one plan whichever comes first."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import daily_trigger_id, saga_id_for_trigger
from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.tables import outbox, saga_log, sagas, schedule_decisions
from tests.e2e.processes import Processes
from tests.e2e.support import eventually, seed
from tests.e2e.test_cli import as_json, bakeplan
from tests.e2e.test_schedule import ZONES
from tests.faults import kafka_state

pytestmark = pytest.mark.e2e


async def test_a_cli_trigger_and_the_scheduler_for_the_same_day_make_one_plan(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-cron"
    await seed(engine, tenant)
    now = datetime.now(UTC)
    zone = next(z for z in ZONES if 1 <= now.astimezone(ZoneInfo(z)).hour <= 20)
    local = now.astimezone(ZoneInfo(zone))
    day = local.date()
    daily_id = daily_trigger_id(tenant, day)

    # the external cron first: it publishes the day's trigger id, not a random one
    by_cron = as_json(
        bakeplan(
            settings,
            "trigger",
            "--tenant",
            tenant,
            "--date",
            day.isoformat(),
            "--source",
            "external",
            "--wait",
            "--json",
        )
    )
    assert by_cron["saga_id"] == str(saga_id_for_trigger(daily_id))
    assert by_cron["status"] == "COMPLETED"
    async with engine.connect() as conn:
        started = (
            await conn.execute(
                select(saga_log.c.detail).where(
                    saga_log.c.saga_id == saga_id_for_trigger(daily_id), saga_log.c.kind == "started"
                )
            )
        ).scalar_one()
    assert started.startswith("by cli (external);"), started

    # then the tenant's schedule comes due for the same day: the scheduler fires the same trigger
    run_at, cutoff = (local - timedelta(minutes=1)).strftime("%H:%M"), (local + timedelta(hours=2)).strftime("%H:%M")
    done = bakeplan(
        settings, "schedule", "set", "--tenant", tenant, "--time-zone", zone, "--at", run_at, "--cutoff", cutoff
    )
    assert done.returncode == 0, done.stderr

    async def scheduler_trigger_published() -> bool | None:
        async with engine.connect() as conn:
            published = (
                await conn.execute(select(outbox.c.published_at).where(outbox.c.event_id == daily_id))
            ).scalar_one_or_none()
        return published is not None or None

    await eventually(scheduler_trigger_published, timeout_s=90, what="the scheduler's trigger on Kafka")
    async with engine.connect() as conn:
        decision = (
            await conn.execute(
                select(schedule_decisions.c.outcome, schedule_decisions.c.trigger_event_id).where(
                    schedule_decisions.c.tenant_id == tenant, schedule_decisions.c.business_date == day
                )
            )
        ).one()
    assert (decision.outcome, decision.trigger_event_id) == ("FIRED", daily_id)

    # the orchestrator's inbox drops it: still the cron's one saga, checked once the orchestrator has
    # consumed every trigger published so far (so "one saga" is not just "no second one yet")
    ends = await kafka_state.end_offsets(settings, [Topic.TRIGGERS])

    async def triggers_consumed() -> bool | None:
        return kafka_state.lag(await kafka_state.committed(settings, "bakeplan.orchestrator"), ends) == 0 or None

    await eventually(triggers_consumed, timeout_s=60, what="the orchestrator to consume the scheduler's trigger")
    async with engine.connect() as conn:
        plans = (await conn.execute(select(sagas.c.saga_id, sagas.c.status).where(sagas.c.tenant_id == tenant))).all()
    assert [(p.saga_id, p.status) for p in plans] == [(saga_id_for_trigger(daily_id), "COMPLETED")]

    again = as_json(bakeplan(settings, "trigger", "--tenant", tenant, "--date", day.isoformat(), "--json"))
    assert (again["saga_id"], again["already_planned"]) == (by_cron["saga_id"], True)
