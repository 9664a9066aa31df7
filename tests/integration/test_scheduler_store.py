"""The scheduler on real Postgres: two replicas scanning at the same instant record one decision
and queue one trigger per tenant and business date; later passes add nothing until the next day."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import daily_trigger_id
from contracts.messages import PlanningRequested
from infra.db import create_engine
from infra.messaging.codec import decode
from infra.settings import Settings
from orchestrator.scheduler import run_due
from orchestrator.tables import outbox, schedule_decisions, schedules

pytestmark = pytest.mark.integration
TENANTS = 30


@pytest.fixture
async def replica(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A second orchestrator's own connection pool."""
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def tenants(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    prefix = f"sch-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{i}" for i in range(TENANTS)]
    rows = [
        {
            "tenant_id": t,
            "time_zone": "Europe/Madrid" if i % 2 else "America/New_York",
            "run_at": time(4, 30),
            "cutoff": time(9, 0),
            "closed_weekdays": [6] if i == 0 else [],
        }
        for i, t in enumerate(ids)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(schedules), rows)
    yield ids
    async with engine.begin() as conn:
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(ids)))


async def _decisions(engine: AsyncEngine, tenants: list[str]) -> list[tuple[str, date, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(schedule_decisions.c.tenant_id, schedule_decisions.c.business_date, schedule_decisions.c.outcome)
            .where(schedule_decisions.c.tenant_id.in_(tenants))
            .order_by(schedule_decisions.c.tenant_id, schedule_decisions.c.business_date)
        )
        return [(r.tenant_id, r.business_date, r.outcome) for r in rows]


async def _triggers(engine: AsyncEngine, tenants: list[str], days: list[date]) -> list[PlanningRequested]:
    ids = [daily_trigger_id(t, d) for t in tenants for d in days]
    async with engine.connect() as conn:
        payloads = (await conn.execute(select(outbox.c.payload).where(outbox.c.event_id.in_(ids)))).scalars().all()
        n = (
            await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.event_id.in_(ids)))
        ).scalar_one()
    assert n == len(payloads)
    return [m for m in map(decode, payloads) if isinstance(m, PlanningRequested)]


async def test_two_replicas_record_one_decision_and_one_trigger_per_tenant_and_day(
    engine: AsyncEngine, replica: AsyncEngine, tenants: list[str]
) -> None:
    # Sat 2026-11-28 12:00Z: 13:00 in Madrid, 07:00 in New York — both past 04:30, before the 09:00 cut-off
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    saturday, sunday = date(2026, 11, 28), date(2026, 11, 29)
    counts = await asyncio.gather(
        *(run_due(e, now, horizon_days=14, limit=7) for e in (engine, replica, engine, replica))
    )
    while sum(await asyncio.gather(run_due(engine, now, horizon_days=14), run_due(replica, now, horizon_days=14))):
        pass
    decided = await _decisions(engine, tenants)
    assert sum(counts) > 0
    assert len(decided) == TENANTS
    assert len({(t, d) for t, d, _ in decided}) == TENANTS  # one per tenant and day
    by_zone = {o for t, _, o in decided if int(t.rsplit("-", 1)[1]) % 2}  # Madrid: 13:00 > 09:00 cut-off
    assert by_zone == {"SKIPPED_PAST_CUTOFF"}
    fired = [t for t, _, o in decided if o == "FIRED"]
    assert len(fired) == TENANTS // 2  # New York, 07:00 local
    triggers = await _triggers(engine, tenants, [saturday])
    assert sorted(m.tenant_id for m in triggers) == sorted(fired)
    assert all(m.business_date == saturday and m.requested_by == "scheduler" for m in triggers)

    # a restart later the same day decides nothing new
    assert await run_due(replica, datetime(2026, 11, 28, 20, 0, tzinfo=UTC), horizon_days=14) == 0

    # Sunday 09:45Z: 04:45 in New York, 10:45 in Madrid (past its cut-off); tenant 0 is closed on Sundays
    sunday_now = datetime(2026, 11, 29, 9, 45, tzinfo=UTC)
    await asyncio.gather(run_due(engine, sunday_now, horizon_days=14), run_due(replica, sunday_now, horizon_days=14))
    sunday_decided = [(t, o) for t, d, o in await _decisions(engine, tenants) if d == sunday]
    assert len(sunday_decided) == TENANTS
    assert dict(sunday_decided)[tenants[0]] == "SKIPPED_CLOSED"
    assert len(await _triggers(engine, tenants, [sunday])) == TENANTS // 2 - 1
