"""The scheduler adapter: turns due schedules into decisions and daily triggers, exactly once per
(tenant, business date) with any number of orchestrator replicas and across restarts.

Each pass locks due schedule rows with `FOR UPDATE SKIP LOCKED` (replicas split the tenants, none
waits on another), asks the pure `decide_due` what happened since the last decided date, inserts
each decision under the (tenant, business date) primary key, and queues the `PlanningRequested` of a
FIRED decision in the orchestrator's outbox — all in one transaction. The trigger's event id is
derived from tenant and date, so even a decision written twice could not start two sagas.
"""

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bakeplan.messaging import outbox as outbox_store
from bakeplan.messaging.outbox import Outgoing
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from orchestrator.scheduling import Outcome, TenantSchedule, decide_due
from orchestrator.tables import outbox, schedule_decisions, schedules

DAILY_TRIGGER_NAMESPACE = UUID("2d5e8a9c-61f4-4b7e-8c1a-5f0b9d3e7a24")


def daily_trigger_id(tenant_id: str, business_date: date) -> UUID:
    return uuid5(DAILY_TRIGGER_NAMESPACE, f"{tenant_id}:{business_date.isoformat()}")


def _schedule(row: Row[Any]) -> TenantSchedule:
    return TenantSchedule(
        tenant_id=row.tenant_id,
        time_zone=row.time_zone,
        run_at=row.run_at,
        cutoff=row.cutoff,
        closed_weekdays=frozenset(row.closed_weekdays),
        closed_dates=frozenset(row.closed_dates),
        paused=row.paused,
    )


def next_due_at(schedule: TenantSchedule, last_decided: date | None, now: datetime) -> datetime:
    day = last_decided + timedelta(days=1) if last_decided is not None else schedule.local_date(now)
    return schedule.due_at(day)


async def run_due(engine: AsyncEngine, now: datetime, *, horizon_days: int, limit: int = 500) -> int:
    """One pass over at most `limit` due schedules; returns how many decisions it recorded."""
    recorded = 0
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(schedules)
                .where(or_(schedules.c.next_due_at.is_(None), schedules.c.next_due_at <= now))
                .order_by(schedules.c.next_due_at.nulls_first())
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        triggers: list[Outgoing] = []
        for row in rows:
            schedule = _schedule(row)
            last = row.last_decided
            for decision in decide_due(schedule, last_decided=last, now=now):
                trigger_id = daily_trigger_id(row.tenant_id, decision.business_date)
                fired = decision.outcome is Outcome.FIRED
                inserted = (
                    await conn.execute(
                        insert(schedule_decisions)
                        .values(
                            tenant_id=row.tenant_id,
                            business_date=decision.business_date,
                            outcome=decision.outcome.value,
                            due_at=decision.due_at,
                            decided_at=now,
                            reason=decision.reason,
                            trigger_event_id=trigger_id if fired else None,
                        )
                        .on_conflict_do_nothing()
                        .returning(schedule_decisions.c.business_date)
                    )
                ).first()
                last = decision.business_date
                if inserted is None:
                    continue
                recorded += 1
                if fired:
                    message = PlanningRequested(
                        event_id=trigger_id,
                        tenant_id=row.tenant_id,
                        occurred_at=now,
                        business_date=decision.business_date,
                        source="schedule",
                        requested_by="scheduler",
                        horizon_days=horizon_days,
                    )
                    triggers.append(Outgoing(Topic.TRIGGERS, message))
            await conn.execute(
                update(schedules)
                .where(schedules.c.tenant_id == row.tenant_id)
                .values(last_decided=last, next_due_at=next_due_at(schedule, last, now), updated_at=now)
            )
        await outbox_store.add(conn, outbox, triggers)
    return recorded


async def set_schedule(conn: AsyncConnection, schedule: TenantSchedule) -> None:
    """Create or replace a tenant's schedule (pausing is separate). The next pass re-plans its due
    time; dates already decided stay decided."""
    values = {
        "time_zone": schedule.time_zone,
        "run_at": schedule.run_at,
        "cutoff": schedule.cutoff,
        "closed_weekdays": sorted(schedule.closed_weekdays),
        "closed_dates": sorted(schedule.closed_dates),
        "next_due_at": None,
    }
    await conn.execute(
        insert(schedules)
        .values(tenant_id=schedule.tenant_id, **values)
        .on_conflict_do_update(index_elements=["tenant_id"], set_={**values, "updated_at": func.now()})
    )


async def set_paused(conn: AsyncConnection, tenant_id: str, *, paused: bool) -> bool:
    """Pause or resume; False when the tenant has no schedule. Dates that come due while paused are
    recorded as skipped, so resuming does not catch up on them."""
    result = await conn.execute(
        update(schedules).where(schedules.c.tenant_id == tenant_id).values(paused=paused, updated_at=func.now())
    )
    return bool(result.rowcount)


async def recent_decisions(conn: AsyncConnection, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(schedule_decisions)
        .where(schedule_decisions.c.tenant_id == tenant_id)
        .order_by(schedule_decisions.c.business_date.desc())
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]
