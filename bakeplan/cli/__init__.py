"""The `bakeplan` command line."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID, uuid4

import typer
from aiokafka import AIOKafkaProducer
from rich.table import Column, Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan import dlq
from bakeplan.cli import audit, offline, run_views
from bakeplan.cli.terminal import console, fail, parse_day, parse_saga_id, print_json
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator import masterdata, scheduler
from orchestrator.saga import saga_id_for_trigger
from orchestrator.scheduling import TenantSchedule

app = typer.Typer(help="bakeplan: event-driven daily planning for bakery chains.", no_args_is_help=True)
stack_app = typer.Typer(help="The local Kafka and Postgres (no Docker needed).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead-lettered messages: list them, replay them after a fix.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
schedule_app = typer.Typer(
    help="Each tenant's daily run: local time, zone, cut-off, closed days.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")
offline.register(app)
audit.register(app)

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
TERMINAL = ("COMPLETED", "COMPENSATED", "FAILED")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
T = TypeVar("T")


def _settings() -> Settings:
    return Settings()


def _with_db(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(_settings(), pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _parse_date(value: str | None) -> date:
    return datetime.now(UTC).date() if value is None else parse_day(value, "--date")


# --- stack -----------------------------------------------------------------------------------------


def _script(name: str, action: str) -> int:
    return subprocess.call([str(DEPLOY_LOCAL / name), action])


@stack_app.command("up")
def stack_up() -> None:
    """Start a local Kafka node and, unless DATABASE_URL is set, a throwaway Postgres cluster."""
    if _script("kafka.sh", "start") != 0:
        fail("Kafka did not start (see the messages above)", 1)
    external_db = os.environ.get("DATABASE_URL") or os.environ.get("BAKEPLAN_DATABASE_URL")
    if not external_db and _script("postgres.sh", "start") != 0:
        fail("Postgres did not start (see the messages above)", 1)


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local Kafka node and Postgres cluster (their data stays in .bakeplan-local/)."""
    _script("kafka.sh", "stop")
    _script("postgres.sh", "stop")


@stack_app.command("status")
def stack_status() -> None:
    """Say whether the local Kafka and Postgres run."""
    codes = [_script("kafka.sh", "status"), _script("postgres.sh", "status")]
    raise typer.Exit(1 if any(codes) else 0)


# --- db and seed -----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate every schema and table to the latest version."""
    from bakeplan.migrate import upgrade

    upgrade(_settings())
    console.print("database is at the latest schema version")


@app.command()
def seed(
    tenants: Annotated[int, typer.Option(min=1, help="How many tenants to generate.")] = 1,
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "small",
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 1,
    prefix: Annotated[str, typer.Option(help="Tenant ids are PREFIX-001, PREFIX-002, ...")] = "bakery",
    today: Annotated[str | None, typer.Option(help="Last sales day is the day before this (YYYY-MM-DD).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate realistic synthetic tenants (products, recipes, suppliers, stock, sales)."""
    from lab.seed import write_tenant
    from lab.synthetic import PROFILES, generate_tenant

    if profile not in PROFILES:
        fail(f"--profile {profile!r} is not one of {', '.join(PROFILES)}")
    day = _parse_date(today)
    ids = [f"{prefix}-{n:03d}" for n in range(1, tenants + 1)]

    async def write(conn: AsyncConnection) -> None:
        for tenant_id in ids:
            tenant = generate_tenant(tenant_id, profile=profile, seed=seed_value, today=day, components=True)  # type: ignore[arg-type]
            await write_tenant(conn, tenant)

    _with_db(write)
    if as_json:
        print_json({"tenants": ids, "profile": profile, "seed": seed_value, "today": day})
    else:
        console.print(f"seeded {len(ids)} {profile} tenant(s): {', '.join(ids)}")


# --- serve -----------------------------------------------------------------------------------------


def _spawn_roles(roles: list[str]) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "bakeplan", "serve", "--role", role]) for role in roles]


@app.command()
def serve(
    role: Annotated[str, typer.Option(help="all | orchestrator | forecasting | production | procurement")] = "all",
    replicas: Annotated[
        int, typer.Option(min=1, help="With --role all: processes per role (one consumer group per role).")
    ] = 1,
) -> None:
    """Run the orchestrator and workers; `all` starts each role as its own OS process (or several)."""
    from bakeplan.process import ROLES
    from bakeplan.process import serve as serve_role

    if role != "all":
        if role not in ROLES:
            fail(f"--role {role!r} is not one of all, {', '.join(ROLES)}")
        serve_role(_settings(), role)
        return
    children = _spawn_roles([r for r in ROLES for _ in range(replicas)])

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    raise typer.Exit(max(codes, default=0))


# --- trigger and inspection ------------------------------------------------------------------------


async def _publish_trigger(settings: Settings, message: PlanningRequested) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            Topic.TRIGGERS,
            encode(message),
            key=message.tenant_id.encode(),
            headers=[("event_type", message.event_type.encode())],
        )
    finally:
        await producer.stop()


