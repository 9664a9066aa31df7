"""`bakeplan tenants`: every tenant with its name, time zone, currency, schedule and last plan."""

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from bakeplan.cli.context import with_db
from bakeplan.cli.plan_tables import COMPACT, folding_table
from bakeplan.cli.tenant_views import list_tenants
from bakeplan.cli.terminal import JsonFlag, console, print_json


def schedule_text(schedule: dict[str, Any] | None, tenant_zone: str) -> tuple[str, str]:
    """The schedule and next-run cells: `daily 04:30` (with the zone when it is not the tenant's),
    `, paused`, or `none` (planned only when triggered); the next run in the schedule's local time."""
    if schedule is None:
        return "none", ""
    zone = "" if schedule["time_zone"] == tenant_zone else f" {schedule['time_zone']}"
    text = f"daily {schedule['run_at']}{zone}" + (", paused" if schedule["paused"] else "")
    next_run = schedule["next_run_at"]
    if next_run is None:
        return text, ""
    return text, f"{next_run.astimezone(ZoneInfo(schedule['time_zone'])):%Y-%m-%d %H:%M}"


def tenants_table(rows: list[dict[str, Any]]) -> Table:
    """One row per tenant (`tenant_views.list_tenants`); cells fold, so a saga id is never cut."""
    table = folding_table("tenant", "name", "time zone", "currency", "schedule", "next run", "last plan", **COMPACT)
    for t in rows:
        schedule, next_run = schedule_text(t["schedule"], t["time_zone"])
        last = t["last_plan"]
        table.add_row(
            Text(t["tenant_id"]),
            Text(t["name"]),
            t["time_zone"],
            t["currency"],
            schedule,
            next_run,
            Text("never" if last is None else f"{last['business_date']} {last['status']} {last['saga_id']}"),
        )
    return table


def tenants(
    prefix: Annotated[str | None, typer.Option(help="Only tenants whose id starts with this.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most N tenants (by id).")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The tenants: name, time zone, currency, daily schedule (run time, paused, next run) and last plan."""
    now = datetime.now(UTC)
    rows, total = with_db(lambda conn: list_tenants(conn, prefix=prefix, limit=limit, now=now))
    if as_json:
        print_json({"tenants": rows, "total": total})
        return
    if not rows:
        console.print("no tenants" + (f" with ids starting {prefix!r}" if prefix else "") + "; create one with "
                      "`bakeplan seed` or `bakeplan import`")  # fmt: skip
        return
    console.print(tenants_table(rows))
    if total > len(rows):
        console.print(f"{len(rows)} of {total} tenants; narrow with --prefix or show more with --limit")


def register(app: typer.Typer) -> None:
    app.command()(tenants)
