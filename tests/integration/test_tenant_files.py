"""Tenant files on a real Postgres: a seeded tenant exported and imported under a new id plans from the
same snapshot; importing the same files again changes nothing; a bad file writes nothing."""

import asyncio
import csv
import dataclasses
import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from contracts.planning import OpenPurchaseOrder, Regressor
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import PROFILES, generate_tenant
from orchestrator.snapshot_reader import read_snapshot
from orchestrator.tenant_files.csv_files import read_directory, write_directory
from orchestrator.tenant_files_store import export_tenant_files, import_tenant_files, read_rows

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


def new_id() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


async def seed(engine: AsyncEngine, tenant_id: str, profile: str, seed_value: int) -> None:
    tenant = generate_tenant(tenant_id, profile=profile, seed=seed_value, today=TODAY, components=True)  # type: ignore[arg-type]
    supplier, item = tenant.suppliers[0], tenant.suppliers[0].items[0]
    orders = (
        OpenPurchaseOrder(
            order_id="PO-1",
            supplier_id=supplier.supplier_id,
            ingredient_id=item.ingredient_id,
            quantity=item.pack_size * 3,
            delivery_date=TODAY + timedelta(days=2),
        ),
    )
    signal = Regressor(name="temperature_c", start_date=TODAY - timedelta(days=3), values=(4.5, None, -1.25, 0.1))
    async with engine.begin() as conn:
        await write_tenant(conn, dataclasses.replace(tenant, open_purchase_orders=orders), regressors=(signal,))


async def snapshot_without_id(engine: AsyncEngine, tenant_id: str, history_days: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        snapshot = await read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=14, history_days=history_days)
    return snapshot.model_dump(exclude={"tenant_id"})


async def export(engine: AsyncEngine, tenant_id: str, directory: Path) -> None:
    async with engine.connect() as conn:
        files = await export_tenant_files(conn, tenant_id)
    assert files is not None
    write_directory(directory, files)


@pytest.mark.parametrize(("profile", "seed_value"), [("tiny", 3), ("small", 1), ("small", 7), ("standard", 2)])
async def test_an_exported_tenant_imported_under_a_new_id_has_the_same_snapshot(
    engine: AsyncEngine, tmp_path: Path, profile: str, seed_value: int
) -> None:
    original, copy = new_id(), new_id()
    await seed(engine, original, profile, seed_value)
    await export(engine, original, tmp_path)
    async with engine.begin() as conn:
        outcome = await import_tenant_files(conn, copy, read_directory(tmp_path))
    assert outcome.problems == []
    assert outcome.written
    assert all(change.changed == change.removed == 0 for change in outcome.changes.values())

    history_days = PROFILES[profile].history_days
    assert await snapshot_without_id(engine, copy, history_days) == await snapshot_without_id(
        engine, original, history_days
    )


async def test_importing_the_same_files_again_changes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    original, copy = new_id(), new_id()
    await seed(engine, original, "small", 11)
    await export(engine, original, tmp_path)
    async with engine.begin() as conn:
        await import_tenant_files(conn, copy, read_directory(tmp_path))
    async with engine.connect() as conn:
        before = await read_rows(conn, copy)
    async with engine.begin() as conn:
        again = await import_tenant_files(conn, copy, read_directory(tmp_path))
    assert again.problems == []
    assert not again.written
    assert all(change.none for change in again.changes.values())
    async with engine.connect() as conn:
        assert await read_rows(conn, copy) == before