def _start_plan(
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
    settings = _settings()

    async def check(conn: AsyncConnection) -> tuple[bool, tuple[UUID, str] | None]:
        return await masterdata.tenant_exists(conn, tenant), await run_views.active_saga_for(
            conn, tenant, business_date
        )

    exists, active = _with_db(check)
    if not exists:
        fail(f"unknown tenant {tenant!r}: list tenants with `bakeplan runs` or create one with `bakeplan seed`")
    if active is not None:
        return active[0], active[1], True
    message = PlanningRequested(
        event_id=uuid4() if rerun else scheduler.daily_trigger_id(tenant, business_date),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=business_date,
        source=source,
        requested_by=requested_by,
        horizon_days=settings.horizon_days,
    )
    asyncio.run(_publish_trigger(settings, message))
    return saga_id_for_trigger(message.event_id), "REQUESTED", False


def _wait_terminal(saga_id: UUID, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = _with_db(lambda conn: run_views.saga(conn, saga_id))
        if found is not None and found["status"] in TERMINAL:
            return found
        if time.monotonic() > deadline:
            fail(
                f"saga {saga_id} did not finish within {timeout_s:.0f} s (status "
                f"{found['status'] if found else 'not started'}); is `bakeplan serve` running?",
                1,
            )
        time.sleep(0.1)


@app.command()
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
    business_date = _parse_date(date_)
    if source not in ("operator", "external"):
        fail(f"--source {source!r}: use operator (a person) or external (another system, e.g. a cron)")
    saga_id, status, already = _start_plan(
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
        finished = _wait_terminal(saga_id, timeout)
        result["status"] = finished["status"]
        result["seconds"] = (finished["updated_at"] - finished["created_at"]).total_seconds()
    if as_json:
        print_json(result)
    else:
        typer.echo(str(saga_id))
    if wait and result["status"] != "COMPLETED":
        raise typer.Exit(1)


@app.command()
def runs(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    status: Annotated[str | None, typer.Option(help="RUNNING, COMPENSATING, COMPLETED, COMPENSATED or FAILED.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List recent sagas, newest first."""
    rows = _with_db(lambda conn: run_views.list_runs(conn, tenant=tenant, status=status, limit=limit))
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


@app.command()
def show(saga_id: str, as_json: JsonFlag = False) -> None:
    """The timeline of one saga: steps, times and outcome."""
    sid = parse_saga_id(saga_id)
    found = _with_db(lambda conn: run_views.saga(conn, sid))
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


@app.command("plan-of")
def plan_of(saga_id: str, as_json: JsonFlag = False) -> None:
    """The production batches and purchase lines a saga produced."""
    sid = parse_saga_id(saga_id)
    plan = _with_db(lambda conn: run_views.plan_of(conn, sid))
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


@app.command()
def demo(
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the plan.")] = 180.0,
) -> None:
    """Stack up, migrate, seed one tenant, serve, trigger, wait, print the plan."""
    stack_up()
    db_upgrade()
    seed(tenants=1, profile=profile, seed_value=7, prefix="demo", today=None, as_json=False)
    children = _spawn_roles(["orchestrator", "forecasting", "production", "procurement"])
    try:
        tenant = "demo-001"
        business_date = datetime.now(UTC).date()
        saga_id, _, already = _start_plan(tenant, business_date, requested_by="demo")
        if already:
            console.print(f"{tenant} already has plan {saga_id} for {business_date}; showing it")
        finished = _wait_terminal(saga_id, timeout)
        show(str(saga_id), as_json=False)
        plan_of(str(saga_id), as_json=False)
        seconds = (finished["updated_at"] - finished["created_at"]).total_seconds()
        console.print(f"saga {saga_id} {finished['status']} in {seconds * 1000:.0f} ms (trigger consumed → plan ready)")
        if finished["status"] != "COMPLETED":
            raise typer.Exit(1)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)
    console.print("the stack keeps running; stop it with `bakeplan stack down`")


# --- dead letters ----------------------------------------------------------------------------------


def _dlq_run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except dlq.UnknownRecordError as exc:
        fail(str(exc))
    except dlq.DeadLetterError as exc:
        fail(str(exc), 1)


ConsumerFilter = Annotated[str | None, typer.Option(help="Only messages parked by this consumer, e.g. orchestrator.")]
SourceTopicFilter = Annotated[str | None, typer.Option(help="Only messages that came from this topic.")]


@dlq_app.command("list")
def dlq_list(
    consumer: ConsumerFilter = None,
    source_topic: SourceTopicFilter = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (the record key).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the newest N.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of objects (full reasons).")] = False,
) -> None:
    """Messages parked on the dead-letter topic, newest last, and whether each was replayed."""
    listed = _dlq_run(
        dlq.list_parked(_settings(), consumer=consumer, source_topic=source_topic, tenant=tenant, limit=limit)
    )
    if as_json:
        print_json([dlq.to_json(m, prior) for m, prior in listed])
        return
    if not listed:
        console.print("no parked messages" + (" match the filters" if consumer or source_topic or tenant else ""))
        return
    # fold, never ellipsis: on a narrow terminal a cell takes more lines but keeps every character
    headers = (
        "id",
        "parked (UTC)",
        "consumer",
        "source",
        "key",
        "event type",
        "att.",
        "exception",
        "reason",
        "replayed",
    )
    table = Table(*(Column(header, overflow="fold") for header in headers))
    for m, prior in listed:
        cells = (
            m.id,
            f"{m.parked_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            m.consumer,
            f"{m.source_topic}[{m.source_partition}]@{m.source_offset}" if m.source_topic else "",
            m.tenant,
            m.event_type or "",
            str(m.attempts or ""),
            m.exception,
            m.reason[:60],
            "yes" if prior else "",
        )
        table.add_row(*(Text(c) for c in cells))  # Text: reasons hold [brackets] that are not markup
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Option("--id", help="PARTITION:OFFSET from `dlq list`; repeatable.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every parked message passing the filters.")] = False,
    consumer: ConsumerFilter = None,
    source_topic: SourceTopicFilter = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be replayed; publish nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replay records already replayed, too.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-publish parked messages to their source topic (after a fix) and record each replay."""
    if bool(ids) == all_:
        fail("give --id PARTITION:OFFSET (repeatable) or --all, not both and not neither")
    try:
        record_ids = [dlq.parse_record_id(i) for i in ids] if ids else None
    except dlq.UnknownRecordError as exc:
        fail(str(exc))
    plan = _dlq_run(
        dlq.replay(
            _settings(),
            ids=record_ids,
            consumer=consumer,
            source_topic=source_topic,
            force=force,
            dry_run=dry_run,
            replayed_by=dlq.operator_name(),
        )
    )
    if as_json:
        replayed = [
            {"id": m.id, "source_topic": m.source_topic, "key": m.tenant, "event_id": m.event_id} for m in plan.replay
        ]
        print_json(
            {"dry_run": dry_run, "replayed": replayed, "skipped": [{"id": m.id, "why": why} for m, why in plan.skipped]}
        )
        return
    verb = "would replay" if dry_run else "replayed"
    for m in plan.replay:
        console.print(
            f"{verb} {m.id} → {m.source_topic} (key {m.tenant}, event {m.event_id or 'id unreadable'})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for m, why in plan.skipped:
        console.print(f"skipped {m.id}: {why}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{verb} {len(plan.replay)}, skipped {len(plan.skipped)}" + (" (dry run: nothing published)" if dry_run else "")
    )


# --- schedules ---------------------------------------------------------------------------------------


def _parse_time(value: str, option: str) -> dt_time:
    try:
        return dt_time.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a local time HH:MM (e.g. 04:30)")


@schedule_app.command("set")
def schedule_set(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Madrid.")],
    at: Annotated[str, typer.Option(help="Local run time HH:MM.")] = "04:30",
    cutoff: Annotated[str, typer.Option(help="Local time after which a missed run is skipped.")] = "10:00",
    closed_weekday: Annotated[list[int] | None, typer.Option(help="Closed weekday, 0=Mon … 6=Sun (repeat).")] = None,
    closed_date: Annotated[list[str] | None, typer.Option(help="Closed date YYYY-MM-DD (repeat).")] = None,
) -> None:
    """Create or replace TENANT's daily schedule; the orchestrator triggers its plan when due."""
    try:
        schedule = TenantSchedule(
            tenant,
            time_zone,
            run_at=_parse_time(at, "--at"),
            cutoff=_parse_time(cutoff, "--cutoff"),
            closed_weekdays=frozenset(closed_weekday or ()),
            closed_dates=frozenset(_parse_date(d) for d in closed_date or ()),
        )
    except ValueError as exc:
        fail(str(exc))

    async def write(conn: AsyncConnection) -> bool:
        if not await masterdata.tenant_exists(conn, tenant):
            return False
        await scheduler.set_schedule(conn, schedule)
        return True

    if not _with_db(write):
        fail(f"unknown tenant {tenant!r}: create it with `bakeplan seed` or fix the tenant id")
    typer.echo(f"{tenant}: daily at {schedule.run_at:%H:%M} {time_zone}, cut-off {schedule.cutoff:%H:%M}")


def _pause(tenant: str, *, paused: bool) -> None:
    if not _with_db(lambda conn: scheduler.set_paused(conn, tenant, paused=paused)):
        fail(f"tenant {tenant!r} has no schedule: create one with `bakeplan schedule set`")
    typer.echo(f"{tenant}: {'paused' if paused else 'resumed'}")


@schedule_app.command("pause")
def schedule_pause(tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    """Stop triggering TENANT; the dates that pass are recorded as skipped."""
    _pause(tenant, paused=True)


@schedule_app.command("resume")
def schedule_resume(tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    """Trigger TENANT again from its next due run (no catch-up of paused dates)."""
    _pause(tenant, paused=False)


@schedule_app.command("show")
def schedule_show(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    limit: Annotated[int, typer.Option(help="How many recent dates.")] = 14,
    as_json: JsonFlag = False,
) -> None:
    """The scheduler's recent decisions for TENANT: fired or skipped, and why."""
    decisions = _with_db(lambda conn: scheduler.recent_decisions(conn, tenant, limit=limit))
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
