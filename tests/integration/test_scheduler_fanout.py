"""The scheduler's passes on real Postgres with more due tenants than one pass takes: bounded
passes, the oldest due first (a backlog is never starved by tenants due later), several catch-up
dates of one tenant in the same set-based insert, and the jittered next due time written back."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import daily_trigger_id
from orchestrator.scheduler import drain, next_due_at, run_pass, seconds_until_next_due
from orchestrator.scheduling import TenantSchedule, jitter_offset
from orchestrator.tables import outbox, schedule_decisions, schedules

pytestmark = pytest.mark.integration

TENANTS = 1200
BACKLOG = 200  # down since Saturday: Sunday, Monday and Tuesday are past their cut-off
LIMIT = 500
JITTER = timedelta(seconds=20)
TODAY = date(2020, 1, 15)  # a Wednesday, years before any other test's schedules
NOW = datetime(2020, 1, 15, 4, 31, tzinfo=UTC)  # 04:30 run time plus at most 20 s of jitter has passed


def _schedule(tenant: str) -> TenantSchedule:
    return TenantSchedule(tenant, "UTC", run_at=time(4, 30), cutoff=time(9, 0), jitter=jitter_offset(tenant, JITTER))


@pytest.fixture
async def tenants(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    prefix = f"fan-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{i:04d}" for i in range(TENANTS)]
    rows = []
    for i, tenant in enumerate(ids):
        last = TODAY - timedelta(days=4 if i >= TENANTS - BACKLOG else 1)  # the backlog sorts last by id
        rows.append(
            {
                "tenant_id": tenant,
                "time_zone": "UTC",
                "run_at": time(4, 30),
                "cutoff": time(9, 0),
                "last_decided": last,
                "next_due_at": next_due_at(_schedule(tenant), last, NOW),
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(schedules), rows)
    yield ids
    triggers = [daily_trigger_id(t, TODAY) for t in ids]
    async with engine.begin() as conn:
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(ids)))
        await conn.execute(delete(schedule_decisions).where(schedule_decisions.c.tenant_id.in_(ids)))
        await conn.execute(delete(outbox).where(outbox.c.event_id.in_(triggers)))


async def _decided(engine: AsyncEngine, tenants: list[str]) -> list[tuple[str, date, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                schedule_decisions.c.tenant_id, schedule_decisions.c.business_date, schedule_decisions.c.outcome
            ).where(schedule_decisions.c.tenant_id.in_(tenants))
        )
        return [(r.tenant_id, r.business_date, r.outcome) for r in rows]


async def test_passes_are_bounded_take_the_oldest_due_first_and_decide_every_tenant_once(
    engine: AsyncEngine, tenants: list[str]
) -> None:
    first = await run_pass(engine, NOW, horizon_days=14, max_jitter=JITTER, limit=LIMIT)
    assert first.scanned == LIMIT
    decided_first = {t for t, _, _ in await _decided(engine, tenants)}
    # the backlog first, then the others in the order their jittered instants came due
    by_due = sorted(tenants, key=lambda t: (next_due_at(_schedule(t), TODAY - timedelta(days=1), NOW), t))
    backlog = set(tenants[-BACKLOG:])
    assert backlog <= decided_first
    others_first = [t for t in by_due if t in decided_first - backlog]
    assert others_first == [t for t in by_due if t not in backlog][: len(others_first)]
    assert len(others_first) >= LIMIT - BACKLOG - 10  # ≤ 10 slots for rows of other tests, if any are due

    passes = await drain(engine, lambda: NOW, horizon_days=14, max_jitter=JITTER, limit=LIMIT)
    assert all(p.scanned <= LIMIT for p in passes)
    assert passes[-1].scanned < LIMIT

    decided = await _decided(engine, tenants)
    per_tenant = Counter(t for t, _, _ in decided)
    assert {per_tenant[t] for t in tenants[-BACKLOG:]} == {4}  # Sunday … Wednesday, one each
    assert {per_tenant[t] for t in tenants[:-BACKLOG]} == {1}
    assert Counter(o for _, d, o in decided if d < TODAY) == {"SKIPPED_PAST_CUTOFF": 3 * BACKLOG}
    assert sorted(t for t, d, o in decided if d == TODAY and o == "FIRED") == sorted(tenants)
    async with engine.connect() as conn:
        queued = set(
            (
                await conn.execute(
                    select(outbox.c.event_id).where(
                        outbox.c.event_id.in_([daily_trigger_id(t, TODAY) for t in tenants])
                    )
                )
            ).scalars()
        )
        rows = await conn.execute(
            select(schedules.c.tenant_id, schedules.c.next_due_at).where(schedules.c.tenant_id.in_(tenants))
        )
        next_due = {r.tenant_id: r.next_due_at for r in rows}
    assert queued == {daily_trigger_id(t, TODAY) for t in tenants}
    tomorrow = datetime(2020, 1, 16, 4, 30, tzinfo=UTC)
    assert next_due == {t: tomorrow + jitter_offset(t, JITTER) for t in tenants}
    # nothing left for this instant; the loop sleeps its longest, and wakes when the first is due
    assert (await run_pass(engine, NOW, horizon_days=14, max_jitter=JITTER, limit=LIMIT)).recorded == 0
    assert await seconds_until_next_due(engine, NOW, at_most=5.0) == 5.0
    before = tomorrow - timedelta(seconds=2)
    first_due = min(next_due.values())
    assert await seconds_until_next_due(engine, before, at_most=60.0) == (first_due - before).total_seconds()
