"""Start and inspect daily plans: `trigger`, `runs`, `show` and `plan-of`."""

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.acl_table import Principal
from bakeplan.cli import run_views
from bakeplan.cli.context import date_or_today, load_settings, with_db
from bakeplan.cli.terminal import JsonFlag, console, fail, parse_saga_id, print_json
from contracts.ids import daily_trigger_id, saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from orchestrator import masterdata
from orchestrator.engine import SagaStatus
from orchestrator.ports import TERMINAL_STATUSES


async def _publish_trigger(settings: Settings, message: PlanningRequested) -> None:
    await ensure_topics(settings, Principal.OPERATOR, (Topic.TRIGGERS,))
    producer = new_producer(settings, Principal.OPERATOR, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(Topic.TRIGGERS),
            encode(message),
            key=message.tenant_id.encode(),
            headers=[("event_type", message.event_type.encode())],
        )
    finally:
        await producer.stop()


def start_plan(
    tenant: str,
    business_date: date,
    *,
    requested_by: str,
    rerun: bool = False,
    source: Literal["operator", "external"] = "operator",
) -> tuple[UUID, str, bool]:
    """Publish a trigger unless the tenant already has a plan for the day.

    The trigger's event id is the day's (`daily_trigger_id`, the scheduler's), so it and an external
    cron publishing the same day dedupe in the orchestrator's inbox whatever the timing; `rerun`
    takes a new id instead, to plan a day again after its plan was compensated or failed.
    Returns (saga id, status, already planned). Exits 2 for an unknown tenant.
    """
    settings = load_settings()

    async def check(conn: AsyncConnection) -> tuple[bool, tuple[UUID, str] | None]:
        return await masterdata.tenant_exists(conn, tenant), await run_views.active_saga_for(
            conn, tenant, business_date
        )

    exists, active = with_db(check)
    if not exists:
        fail(f"unknown tenant {tenant!r}: list tenants with `bakeplan runs` or create one with `bakeplan seed`")
    if active is not None:
        return active[0], active[1], True
    message = PlanningRequested(
        event_id=uuid4() if rerun else daily_trigger_id(tenant, business_date),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=business_date,
        source=source,
        requested_by=requested_by,
        horizon_days=settings.horizon_days,
    )
    asyncio.run(_publish_trigger(settings, message))
    return saga_id_for_trigger(message.event_id), "REQUESTED", False


def wait_terminal(saga_id: UUID, timeout_s: float) -> dict[str, Any]:
    """The saga once its status is terminal (polled every 0.1 s); exits 1 after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = with_db(lambda conn: run_views.saga(conn, saga_id))
        if found is not None and found["status"] in TERMINAL_STATUSES:
            return found
        if time.monotonic() > deadline:
            fail(
                f"saga {saga_id} did not finish within {timeout_s:.0f} s (status "
                f"{found['status'] if found else 'not started'}); is `bakeplan serve` running?",
                1,
            )
        time.sleep(0.1)


def trigger(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    date_: Annotated[str | None, typer.Option("--date", help="Business date YYYY-MM-DD (default today, UTC).")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the saga finishes.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120.0,
    rerun: Annotated[
        bool,
        typer.Option(help="Plan the day again after its plan was compensated or failed (a new trigger id)."),
    ] = False,
    source: Annotated[
        str,
        typer.Option(help="Who asks, for the audit: operator (a person) or external (another system, e.g. a cron)."),
    ] = "operator",
    as_json: JsonFlag = False,
) -> None:
    """Start the daily plan of TENANT; prints the saga id. A second trigger for the same day, from here,
    an external cron or the scheduler, is a no-op: all use the day's trigger id."""
    business_date = date_or_today(date_)
    if source not in ("operator", "external"):
        fail(f"--source {source!r}: use operator (a person) or external (another system, e.g. a cron)")
    saga_id, status, already = start_plan(
        tenant,
        business_date,
        requested_by="cli",
        rerun=rerun,
        source="external" if source == "external" else "operator",
    )
    result: dict[str, Any] = {
        "saga_id": str(saga_id),
        "tenant_id": tenant,
        "business_date": business_date,
        "status": status,
        "already_planned": already,
    }
    if wait:
        finished = wait_terminal(saga_id, timeout)
        result["status"] = finished["status"]
        result["seconds"] = (finished["updated_at"] - finished["created_at"]).total_seconds()
    if as_json:
        print_json(result)
    else:
        typer.echo(str(saga_id))
    if wait and result["status"] != SagaStatus.COMPLETED:
        raise typer.Exit(1)


def runs(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    status: Annotated[str | None, typer.Option(help="RUNNING, COMPENSATING, COMPLETED, COMPENSATED or FAILED.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List recent sagas, newest first."""
    rows = with_db(lambda conn: run_views.list_runs(conn, tenant=tenant, status=status, limit=limit))
    if as_json:
        print_json({"runs": rows})
        return
    table = Table("saga", "tenant", "date", "status", "started", "reason")
    for r in rows:
        table.add_row(
            str(r["saga_id"]),
            r["tenant_id"],
            str(r["business_date"]),
            r["status"],
            r["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            r["reason"][:60],
        )
    console.print(table)


def show(saga_id: str, as_json: JsonFlag = False) -> None:
    """The timeline of one saga: steps, times and outcome."""
    sid = parse_saga_id(saga_id)
    found = with_db(lambda conn: run_views.saga(conn, sid))
    if found is None:
        fail(f"no saga {saga_id}; list them with `bakeplan runs`", 1)
    if as_json:
        print_json(found)
        return
    console.print(
        f"saga {sid}  tenant {found['tenant_id']}  date {found['business_date']}  [bold]{found['status']}[/bold]"
    )
    if found["reason"]:
        console.print(f"reason: {found['reason']}")
    table = Table("at", "event", "step", "detail")
    start = found["created_at"]
    for t in found["timeline"]:
        table.add_row(f"+{(t['at'] - start).total_seconds() * 1000:.0f} ms", t["kind"], t["step"] or "", t["detail"])
    console.print(table)


def plan_of(saga_id: str, as_json: JsonFlag = False) -> None:
    """The production batches and purchase lines a saga produced."""
    sid = parse_saga_id(saga_id)
    plan = with_db(lambda conn: run_views.plan_of(conn, sid))
    if as_json:
        print_json({"saga_id": str(sid), **plan})
        return
    batches = Table("day", "product", "batches", "units", "oven min", "status", title="production batches")
    for b in plan["batches"]:
        batches.add_row(
            str(b["day"]), b["product_id"], str(b["batches"]), str(b["units"]), str(b["oven_minutes"]), b["status"]
        )
    lines = Table(
        "order", "delivery", "supplier", "ingredient", "qty", "price", "late", "status", title="purchase lines"
    )
    for p in plan["purchase_lines"]:
        lines.add_row(
            str(p["order_date"]),
            str(p["delivery_date"]),
            p["supplier_id"],
            p["ingredient_id"],
            f"{p['quantity']:g}",
            f"{p['unit_price']:.2f}",
            "LATE" if p["late"] else "",
            p["status"],
        )
    console.print(batches)
    console.print(lines)


def register(app: typer.Typer) -> None:
    app.command()(trigger)
    app.command()(runs)
    app.command()(show)
    app.command("plan-of")(plan_of)
