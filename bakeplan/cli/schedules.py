"""`bakeplan schedule`: each tenant's daily run, which the orchestrator's scheduler triggers when due."""

from datetime import time as dt_time
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import date_or_today, with_db
from bakeplan.cli.tenant_views import unknown_tenant
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from orchestrator import masterdata, scheduler
from orchestrator.scheduling import TenantSchedule


def _parse_time(value: str, option: str) -> dt_time:
    try:
        return dt_time.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a local time HH:MM (e.g. 04:30)")


def schedule_set(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Madrid.")],
    at: Annotated[str, typer.Option(help="Local run time HH:MM.")] = "04:30",
    cutoff: Annotated[str, typer.Option(help="Local time after which a missed run is skipped.")] = "10:00",
    closed_weekday: Annotated[list[int] | None, typer.Option(help="Closed weekday, 0=Mon … 6=Sun (repeat).")] = None,
    closed_date: Annotated[list[str] | None, typer.Option(help="Closed date YYYY-MM-DD (repeat).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or replace TENANT's daily schedule; the orchestrator triggers its plan when due."""
    try:
        schedule = TenantSchedule(
            tenant,
            time_zone,
            run_at=_parse_time(at, "--at"),
            cutoff=_parse_time(cutoff, "--cutoff"),
            closed_weekdays=frozenset(closed_weekday or ()),
            closed_dates=frozenset(date_or_today(d) for d in closed_date or ()),
        )
    except ValueError as exc:
        fail(str(exc))

    async def write(conn: AsyncConnection) -> bool:
        if not await masterdata.tenant_exists(conn, tenant):
            return False
        await scheduler.set_schedule(conn, schedule)
        return True

    if not with_db(write):
        fail(unknown_tenant(tenant))
    if as_json:
        print_json(
            {
                "tenant_id": tenant,
                "time_zone": time_zone,
                "run_at": f"{schedule.run_at:%H:%M}",
                "cutoff": f"{schedule.cutoff:%H:%M}",
                "closed_weekdays": sorted(schedule.closed_weekdays),
                "closed_dates": sorted(d.isoformat() for d in schedule.closed_dates),
            }
        )
        return
    typer.echo(f"{tenant}: daily at {schedule.run_at:%H:%M} {time_zone}, cut-off {schedule.cutoff:%H:%M}")


def _pause(tenant: str, *, paused: bool, as_json: bool) -> None:
    if not with_db(lambda conn: scheduler.set_paused(conn, tenant, paused=paused)):
        fail(f"tenant {tenant!r} has no schedule: create one with `bakeplan schedule set`")
    if as_json:
        print_json({"tenant_id": tenant, "paused": paused})
    else:
        typer.echo(f"{tenant}: {'paused' if paused else 'resumed'}")


def schedule_pause(tenant: Annotated[str, typer.Option(help="Tenant id.")], as_json: JsonFlag = False) -> None:
    """Stop triggering TENANT; the dates that pass are recorded as skipped."""
    _pause(tenant, paused=True, as_json=as_json)


def schedule_resume(tenant: Annotated[str, typer.Option(help="Tenant id.")], as_json: JsonFlag = False) -> None:
    """Trigger TENANT again from its next due run (no catch-up of paused dates)."""
    _pause(tenant, paused=False, as_json=as_json)


def schedule_show(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    limit: Annotated[int, typer.Option(help="How many recent dates.")] = 14,
    as_json: JsonFlag = False,
) -> None:
    """The scheduler's recent decisions for TENANT: fired or skipped, and why."""
    decisions = with_db(lambda conn: scheduler.recent_decisions(conn, tenant, limit=limit))
    if as_json:
        print_json(decisions)
        return
    table = Table("date", "outcome", "due (UTC)", "decided (UTC)", "reason")
    for d in decisions:
        table.add_row(
            str(d["business_date"]),
            d["outcome"],
            f"{d['due_at']:%Y-%m-%d %H:%M}",
            f"{d['decided_at']:%H:%M:%S}",
            d["reason"],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    schedules = typer.Typer(
        help="Each tenant's daily run: local time, zone, cut-off, closed days.", no_args_is_help=True
    )
    schedules.command("set")(schedule_set)
    schedules.command("pause")(schedule_pause)
    schedules.command("resume")(schedule_resume)
    schedules.command("show")(schedule_show)
    app.add_typer(schedules, name="schedule")
