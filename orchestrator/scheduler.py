"""The scheduler adapter: turns due schedules into decisions and daily triggers, exactly once per
(tenant, business date) with any number of orchestrator replicas and across restarts.

Each pass locks due schedule rows with `FOR UPDATE SKIP LOCKED` (replicas split the tenants, none
waits on another), asks the pure `decide_due` what happened since the last decided date, inserts
each decision under the (tenant, business date) primary key, and queues the `PlanningRequested` of a
FIRED decision in the orchestrator's outbox — all in one transaction, with one statement per table
whatever the number of tenants (10,000 stores of a chain share a run time). The trigger's event id
is derived from tenant and date (`daily_trigger_id`, also used by `bakeplan trigger`), so even a
decision written twice, or an external cron publishing the same trigger, could not start two sagas.
"""

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.ids import daily_trigger_id
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging import outbox as outbox_store
from infra.messaging.consumer import is_transient
from infra.messaging.outbox import Outgoing
from orchestrator.quarantine import MemoryQuarantine, Quarantine, Scan
from orchestrator.scheduling import Outcome, TenantSchedule, decide_due, jitter_offset
from orchestrator.tables import outbox, schedule_decisions, schedules

log = logging.getLogger(__name__)


def _schedule(row: Row[Any], max_jitter: timedelta) -> TenantSchedule:
    return TenantSchedule(
        tenant_id=row.tenant_id,
        time_zone=row.time_zone,
        run_at=row.run_at,
        cutoff=row.cutoff,
        closed_weekdays=frozenset(row.closed_weekdays),
        closed_dates=frozenset(row.closed_dates),
        paused=row.paused,
        jitter=jitter_offset(row.tenant_id, max_jitter),
    )


def next_due_at(schedule: TenantSchedule, last_decided: date | None, now: datetime) -> datetime:
    """When the next undecided date of `schedule` fires (run time plus the tenant's jitter)."""
    day = last_decided + timedelta(days=1) if last_decided is not None else schedule.local_date(now)
    return schedule.fires_at(day)


@dataclass(frozen=True)
class Pass:
    scanned: int
    """Due schedules this pass locked; fewer than the limit means none was left (for this replica)."""
    recorded: int
    """Decisions it recorded (fired or skipped)."""
    fired: int
    """Triggers it queued."""
    failed: int = 0
    """Schedules whose decision raised (counted in the quarantine; the others went on)."""


