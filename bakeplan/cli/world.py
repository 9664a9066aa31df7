"""`bakeplan world`: the simulation's world run against the live stack for N business days, next to the
offline `bakeplan simulate` of the same seeds (docs/world.md)."""

import asyncio
import os
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, cast, get_args
from uuid import uuid4

import typer
from rich.table import Table

from bakeplan.cli.acl import provision
from bakeplan.cli.context import load_settings
from bakeplan.cli.database import db_upgrade
from bakeplan.cli.serving import spawn_roles
from bakeplan.cli.stack import stack_up
from bakeplan.cli.terminal import JsonFlag, console, fail, parse_day, print_json
from bakeplan.roles.clock import set_clock
from bakeplan.supervisor import stop_children
from bakeplan.world import MORNING, LiveWorld, WorldError
from infra.db import create_engine
from lab.simulation.live import TenantOutcome, file_drop_channels, live_truth, open_tenant
from lab.simulation.simulator import DEFAULT_START, run
from lab.simulation.truth import synthetic_truth
from lab.synthetic import Profile
from workers.procurement.channels.directory import save_channels

ROLES = ["orchestrator", "forecasting", "production", "procurement", "channels"]


def world(
    tenants: Annotated[int, typer.Option(min=1, max=50, help="Tenants, planned one after the other each day.")] = 3,
    days: Annotated[int, typer.Option(min=1, max=365, help="Business days to live.")] = 28,
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    seed: Annotated[int, typer.Option(help="Tenant n uses seed + n - 1, offline and live alike.")] = 1,
    start: Annotated[str | None, typer.Option(help="First day YYYY-MM-DD (default: the simulation's).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one plan or booking.")] = 300.0,
    as_json: JsonFlag = False,
) -> None:
    """Live the simulation's world against the real stack for N days; compare with the offline run."""
    if profile not in get_args(Profile):
        fail(f"--profile {profile!r} is not one of {', '.join(get_args(Profile))}")
    first: date = parse_day(start, "--start") if start else DEFAULT_START
    settings = load_settings()
    secure = settings.kafka_security_protocol != "PLAINTEXT"
    stack_up(secure=secure)
    if secure:
        provision(settings)
    db_upgrade()
    run_id = uuid4().hex[:6]
    run_dir = Path(os.environ.get("BAKEPLAN_STATE_DIR") or ".bakeplan-local").resolve() / "world" / run_id
    clock_file, drop_root = run_dir / "clock", run_dir / "drop"
    set_clock(clock_file, datetime.combine(first, MORNING, UTC))
    os.environ["BAKEPLAN_CLOCK_FILE"] = str(clock_file)  # the children inherit both
    os.environ["BAKEPLAN_FILE_DROP_ROOT"] = str(drop_root)
    os.environ.setdefault("BAKEPLAN_LOG_LEVEL", "WARNING")  # the processes' per-event lines, days × tenants of them
    kind = cast(Profile, profile)
    truths = [
        live_truth(synthetic_truth(profile=kind, seed=seed + n, days=days, start=first), f"world-{run_id}-{n + 1}")
        for n in range(tenants)
    ]
    live = [open_tenant(t, seed + n) for n, t in enumerate(truths)]
    console.print(f"run {run_id}: {tenants} {profile} tenant(s), {days} days from {first}; offline first")
    offline = [
        run(t, policy="bakeplan", seed=seed + n, learning=True).report(
            policy="bakeplan", days=days, seed=seed + n, profile=kind
        )
        for n, t in enumerate(truths)
    ]
    engine = create_engine(settings)
    driver = LiveWorld(
        settings,
        engine,
        live,
        clock_file=clock_file,
        drop_root=drop_root,
        timeout_s=timeout,
        progress=lambda day: console.print(f"  {day} planned for every tenant"),
    )

    async def live_run() -> list[int]:
        try:
            await driver.seed()
            channels = file_drop_channels(live)
            for channel in channels:
                (drop_root / channel.tenant_id / channel.supplier_id).mkdir(parents=True, exist_ok=True)
            async with engine.begin() as conn:
                await save_channels(conn, channels, at=datetime.now(UTC))
            children = spawn_roles(ROLES)
            try:
                await driver.run(days)
                return [await driver.sent_once(t) for t in live]
            finally:
                await asyncio.to_thread(stop_children, children)
        finally:
            await engine.dispose()

    try:
        sent_once = asyncio.run(live_run())
    except WorldError as exc:
        fail(str(exc), 1)
    outcomes = [
        TenantOutcome(
            tenant_id=t.truth.tenant_id,
            live=t.ledger.report(policy="bakeplan", days=days, seed=t.seed, profile=profile),
            offline=offline[n],
            sagas_completed=len(t.sagas),
            days=days,
            released=t.released,
            lines=t.lines,
            sent_once=sent_once[n],
            uncounted_supply=t.uncounted_supply,
            repeat_lines=t.repeat_lines,
        )
        for n, t in enumerate(live)
    ]
    if as_json:
        print_json({"run": run_id, "start": first.isoformat(), "tenants": [asdict(o) for o in outcomes]})
        return
    _print(outcomes)


def _print(outcomes: list[TenantOutcome]) -> None:
    table = Table(title="live (bakeplan world) against offline (bakeplan simulate), same seed and world")
    for column in ("tenant", "run", "fill rate", "waste rate", "total cost", "orders"):
        table.add_column(column, justify="left" if column in ("tenant", "run") else "right")
    for o in outcomes:
        for name, report in (("live", o.live), ("offline", o.offline)):
            table.add_row(
                o.tenant_id if name == "live" else "",
                name,
                f"{report.fill_rate:.4f}",
                f"{report.waste_rate:.4f}",
                f"{report.total_cost:,.2f}",
                str(report.orders),
            )
    console.print(table)
    for o in outcomes:
        console.print(
            f"{o.tenant_id}: {o.sagas_completed} of {o.days} plans completed; {o.released} POs released "
            f"({o.lines} lines), {o.sent_once} sent exactly once; open lines a later plan did not count as "
            f"supply: {o.uncounted_supply}; lines repeating an open line's ingredient and day: {o.repeat_lines}"
        )


def register(app: typer.Typer) -> None:
    app.command()(world)
