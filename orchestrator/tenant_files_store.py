"""The tenant files' Postgres side: a tenant's master-data rows read whole, and replaced whole; the export
and the import (`bakeplan export`, `bakeplan import`) in the caller's transaction.

Rows are keyed by tenant file name (`orchestrator.tenant_files.columns`), each as its `masterdata`
table holds it without the tenant id, in key order; the tenant row's JSON settings are read through
their contract models, so settings stored before a field existed read with its default.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.planning import Calendar, Capacity, PlanningPolicy
from orchestrator import masterdata as md
from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.diff import Change, diff
from orchestrator.tenant_files.reading import RawFile, Reading, TenantRows, read_files, resolve_tenant
from orchestrator.tenant_files.sales import SalesExport, SalesSummary, moved_to_end, yesterday
from orchestrator.tenant_files.writing import FileContent, render_files

_TABLES: dict[str, Table] = {t.name: t for t in md.TENANT_TABLES}
TENANT_FILE_TABLES: dict[str, Table] = {spec.name: _TABLES[spec.table] for spec in FILES if spec.name != "tenant"}
"""The `masterdata` table of each tenant file but the tenant file (the tenant row)."""
_SETTINGS: dict[str, type[BaseModel]] = {"calendar": Calendar, "capacity": Capacity, "policy": PlanningPolicy}
# COPY rather than INSERT: a large tenant has ~200,000 sales rows
_COPIED = ("daily_sales", "regressors")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


async def read_rows(conn: AsyncConnection, tenant_id: str, *, skip: Collection[str] = ()) -> TenantRows | None:
    """Every row of the tenant, per tenant file but those in `skip`; `None` for a tenant that does not exist."""
    tenant = (await conn.execute(select(md.tenants).where(md.tenants.c.tenant_id == tenant_id))).mappings().first()
    if tenant is None:
        return None
    settings = {
        name: model.model_validate(tenant[name], strict=False).model_dump(mode="json")
        for name, model in _SETTINGS.items()
    }
    rows: TenantRows = {
        "tenant": [{"name": tenant["name"], "timezone": tenant["timezone"], "currency": tenant["currency"], **settings}]
    }
    for spec in FILES:
        if spec.name == "tenant" or spec.name in skip:
            continue
        table = _TABLES[spec.table]
        key = [table.c[k] for k in spec.key]
        result = await conn.execute(select(table).where(table.c.tenant_id == tenant_id).order_by(*key))
        rows[spec.name] = [{k: _plain(v) for k, v in row.items() if k != "tenant_id"} for row in result.mappings()]
    return rows


async def replace_rows(conn: AsyncConnection, tenant_id: str, rows: TenantRows) -> None:
    """Make `rows` the tenant's whole master data, in the caller's transaction (the tenant row is
    created, or updated in place); `rows["tenant"]` must hold the complete tenant row."""
    tenant = rows["tenant"][0]
    if await md.tenant_exists(conn, tenant_id):
        await conn.execute(update(md.tenants).where(md.tenants.c.tenant_id == tenant_id).values(**tenant))
    else:
        await conn.execute(insert(md.tenants).values(tenant_id=tenant_id, **tenant))
    for table in md.TENANT_TABLES:
        await conn.execute(table.delete().where(table.c.tenant_id == tenant_id))
    raw = None
    for spec in FILES:
        values = rows.get(spec.name, [])
        if spec.name == "tenant" or not values:
            continue
        if spec.table in _COPIED:
            raw = raw or await conn.get_raw_connection()
            columns = ["tenant_id", *values[0]]
            records = [(tenant_id, *row.values()) for row in values]
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                spec.table, schema_name=md.SCHEMA, records=records, columns=columns
            )
        else:
            await conn.execute(insert(_TABLES[spec.table]), [{"tenant_id": tenant_id, **row} for row in values])


@dataclass(frozen=True)
class ImportOutcome:
    """What `import_tenant_files` found and did: the problems (then nothing was written), or the changes."""

    problems: list[str]
    changes: dict[str, Change]
    written: bool
    sales: SalesSummary | None = None  # what a sales export gave (moved to its ending), when one was read


async def export_tenant_files(conn: AsyncConnection, tenant_id: str) -> dict[str, FileContent] | None:
    """The tenant's master data as tenant files; `None` for a tenant that does not exist.

    The files agree with each other only if the caller's transaction is REPEATABLE READ (the tables
    are read one by one)."""
    rows = await read_rows(conn, tenant_id)
    return None if rows is None else render_files(rows)


async def import_tenant_files(
    conn: AsyncConnection,
    tenant_id: str,
    files: Mapping[str, RawFile],
    *,
    time_zone: str | None = None,
    dry_run: bool = False,
    sales: SalesExport | None = None,
    sales_ending: date | Literal["yesterday"] | None = None,
    now: datetime | None = None,
) -> ImportOutcome:
    """Check `files` whole and, when nothing is wrong, make them the tenant's master data in the caller's
    transaction. Nothing is written when there is a problem, on a dry run, or when nothing changes.

    `sales`, a long-format export, gives the daily sales (`orchestrator.tenant_files.sales`); with
    `sales_ending` its days move by whole weeks so the last sale falls within the 7 days up to that
    date, or up to the day before `now` in the tenant's time zone (`"yesterday"`; `now` is then required).
    """
    reading = read_files(files, sales)
    # one import per tenant at a time (a new tenant has no row to lock yet): the second reads what the
    # first wrote, so its counts are true; held to the end of the caller's transaction
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"tenant_files:{tenant_id}"))))
    current = await read_rows(conn, tenant_id)
    resolve_tenant(
        reading, tenant_id=tenant_id, existing=current["tenant"][0] if current else None, time_zone=time_zone
    )
    if not reading.problems and sales_ending is not None:
        _end_sales(reading, sales_ending, now)
    if reading.problems:
        return ImportOutcome(problems=reading.problems, changes={}, written=False)
    changes = diff(current or {}, reading.rows)
    write = not dry_run and not all(change.none for change in changes.values())
    if write:
        await replace_rows(conn, tenant_id, reading.rows)
    return ImportOutcome(problems=[], changes=changes, written=write, sales=reading.sales)


def _end_sales(reading: Reading, ending: date | Literal["yesterday"], now: datetime | None) -> None:
    """Move the export's sales to `ending` in place (a problem when a day would leave the calendar)."""
    if reading.sales is None:
        return
    if ending == "yesterday":
        if now is None:
            raise ValueError("sales_ending='yesterday' needs now")
        ending = yesterday(now, reading.rows["tenant"][0]["timezone"])
    try:
        reading.rows["daily_sales"], reading.sales = moved_to_end(reading.rows["daily_sales"], reading.sales, ending)
    except OverflowError:
        reading.problems.append(f"{reading.sales.source}: its days cannot be moved to end by {ending}")
