"""Start and inspect daily plans: `trigger`, `runs`, `show` and `plan-of`."""

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.acl_table import Principal
from bakeplan.cli import run_views
from bakeplan.cli.amounts import tenant_label
from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.plan_tables import batch_table, folding_table, purchase_table
from bakeplan.cli.tenant_views import tenant_today, unknown_tenant
from bakeplan.cli.terminal import JsonFlag, console, fail, parse_day, parse_saga_id, print_json
from contracts.ids import daily_trigger_id, saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra import tracing
from infra.db import create_engine
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
        # the saga's trace starts here when OTEL_* asks for traces (docs/tracing.md)
        with tracing.root(f"trigger {message.event_type}", message) as trace_headers:
            await producer.send_and_wait(
                settings.topic(Topic.TRIGGERS),
                encode(message),
                key=message.tenant_id.encode(),
                headers=[("event_type", message.event_type.encode()), *trace_headers],
            )
    finally:
        await producer.stop()


class UnknownTenantError(LookupError):
    """A trigger named a tenant that does not exist (the message is `unknown_tenant`'s)."""


async def request_plan(
    settings: Settings,
    conn: AsyncConnection,
    tenant: str,
    business_date: date,
    *,
    requested_by: str,
    rerun: bool = False,
    source: Literal["operator", "external"] = "operator",
) -> tuple[UUID, str, bool]:
    """Publish a trigger unless the tenant already has a plan for the day: what `bakeplan trigger` and
    the console's trigger and re-run buttons do.

    The trigger's event id is the day's (`daily_trigger_id`, the scheduler's), so it and an external
    cron publishing the same day dedupe in the orchestrator's inbox whatever the timing; `rerun`
    takes a new id instead, to plan a day again after its plan was compensated or failed.
    Returns (saga id, status, already planned). Raises `UnknownTenantError`.
    """
    if not await masterdata.tenant_exists(conn, tenant):
        raise UnknownTenantError(unknown_tenant(tenant))
    active = await run_views.active_saga_for(conn, tenant, business_date)
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
    with tracing.session("cli"):
        await _publish_trigger(settings, message)
    return saga_id_for_trigger(message.event_id), "REQUESTED", False


def start_plan(
    tenant: str,
    business_date: date,
    *,
    requested_by: str,
    rerun: bool = False,
    source: Literal["operator", "external"] = "operator",
) -> tuple[UUID, str, bool]:
    """`request_plan` from a command: exits 2 for an unknown tenant."""
    settings = load_settings()

    async def run() -> tuple[UUID, str, bool]:
        engine = create_engine(settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await request_plan(
                    settings, conn, tenant, business_date, requested_by=requested_by, rerun=rerun, source=source
                )
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except UnknownTenantError as exc:
        fail(str(exc))


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
    date_: Annotated[
        str | None, typer.Option("--date", help="Business date YYYY-MM-DD (default: today in the tenant's time zone).")
    ] = None,
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
    """Start the daily plan of TENANT; prints the saga id, and with --wait the plan on one screen (as
    `bakeplan demo` does; `plan-of` has every row). Without --date it plans the tenant's local
    today (its time zone). A second trigger for the same day, from here, an external cron or the
    scheduler, is a no-op: all use the day's trigger id."""
    business_date = parse_day(date_, "--date") if date_ is not None else tenant_today(tenant)
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
        if wait:
            from bakeplan.cli.demo import print_plan_screen  # demo builds on this module

            print_plan_screen(saga_id)
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
    table = folding_table("saga", "tenant", "date", "status", "started", "reason")
    for r in rows:
        table.add_row(
            str(r["saga_id"]),
            Text(tenant_label(r["tenant_id"], r["tenant_name"])),
            str(r["business_date"]),
            r["status"],
            r["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            Text(r["reason"][:60]),
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
        Text.assemble(
            f"saga {sid}  {tenant_label(found['tenant_id'], found['tenant_name'])}  date {found['business_date']}  ",
            (found["status"], "bold"),
        )
    )
    if found["reason"]:
        console.print(Text(f"reason: {found['reason']}"))
    if found.get("pruned_at"):
        console.print(
            Text(
                f"timeline pruned by the retention job on {found['pruned_at']:%Y-%m-%d}; "
                f"`bakeplan replay {sid}` still replays it from the audit archive"
            )
        )
        return
    console.print(timeline_table(found))


def timeline_table(saga: dict[str, Any], **table_options: Any) -> Table:
    """A saga's timeline: each event's time since the start, kind, step and detail."""
    table = folding_table("at", "event", "step", "detail", right=("at",), **table_options)
    start = saga["created_at"]
    for t in saga["timeline"]:
        table.add_row(
            f"+{(t['at'] - start).total_seconds() * 1000:.0f} ms", t["kind"], t["step"] or "", Text(t["detail"])
        )
    return table


def plan_of(saga_id: str, as_json: JsonFlag = False) -> None:
    """The production batches and purchase lines a saga produced, by name, with units and money."""
    sid = parse_saga_id(saga_id)
    plan = with_db(lambda conn: run_views.plan_of(conn, sid))
    if plan is None:
        fail(f"no saga {saga_id}; list them with `bakeplan runs`", 1)
    if as_json:
        print_json({"saga_id": str(sid), **plan})
        return
    console.print(
        Text(f"plan of {tenant_label(plan['tenant_id'], plan['tenant_name'])} for {plan['business_date']}, "
             f"money in {plan['currency']}")
    )  # fmt: skip
    console.print(batch_table(plan["batches"]))
    console.print(purchase_table(plan["purchase_lines"], currency=plan["currency"]))


def register(app: typer.Typer) -> None:
    app.command()(trigger)
    app.command()(runs)
    app.command()(show)
    app.command("plan-of")(plan_of)
