"""`bakeplan export` and `bakeplan import`: a tenant's master data as one CSV file per entity (docs/import.md)."""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import with_db
from bakeplan.cli.tenant_views import unknown_tenant
from bakeplan.cli.terminal import JsonFlag, console, err, fail, print_json

TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant's id.")]
Directory = Annotated[Path, typer.Argument(help="Directory of the tenant files (one CSV per entity).")]


def export_files(directory: Directory, tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Write the tenant's master data as one CSV per entity into DIRECTORY (created if missing)."""
    from orchestrator.tenant_files.csv_files import write_directory
    from orchestrator.tenant_files_store import export_tenant_files

    async def read(conn: AsyncConnection) -> Any:
        # one consistent view of every table, even while an import commits
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        return await export_tenant_files(conn, tenant)

    files = with_db(read)
    if files is None:
        fail(f"{unknown_tenant(tenant)}: nothing to export")
    write_directory(directory, files)
    counts = {name: len(lines) for name, (_, lines) in files.items()}
    if as_json:
        print_json({"tenant": tenant, "directory": str(directory), "rows": counts})
        return
    console.print(f"exported tenant {tenant} to {directory}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


def import_files(
    directory: Annotated[
        Path, typer.Argument(help="Directory of the tenant files (one CSV per entity), or an .xlsx workbook.")
    ],
    tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant's id (created if new).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA time zone of a new tenant whose tenant.csv has none.")
    ] = None,
    template: Annotated[
        bool, typer.Option("--template", help="Write every file with its header and example rows into DIRECTORY.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check the tenant files in DIRECTORY (or a workbook) and replace the tenant's master data, in one transaction.

    Every bad cell is reported as file:line:column: reason, and then nothing is written (exit 2).
    """
    from orchestrator.tenant_files.cells import CellError, parse
    from orchestrator.tenant_files.csv_files import read_directory, write_directory
    from orchestrator.tenant_files.writing import template_files
    from orchestrator.tenant_files_store import ImportOutcome, import_tenant_files

    if template:
        write_directory(directory, template_files())
        console.print(f"wrote the tenant file template to {directory} (docs/import.md describes every column)")
        return
    if tenant is None:
        fail("--tenant is required (or --template to write example files)")
    if time_zone is not None:
        try:
            parse("zone", time_zone)
        except CellError as exc:
            fail(f"--time-zone: {exc}")
    if directory.suffix.lower() == ".xlsx":
        from orchestrator.tenant_files.xlsx_files import read_workbook

        if not directory.is_file():
            fail(f"{directory} is not a workbook file")
        raw = read_workbook(directory)
    else:
        raw = read_directory(directory)
    if not raw:
        fail(f"{directory} holds no tenant files (products.csv, ingredients.csv …; see `bakeplan import --template`)")

    async def work(conn: AsyncConnection) -> ImportOutcome:
        return await import_tenant_files(conn, tenant, raw, time_zone=time_zone, dry_run=dry_run)

    outcome = with_db(work)
    if outcome.problems:
        for problem in outcome.problems:
            err.print(problem, markup=False, highlight=False)
        fail(f"{len(outcome.problems)} problem(s) in {directory}; nothing was written")
    if as_json:
        counts = {k: {"added": c.added, "changed": c.changed, "removed": c.removed} for k, c in outcome.changes.items()}
        print_json({"tenant": tenant, "dry_run": dry_run, "written": outcome.written, "files": counts})
        return
    table = Table("file", "added", "changed", "removed", title=f"tenant {tenant}")
    for name, change in outcome.changes.items():
        table.add_row(f"{name}.csv", str(change.added), str(change.changed), str(change.removed))
    console.print(table)
    console.print(
        "imported" if outcome.written else "dry run: nothing written" if dry_run else "no changes: nothing written"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export_files)
    app.command("import")(import_files)
