"""`bakeplan demo`: the whole system on one machine, from an empty stack to a printed plan."""

import signal
from datetime import UTC, datetime
from typing import Annotated

import typer

from bakeplan.cli.acl import provision
from bakeplan.cli.context import load_settings
from bakeplan.cli.database import db_upgrade
from bakeplan.cli.runs import plan_of, show, start_plan, wait_terminal
from bakeplan.cli.seeding import seed
from bakeplan.cli.serving import spawn_roles
from bakeplan.cli.stack import stack_up
from bakeplan.cli.terminal import console
from orchestrator.engine import SagaStatus


def demo(
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the plan.")] = 180.0,
) -> None:
    """Stack up, migrate, seed one tenant, serve, trigger, wait, print the plan.

    With BAKEPLAN_KAFKA_SECURITY_PROTOCOL set (docs/security.md), the local secure broker is used and
    the installation's topics and ACLs are provisioned as the admin first."""
    settings = load_settings()
    secure = settings.kafka_security_protocol != "PLAINTEXT"
    stack_up(secure=secure)
    if secure:
        provision(settings)
    db_upgrade()
    seed(tenants=1, profile=profile, seed_value=7, prefix="demo", today=None, as_json=False)
    children = spawn_roles(["orchestrator", "forecasting", "production", "procurement"])
    try:
        tenant = "demo-001"
        business_date = datetime.now(UTC).date()
        saga_id, _, already = start_plan(tenant, business_date, requested_by="demo")
        if already:
            console.print(f"{tenant} already has plan {saga_id} for {business_date}; showing it")
        finished = wait_terminal(saga_id, timeout)
        show(str(saga_id), as_json=False)
        plan_of(str(saga_id), as_json=False)
        seconds = (finished["updated_at"] - finished["created_at"]).total_seconds()
        console.print(f"saga {saga_id} {finished['status']} in {seconds * 1000:.0f} ms (trigger consumed → plan ready)")
        if finished["status"] != SagaStatus.COMPLETED:
            raise typer.Exit(1)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)
    console.print("the stack keeps running; stop it with `bakeplan stack down`")


def register(app: typer.Typer) -> None:
    app.command()(demo)
