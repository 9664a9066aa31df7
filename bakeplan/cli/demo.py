"""`bakeplan demo`: the whole system on one machine, from an empty stack to its plan on one screen.

The screen: the saga's timeline, the plan's digest (`bakeplan.cli.plan_digest`: batches and pieces
per day, orders per supplier with totals, late lines, expected waste, the ten most important lines)
and the commands that show the rest (`plan-of`, `explain`, `show`). It fits a 100-column terminal
without cutting a cell.
"""

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Group
from rich.text import Text
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli import run_views
from bakeplan.cli.acl import provision
from bakeplan.cli.amounts import tenant_label
from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.database import db_upgrade
from bakeplan.cli.plan_digest import screen
from bakeplan.cli.plan_tables import COMPACT
from bakeplan.cli.runs import start_plan, timeline_table, wait_terminal
from bakeplan.cli.seeding import seed
from bakeplan.cli.serving import spawn_roles
from bakeplan.cli.stack import stack_up
from bakeplan.cli.tenant_views import tenant_today
from bakeplan.cli.terminal import console
from bakeplan.supervisor import stop_children
from orchestrator import masterdata as md
from orchestrator.engine import SagaStatus
from workers.procurement.channels.config import FileDropTarget, SupplierChannel
from workers.procurement.channels.directory import save_channels
from workers.purchase_orders.tables import purchase_orders


def demo(
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the plan.")] = 180.0,
) -> None:
    """Stack up, migrate, seed one tenant (its suppliers take orders by file drop), serve, trigger, wait,
    print the plan on one screen and how many of its orders were sent.

    With BAKEPLAN_KAFKA_SECURITY_PROTOCOL set (docs/security.md), the local secure broker is used and
    the installation's topics and ACLs are provisioned as the admin first."""
    settings = load_settings()
    secure = settings.kafka_security_protocol != "PLAINTEXT"
    stack_up(secure=secure)
    if secure:
        provision(settings)
    db_upgrade()
    seed(tenants=1, profile=profile, seed_value=7, prefix="demo", today=None, as_json=False)
    tenant = "demo-001"
    drop_root = file_drop_channels(tenant)
    children = spawn_roles(["orchestrator", "forecasting", "production", "procurement", "channels"])
    try:
        business_date = tenant_today(tenant)
        saga_id, _, already = start_plan(tenant, business_date, requested_by="demo")
        if already:
            console.print(f"{tenant} already has plan {saga_id} for {business_date}; showing it")
        finished = wait_terminal(saga_id, timeout)
        print_plan_screen(saga_id)
        console.print(f"the purchase orders it released: bakeplan orders list --tenant {tenant}")
        sent = wait_sent(saga_id, timeout_s=30.0)
        console.print(f"sent {sent['sent']} of {sent['released']} as CSV files into {drop_root} (file drop)")
        seconds = (finished["updated_at"] - finished["created_at"]).total_seconds()
        console.print(f"saga {saga_id} {finished['status']} in {seconds * 1000:.0f} ms (trigger consumed → plan ready)")
        if finished["status"] != SagaStatus.COMPLETED:
            raise typer.Exit(1)
    finally:
        stop_children(children)
    console.print("the stack keeps running; stop it with `bakeplan stack down`")


def file_drop_channels(tenant: str) -> Path:
    """Each supplier of `tenant` takes its orders by file drop, one directory per supplier under
    BAKEPLAN_FILE_DROP_ROOT (set to `<state dir>/supplier-drop` for the channels process when unset),
    at any hour: the demo's suppliers have no order cut-off, so the lines due today are released and
    sent whenever the demo runs (with the synthetic cut-offs of 10:00–18:00, an afternoon demo
    released nothing)."""
    root = Path(
        os.environ.get("BAKEPLAN_FILE_DROP_ROOT")
        or Path(os.environ.get("BAKEPLAN_STATE_DIR") or ".bakeplan-local") / "supplier-drop"
    ).resolve()
    os.environ["BAKEPLAN_FILE_DROP_ROOT"] = str(root)  # the children inherit it

    async def configure(conn: AsyncConnection) -> None:
        suppliers = (
            await conn.execute(select(md.suppliers.c.supplier_id).where(md.suppliers.c.tenant_id == tenant))
        ).scalars()
        channels = []
        for supplier_id in suppliers:
            (root / supplier_id).mkdir(parents=True, exist_ok=True)
            channels.append(
                SupplierChannel(tenant_id=tenant, supplier_id=supplier_id, target=FileDropTarget(directory=supplier_id))
            )
        await save_channels(conn, channels, at=datetime.now(UTC))
        await conn.execute(update(md.suppliers).where(md.suppliers.c.tenant_id == tenant).values(order_cutoff=None))

    with_db(configure)
    return root


def wait_sent(saga_id: UUID, *, timeout_s: float) -> dict[str, int]:
    """How many of the saga's orders were released and how many are past `released` (sent, or
    send_failed), once none is left `released` or `timeout_s` has passed."""

    async def count(conn: AsyncConnection) -> dict[str, int]:
        statuses = (
            await conn.execute(select(purchase_orders.c.status).where(purchase_orders.c.saga_id == saga_id))
        ).scalars()
        found = list(statuses)
        return {"released": len(found), "sent": found.count("sent"), "waiting": found.count("released")}

    deadline = time.monotonic() + timeout_s
    counts = with_db(count)
    while counts["waiting"] and time.monotonic() < deadline:
        time.sleep(0.2)
        counts = with_db(count)
    return counts


def plan_screen(saga: dict[str, Any], plan: dict[str, Any]) -> Group:
    """The saga on one screen: who and what day, its timeline, then the plan's digest."""
    head = Text.assemble(
        (tenant_label(saga["tenant_id"], saga["tenant_name"]), "bold"),
        f" · {saga['business_date']:%a %Y-%m-%d} · saga {saga['saga_id']} ",
        (str(saga["status"]), "bold"),
    )
    timeline = timeline_table(saga, title="timeline", title_justify="left", **COMPACT)
    return Group(head, timeline, screen(str(saga["saga_id"]), plan))


def print_plan_screen(saga_id: UUID) -> None:
    """Print `plan_screen` of the saga (read in one transaction)."""

    async def read(conn: AsyncConnection) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return await run_views.saga(conn, saga_id), await run_views.plan_of(conn, saga_id)

    saga, plan = with_db(read)
    assert saga is not None, "the saga finished, so it exists"
    assert plan is not None, "the saga exists, so its plan does (empty or not)"
    console.print(plan_screen(saga, plan))


def register(app: typer.Typer) -> None:
    app.command()(demo)