def _decisions(row: Row[Any], max_jitter: timedelta, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One schedule's progress and the decisions it came due for (raises on a schedule that cannot
    be decided, e.g. an unknown time zone)."""
    schedule = _schedule(row, max_jitter)
    due = decide_due(schedule, last_decided=row.last_decided, now=now)
    last = due[-1].business_date if due else row.last_decided
    progress = {"t": row.tenant_id, "last": last, "next": next_due_at(schedule, last, now)}
    decisions = [
        {
            "tenant_id": d.tenant_id,
            "business_date": d.business_date,
            "outcome": d.outcome.value,
            "due_at": d.due_at,
            "decided_at": now,
            "reason": d.reason,
            "trigger_event_id": (
                daily_trigger_id(d.tenant_id, d.business_date) if d.outcome is Outcome.FIRED else None
            ),
        }
        for d in due
    ]
    return progress, decisions


async def run_pass(
    engine: AsyncEngine,
    now: datetime,
    *,
    horizon_days: int,
    max_jitter: timedelta = timedelta(0),
    limit: int = 500,
    quarantine: Quarantine | None = None,
) -> Pass:
    """One transaction over at most `limit` due schedules, oldest due first (so a backlog drains in
    due order and no tenant waits behind later ones). Set-based: one SELECT … FOR UPDATE SKIP
    LOCKED, then one statement each for the decisions, the triggers and the schedules' progress, with
    the rows as parameters (sent as multi-row INSERTs and one pipelined batch of UPDATEs), however
    many tenants are due.

    A schedule whose decision raises is left as it was (the others are decided) and counted in
    `quarantine` once the pass committed; a quarantined schedule is not read."""
    quarantine = quarantine or MemoryQuarantine()
    failing = await quarantine.failing(Scan.SCHEDULES)
    held = [item for item, f in failing.items() if f.quarantined]
    failures: list[tuple[str, Exception]] = []
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(schedules)
                .where(
                    or_(schedules.c.next_due_at.is_(None), schedules.c.next_due_at <= now),
                    schedules.c.tenant_id.not_in(held),
                )
                .order_by(schedules.c.next_due_at.nulls_first(), schedules.c.tenant_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return Pass(0, 0, 0)
        decisions: list[dict[str, Any]] = []
        progress: list[dict[str, Any]] = []
        for row in rows:
            try:
                one_progress, one_decisions = _decisions(row, max_jitter, now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                failures.append((row.tenant_id, exc))
                continue
            progress.append(one_progress)
            decisions += one_decisions
        # one cached statement with the rows as parameters: SQLAlchemy sends it as multi-row INSERTs
        # (insertmanyvalues), instead of compiling a new 500-row VALUES statement every pass
        inserted: set[tuple[str, date]] = set()
        if decisions:
            result = await conn.execute(
                insert(schedule_decisions)
                .on_conflict_do_nothing()
                .returning(schedule_decisions.c.tenant_id, schedule_decisions.c.business_date),
                decisions,
            )
            inserted = {(r.tenant_id, r.business_date) for r in result}
        # a decision already recorded (by a replica that read the schedule before this one's update)
        # is not triggered again
        triggers = [
            Outgoing(
                Topic.TRIGGERS,
                PlanningRequested(
                    event_id=d["trigger_event_id"],
                    tenant_id=d["tenant_id"],
                    occurred_at=now,
                    business_date=d["business_date"],
                    source="schedule",
                    requested_by="scheduler",
                    horizon_days=horizon_days,
                ),
            )
            for d in decisions
            if d["trigger_event_id"] is not None and (d["tenant_id"], d["business_date"]) in inserted
        ]
        await outbox_store.add(conn, outbox, triggers)
        if progress:
            await conn.execute(
                update(schedules)
                .where(schedules.c.tenant_id == bindparam("t"))
                .values(last_decided=bindparam("last"), next_due_at=bindparam("next"), updated_at=now),
                progress,
            )
    for tenant_id, error in failures:
        log.warning("schedule of tenant %s cannot be decided: %r", tenant_id, error)
        await quarantine.failed(Scan.SCHEDULES, tenant_id, tenant_id=tenant_id, error=error, at=now)
    failed = {tenant_id for tenant_id, _ in failures}
    for tenant_id in failing.keys() - failed - set(held):
        if any(p["t"] == tenant_id for p in progress):
            await quarantine.cleared(Scan.SCHEDULES, tenant_id)
    return Pass(scanned=len(rows), recorded=len(inserted), fired=len(triggers), failed=len(failures))


async def run_due(
    engine: AsyncEngine, now: datetime, *, horizon_days: int, max_jitter: timedelta = timedelta(0), limit: int = 500
) -> int:
    """One pass (see `run_pass`); returns how many decisions it recorded."""
    return (await run_pass(engine, now, horizon_days=horizon_days, max_jitter=max_jitter, limit=limit)).recorded


async def drain(
    engine: AsyncEngine,
    clock: Callable[[], datetime],
    *,
    horizon_days: int,
    max_jitter: timedelta,
    limit: int = 500,
    on_pass: Callable[[Pass], None] = lambda p: None,
    quarantine: Quarantine | None = None,
) -> list[Pass]:
    """Passes until one finds fewer than `limit` due schedules: bounded work per transaction, the
    backlog in due order. Each pass reads the clock afresh, so tenants that come due meanwhile join."""
    passes = []
    while True:
        result = await run_pass(
            engine, clock(), horizon_days=horizon_days, max_jitter=max_jitter, limit=limit, quarantine=quarantine
        )
        if result.recorded:
            log.info("scheduler pass: %d decisions, %d triggers queued", result.recorded, result.fired)
        passes.append(result)
        on_pass(result)
        if result.scanned < limit:
            return passes


# the shortest sleep between scans: tenants jittered a few ms apart share a pass instead of one each
_MIN_PAUSE_SECONDS = 0.2


async def scan_forever(
    engine: AsyncEngine,
    clock: Callable[[], datetime],
    *,
    horizon_days: int,
    max_jitter: timedelta,
    scan_seconds: float,
    on_pass: Callable[[Pass], None] = lambda p: None,
    quarantine: Quarantine | None = None,
) -> None:
    """The scheduler of one orchestrator replica: drain the due schedules, then sleep until the next
    one comes due (at most `scan_seconds`, which also bounds how long a new schedule waits). A
    failed pass rolls back and is retried after `scan_seconds`."""
    while True:
        try:
            quarantine = quarantine or MemoryQuarantine()
            await drain(
                engine, clock, horizon_days=horizon_days, max_jitter=max_jitter, on_pass=on_pass, quarantine=quarantine
            )
            failing = await quarantine.failing(Scan.SCHEDULES)
            # a schedule that failed stays due: sleeping until it would spin, so it waits a full scan
            pause = await seconds_until_next_due(engine, clock(), at_most=scan_seconds, exclude=failing.keys())
        except Exception:
            log.exception("schedule scan failed; retrying in %.1f s", scan_seconds)
            pause = scan_seconds
        await asyncio.sleep(max(pause, min(_MIN_PAUSE_SECONDS, scan_seconds)))


async def seconds_until_next_due(
    engine: AsyncEngine, now: datetime, *, at_most: float, exclude: Collection[str] = ()
) -> float:
    """How long a scheduler may sleep before the next schedule comes due: between 0 and `at_most`
    (a new schedule, which has no due time yet, is found within `at_most`). Schedules of the tenants
    in `exclude` are not waited for."""
    query = select(func.min(schedules.c.next_due_at)).where(schedules.c.tenant_id.not_in(list(exclude)))
    async with engine.connect() as conn:
        earliest: datetime | None = (await conn.execute(query)).scalar_one()
    if earliest is None:
        return at_most
    return min(max((earliest - now).total_seconds(), 0.0), at_most)


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
