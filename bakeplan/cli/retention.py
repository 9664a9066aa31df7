"""`bakeplan retention run`: prune what finished sagas and delivered messages left behind once it is
past its horizon (docs/retention.md); the orchestrator runs the same job on a schedule."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, print_json
from infra.db import create_engine
from orchestrator.retention import RetentionJob, RetentionPolicy, RetentionReport

ROLE = "retention"
"""The Postgres role the job runs as when role URLs are configured (bakeplan/db_roles.py)."""


def _run(dry_run: bool) -> RetentionReport | None:
    settings = load_settings().for_role(ROLE)

    async def run() -> RetentionReport | None:
        engine = create_engine(settings, pool_size=2)
        try:
            return await RetentionJob(engine, RetentionPolicy.from_settings(settings)).run(
                now=datetime.now(UTC), dry_run=dry_run
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be pruned; delete nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Prune inbox claims, published outbox rows and claim checks past BAKEPLAN_RETENTION_MESSAGE_DAYS, and the
    timeline, step results, snapshot and effect log of sagas that ended more than BAKEPLAN_RETENTION_DAYS
    ago, in batches of BAKEPLAN_RETENTION_BATCH_ROWS rows. Running sagas and the audit archive are never
    touched. Exit 1 when another replica is running the job."""
    report = _run(dry_run)
    if report is None:
        message = "the retention job is running elsewhere (another replica or command holds its lock); try later"
        if as_json:
            print_json({"ran": False, "reason": message})
        else:
            console.print(message)
        raise typer.Exit(1)
    if as_json:
        print_json({"ran": True, **report.as_json()})
        return
    verb = "to delete" if dry_run else "deleted"
    table = Table("table", f"rows {verb}", title=f"retention ({'dry run' if dry_run else 'pruned'})")
    for name, rows in sorted(report.deleted.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"sagas ended before {report.saga_cutoff:%Y-%m-%d %H:%M} UTC: {report.sagas_pruned:,}; messages before "
        f"{report.message_cutoff:%Y-%m-%d %H:%M} UTC; {report.rows:,} rows {verb} in {report.seconds:.1f} s"
        + (f"; busy, pruned next run: {', '.join(report.skipped)}" if report.skipped else "")
    )


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Prune what is past its retention horizon (docs/retention.md).", no_args_is_help=True)
    group.command("run")(retention_run)
    app.add_typer(group, name="retention")
