"""`bakeplan export` and `bakeplan import`: a tenant's master data as one CSV file per entity (docs/import.md)."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import with_db
from bakeplan.cli.tenant_views import unknown_tenant
from bakeplan.cli.terminal import JsonFlag, console, err, fail, parse_day, print_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.tenant_files.sales import SalesExport, SalesSummary

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
    sales: Annotated[
        Path | None,
        typer.Option("--sales", help="A sales export, CSV date,product,quantity: the daily sales (docs/import.md)."),
    ] = None,
    sales_measure: Annotated[
        str, typer.Option("--sales-measure", help="What --sales quantities are: units, or revenue (÷ unit_price).")
    ] = "units",
    sales_ending: Annotated[
        str | None,
        typer.Option(
            "--sales-ending",
            help="DATE or yesterday: move the sales by whole weeks so the last falls within the 7 days up to it.",
        ),
    ] = None,
    sales_gaps: Annotated[
        str,
        typer.Option(
            "--sales-gaps",
            help="A product without a row on a day others sold: zero (sold none; from its first sale) or unknown.",
        ),
    ] = "zero",
    as_json: JsonFlag = False,
) -> None:
    """Check the tenant files in DIRECTORY (or a workbook) and replace the tenant's master data, in one transaction.

    Every bad cell is reported as file:line:column: reason, and then nothing is written (exit 2).
    """
    from orchestrator.tenant_files.cells import CellError, parse
    from orchestrator.tenant_files.csv_files import UnreadableFilesError, read_directory, write_directory
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
    unreadable: list[str] = []  # files that are not CSV text (or a workbook) at all, each named
    raw = {}
    try:
        if directory.suffix.lower() == ".xlsx":
            from orchestrator.tenant_files.xlsx_files import read_workbook

            if not directory.is_file():
                fail(f"{directory} is not a workbook file")
            raw = read_workbook(directory)
        else:
            raw = read_directory(directory)
    except UnreadableFilesError as exc:
        unreadable += exc.problems
    try:
        export = _sales_export(sales, sales_measure, sales_gaps)
    except UnreadableFilesError as exc:
        unreadable += exc.problems
    if unreadable:
        _fail_with_problems(unreadable, directory, sales)
    if not raw:
        fail(f"{directory} holds no tenant files (products.csv, ingredients.csv …; see `bakeplan import --template`)")
    ending: date | Literal["yesterday"] | None = None
    if sales_ending is not None:
        if export is None:
            fail("--sales-ending moves the sales of --sales; give --sales too")
        ending = "yesterday" if sales_ending == "yesterday" else parse_day(sales_ending, "--sales-ending")
    now = datetime.now(UTC)

    async def work(conn: AsyncConnection) -> ImportOutcome:
        return await import_tenant_files(
            conn,
            tenant,
            raw,
            time_zone=time_zone,
            dry_run=dry_run,
            sales=export,
            sales_ending=ending,
            now=now,
        )

    outcome = with_db(work)
    if outcome.problems:
        _fail_with_problems(outcome.problems, directory, sales)
    if as_json:
        counts = {k: {"added": c.added, "changed": c.changed, "removed": c.removed} for k, c in outcome.changes.items()}
        result = {"tenant": tenant, "dry_run": dry_run, "written": outcome.written, "files": counts}
        if outcome.sales is not None:
            result["sales"] = _sales_json(outcome.sales)
        print_json(result)
        return
    table = Table("file", "added", "changed", "removed", title=f"tenant {tenant}")
    for name, change in outcome.changes.items():
        table.add_row(f"{name}.csv", str(change.added), str(change.changed), str(change.removed))
    console.print(table)
    if outcome.sales is not None:
        console.print(_sales_text(outcome.sales), markup=False, highlight=False)
    console.print(
        "imported" if outcome.written else "dry run: nothing written" if dry_run else "no changes: nothing written"
    )


def _fail_with_problems(problems: "Sequence[str]", directory: Path, sales: Path | None) -> NoReturn:
    """Print each `file:line:column: reason` on stderr and exit 2: nothing was written."""
    for problem in problems:
        err.print(problem, markup=False, highlight=False)
    where = f"{directory} and {sales}" if sales is not None else str(directory)
    fail(f"{len(problems)} problem(s) in {where}; nothing was written")


def _sales_export(path: Path | None, measure: str, gaps: str) -> "SalesExport | None":
    """The sales export at `path` read as the options say; exit 2 on a bad option or a missing file."""
    from orchestrator.tenant_files.csv_files import read_sales_file

    if path is None:
        if (measure, gaps) != ("units", "zero"):
            fail("--sales-measure and --sales-gaps say how to read --sales; give --sales too")
        return None
    if measure not in ("units", "revenue"):
        fail(f"--sales-measure {measure!r}: use units (pieces sold) or revenue (money, divided by unit_price)")
    if gaps not in ("zero", "unknown"):
        fail(f"--sales-gaps {gaps!r}: use zero (a product missing on a day others sold sold none) or unknown")
    if not path.is_file():
        fail(f"--sales {str(path)!r} is not a file")
    # a file that is not UTF-8 CSV raises UnreadableFilesError naming its line: one problem like the others
    return read_sales_file(
        path,
        measure="revenue" if measure == "revenue" else "units",
        gaps="unknown" if gaps == "unknown" else "zero",
    )


def _sales_json(summary: "SalesSummary") -> dict[str, Any]:
    return {
        "source": summary.source,
        "rows": summary.rows,
        "zero_days": summary.zero_days,
        "first_day": summary.first_day,
        "last_day": summary.last_day,
        "weeks_moved": summary.weeks_moved,
        "moved_last_day": summary.moved_last_day,
    }


def _sales_text(summary: "SalesSummary") -> str:
    text = (
        f"sales from {summary.source}: {summary.rows:,} product days ({summary.zero_days:,} with none sold), "
        f"{summary.first_day} … {summary.last_day}"
    )
    if summary.weeks_moved:
        shift = timedelta(weeks=summary.weeks_moved)
        later = "later" if summary.weeks_moved > 0 else "earlier"
        text += (
            f", moved {abs(summary.weeks_moved):,} weeks {later} to "
            f"{summary.first_day + shift} … {summary.moved_last_day}"
        )
    return text


def register(app: typer.Typer) -> None:
    app.command("export")(export_files)
    app.command("import")(import_files)
