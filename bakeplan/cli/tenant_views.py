"""Read models of the tenants for the CLI: the list `bakeplan tenants` prints, and a tenant's local today.

A tenant's business day is its own calendar date: a bakery in Kiritimati (UTC+14) plans "tomorrow"
in UTC terms from 10:00 UTC on, one in Pago Pago (UTC−11) plans "yesterday" until 11:00 UTC. So a
trigger without `--date` plans `local_today(tenant's time zone, now)`, as the scheduler does.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.terminal import fail
from orchestrator import masterdata as md
from orchestrator.ports import SagaKind
from orchestrator.scheduler import next_due_at
from orchestrator.scheduling import TenantSchedule, jitter_offset
from orchestrator.tables import sagas, schedules


def unknown_tenant(tenant: str) -> str:
    """The one message for a tenant id that names no tenant: where to find the ids, how to make one."""
    return (
        f"unknown tenant {tenant!r}: list the tenants with `bakeplan tenants`, "
        "or create one with `bakeplan seed` or `bakeplan import`"
    )


def local_today(time_zone: str, now: datetime) -> date:
    """The calendar date at `now` (timezone-aware) in IANA `time_zone`; raises ValueError for an
    unknown zone or a naive `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc
    return now.astimezone(zone).date()


async def business_date_for(conn: AsyncConnection, tenant_id: str, now: datetime) -> date | None:
    """The tenant's local date at `now` (its `masterdata.tenants.timezone`); `None` for an unknown tenant."""
    zone = (
        await conn.execute(select(md.tenants.c.timezone).where(md.tenants.c.tenant_id == tenant_id))
    ).scalar_one_or_none()
    return None if zone is None else local_today(zone, now)


def tenant_today(tenant_id: str, now: datetime | None = None) -> date:
    """The tenant's local today (`now` defaults to the clock); exits 2 for an unknown tenant."""
    at = now or datetime.now(UTC)
    day = with_db(lambda conn: business_date_for(conn, tenant_id, at))
    if day is None:
        fail(unknown_tenant(tenant_id))
    return day


def _schedule_json(row: Any, now: datetime, max_jitter: timedelta) -> dict[str, Any] | None:
    if row.run_at is None:
        return None
    next_run = row.next_due_at
    if next_run is None and not row.paused:  # not scanned yet: when the scheduler will fire it
        schedule = TenantSchedule(
            row.tenant_id,
            row.schedule_zone,
            run_at=row.run_at,
            cutoff=row.cutoff,
            jitter=jitter_offset(row.tenant_id, max_jitter),
        )
        next_run = next_due_at(schedule, row.last_decided, now)
    return {
        "time_zone": row.schedule_zone,
        "run_at": f"{row.run_at:%H:%M}",
        "cutoff": f"{row.cutoff:%H:%M}",
        "paused": row.paused,
        "next_run_at": None if row.paused or next_run is None else next_run.astimezone(UTC),
    }


async def list_tenants(
    conn: AsyncConnection, *, prefix: str | None, limit: int, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Tenants by id (those starting with `prefix`), at most `limit`, and how many match in all.

    Each: `tenant_id`, `name`, `time_zone`, `currency`, `schedule` (None without one; else its zone,
    run time, cut-off, `paused` and `next_run_at` in UTC, None while paused) and `last_plan` (the
    newest daily saga: `saga_id`, `business_date`, `status`; None before the first)."""
    where = md.tenants.c.tenant_id.startswith(prefix, autoescape=True) if prefix else true()
    total = (await conn.execute(select(func.count()).select_from(md.tenants).where(where))).scalar_one()
    last = (
        select(sagas.c.saga_id, sagas.c.business_date, sagas.c.status)
        .where(sagas.c.tenant_id == md.tenants.c.tenant_id, sagas.c.kind == SagaKind.DAILY)
        .order_by(sagas.c.created_at.desc())
        .limit(1)
        .lateral("last_plan")
    )
    query = (
        select(
            md.tenants.c.tenant_id,
            md.tenants.c.name,
            md.tenants.c.timezone,
            md.tenants.c.currency,
            schedules.c.time_zone.label("schedule_zone"),
            schedules.c.run_at,
            schedules.c.cutoff,
            schedules.c.paused,
            schedules.c.last_decided,
            schedules.c.next_due_at,
            last.c.saga_id,
            last.c.business_date,
            last.c.status,
        )
        .select_from(
            md.tenants.outerjoin(schedules, schedules.c.tenant_id == md.tenants.c.tenant_id).outerjoin(last, true())
        )
        .where(where)
        .order_by(md.tenants.c.tenant_id)
        .limit(limit)
    )
    max_jitter = timedelta(seconds=load_settings().schedule_jitter_seconds)
    tenants = [
        {
            "tenant_id": row.tenant_id,
            "name": row.name,
            "time_zone": row.timezone,
            "currency": row.currency,
            "schedule": _schedule_json(row, now, max_jitter),
            "last_plan": None
            if row.saga_id is None
            else {"saga_id": row.saga_id, "business_date": row.business_date, "status": row.status},
        }
        for row in await conn.execute(query)
    ]
    return tenants, int(total)