def edit(path: Path, line: int, column: str, value: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_a_bad_file_writes_nothing_and_names_every_bad_cell(
    engine: AsyncEngine, tmp_path: Path, db_settings: Settings
) -> None:
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    original, copy = new_id(), new_id()
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["seed", "--prefix", original, "--profile", "small", "--today", "2026-11-28"], env=env
        ).exit_code
        == 0
    )
    tenant = f"{original}-001"
    assert runner.invoke(app, ["export", "--tenant", tenant, str(tmp_path)], env=env).exit_code == 0
    ok = runner.invoke(app, ["import", "--tenant", copy, str(tmp_path)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "imported" in ok.output

    edit(tmp_path / "stock_lots.csv", 2, "quantity", "-3")
    edit(tmp_path / "recipe_lines.csv", 3, "unit", "pcs")
    edit(tmp_path / "daily_sales.csv", 5, "day", "2026-13-01")
    bad = runner.invoke(app, ["import", "--tenant", copy, str(tmp_path)], env=env)
    assert bad.exit_code == 2
    assert "stock_lots.csv:2:quantity: must be ≥ 0, got -3" in bad.output
    assert "recipe_lines.csv:3:unit: unit 'pcs' does not convert to" in bad.output
    assert "daily_sales.csv:5:day: '2026-13-01' is not a date" in bad.output
    assert "3 problem(s)" in bad.output

    fresh = new_id()
    assert runner.invoke(app, ["import", "--tenant", fresh, str(tmp_path)], env=env).exit_code == 2
    missing = runner.invoke(app, ["export", "--tenant", fresh, str(tmp_path / "none")], env=env)
    assert missing.exit_code == 2  # the refused import did not create the tenant
    assert "unknown tenant" in missing.output
    fixed = runner.invoke(app, ["export", "--tenant", tenant, str(tmp_path / "fixed")], env=env)
    assert fixed.exit_code == 0
    no_op = runner.invoke(app, ["import", "--tenant", copy, str(tmp_path / "fixed"), "--json"], env=env)
    assert '"written": false' in no_op.stdout  # the refused import left the copy equal to the original


def test_a_dry_run_counts_the_changes_and_writes_nothing(
    engine: AsyncEngine, tmp_path: Path, db_settings: Settings
) -> None:
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    runner = CliRunner()
    tenant = new_id()
    assert runner.invoke(app, ["import", "--template", str(tmp_path)], env=env).exit_code == 0
    (tmp_path / "tenant.csv").unlink()
    refused = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path)], env=env)
    assert refused.exit_code == 2
    assert "a new tenant needs a time zone" in refused.output
    first = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path), "--time-zone", "Europe/Berlin"], env=env)
    assert first.exit_code == 0, first.output

    edit(tmp_path / "products.csv", 2, "unit_price", "4.75")
    with (tmp_path / "stock_lots.csv").open() as handle:
        lots = handle.read().splitlines()
    (tmp_path / "stock_lots.csv").write_text("\n".join(lots[:2]) + "\n")
    dry = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path), "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert '"written": false' in dry.stdout
    assert '"products": {\n      "added": 0,\n      "changed": 1,\n      "removed": 0' in dry.stdout
    assert '"stock_lots": {\n      "added": 0,\n      "changed": 0,\n      "removed": 1' in dry.stdout
    again = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path), "--dry-run", "--json"], env=env)
    assert '"changed": 1' in again.stdout  # the dry run wrote nothing


def test_a_workbook_imports_like_its_csv_files(tmp_path: Path, db_settings: Settings) -> None:
    from openpyxl import Workbook

    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    runner = CliRunner()
    tenant = new_id()
    assert runner.invoke(app, ["import", "--template", str(tmp_path / "csv")], env=env).exit_code == 0
    workbook = Workbook()
    workbook.remove(workbook.active)
    for path in sorted((tmp_path / "csv").glob("*.csv")):
        sheet = workbook.create_sheet(path.stem)
        with path.open(newline="") as handle:
            for row in csv.reader(handle):
                sheet.append(row)
    workbook.save(tmp_path / "bakery.xlsx")

    first = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path / "bakery.xlsx")], env=env)
    assert first.exit_code == 0, first.output
    assert "imported" in first.output
    same = runner.invoke(app, ["import", "--tenant", tenant, str(tmp_path / "csv"), "--json"], env=env)
    assert '"written": false' in same.stdout


async def test_two_imports_of_a_new_tenant_at_once_write_it_once(engine: AsyncEngine, tmp_path: Path) -> None:
    original, copy = new_id(), new_id()
    await seed(engine, original, "tiny", 5)
    await export(engine, original, tmp_path)
    files = read_directory(tmp_path)

    async def run() -> bool:
        async with engine.begin() as conn:
            outcome = await import_tenant_files(conn, copy, files)
        assert outcome.problems == []
        return outcome.written

    assert sorted(await asyncio.gather(run(), run())) == [False, True]
