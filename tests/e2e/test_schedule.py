"""A tenant's schedule, set with the CLI, triggers its daily plan through the running orchestrator."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from orchestrator.tables import sagas
from tests.e2e.processes import Processes
from tests.e2e.support import TERMINAL, eventually, seed
from tests.e2e.test_cli import as_json, bakeplan

pytestmark = pytest.mark.e2e
ZONES = ("Europe/Madrid", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata", "UTC")


async def test_a_due_schedule_triggers_one_plan_and_records_why(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-sched"
    await seed(engine, tenant)
    now = datetime.now(UTC)
    # a zone where it is daytime, so "a minute ago" and "in two hours" are the same local date
    zone = next(z for z in ZONES if 1 <= now.astimezone(ZoneInfo(z)).hour <= 20)
    local = now.astimezone(ZoneInfo(zone))
    run_at, cutoff = (local - timedelta(minutes=1)).strftime("%H:%M"), (local + timedelta(hours=2)).strftime("%H:%M")

    bad = bakeplan(settings, "schedule", "set", "--tenant", tenant, "--time-zone", "Mars/Olympus")
    assert bad.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in bad.stderr
    done = bakeplan(
        settings, "schedule", "set", "--tenant", tenant, "--time-zone", zone, "--at", run_at, "--cutoff", cutoff
    )
    assert done.returncode == 0, done.stderr

    async def plan() -> tuple[str, object] | None:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(select(sagas.c.status, sagas.c.business_date).where(sagas.c.tenant_id == tenant))
            ).all()
        return (rows[0].status, rows[0].business_date) if len(rows) == 1 and rows[0].status in TERMINAL else None

    status, business_date = await eventually(plan, timeout_s=90, what="the scheduled plan to finish")
    assert status == "COMPLETED"
    assert business_date == local.date()
    decisions = as_json(bakeplan(settings, "schedule", "show", "--tenant", tenant, "--json"))
    assert [(d["business_date"], d["outcome"]) for d in decisions] == [(local.date().isoformat(), "FIRED")]
    paused = bakeplan(settings, "schedule", "pause", "--tenant", tenant)
    assert paused.returncode == 0
    assert "paused" in paused.stdout
    async with engine.connect() as conn:
        assert len((await conn.execute(select(sagas.c.saga_id).where(sagas.c.tenant_id == tenant))).all()) == 1
