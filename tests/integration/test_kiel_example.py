"""`examples/kiel` on a real Postgres: the catalogue alone passes `bakeplan import --dry-run`, and with
a generated sales export in the Kiel format (revenue, a closed day, a seasonal product) it imports
the daily sales the options say; a bad export writes nothing."""

import asyncio
import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from infra.settings import Settings
from orchestrator.masterdata import daily_sales, tenants
from tests.kiel_sales import EXAMPLE, example_prices, kiel_sales

pytestmark = pytest.mark.integration


def run(db_settings: Settings, *args: str) -> tuple[int, str, str]:
    """`bakeplan import examples/kiel ARGS`: exit code, stdout, stderr."""
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    result = CliRunner().invoke(app, ["import", str(EXAMPLE), *args], env=env)
    return result.exit_code, result.stdout, result.stderr


async def run_async(db_settings: Settings, *args: str) -> tuple[int, str, str]:
    """`run` from an async test: the command runs its own event loop, so in a thread of its own."""
    return await asyncio.to_thread(run, db_settings, *args)


def test_the_example_alone_passes_the_dry_run_and_writes_nothing(db_settings: Settings, tenant_id: str) -> None:
    code, out, err = run(db_settings, "--tenant", tenant_id, "--dry-run", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["written"] is False
    added = {name: counts["added"] for name, counts in report["files"].items()}
    assert added == {
        "tenant": 1, "products": 6, "ingredients": 15, "suppliers": 3, "supplier_offers": 18, "components": 1,
        "component_lines": 1, "component_components": 0, "recipes": 6, "recipe_lines": 39, "recipe_components": 1,
        "stock_lots": 14, "open_purchase_orders": 0, "daily_sales": 0, "regressors": 0,
    }  # fmt: skip
    assert "sales" not in report


async def test_the_example_with_a_kiel_export_imports_units_moved_to_the_ending(
    db_settings: Settings, tenant_id: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    generated = kiel_sales(weeks=8, seed=4)
    path = tmp_path / "sales_kiel.csv"
    path.write_text(generated.text)
    ending = date(2026, 11, 28)  # a Saturday
    options = ["--sales", str(path), "--sales-measure", "revenue", "--sales-ending", str(ending)]
    code, out, err = await run_async(db_settings, "--tenant", tenant_id, *options, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["written"] is True

    async with engine.connect() as conn:
        rows = (await conn.execute(select(daily_sales).where(daily_sales.c.tenant_id == tenant_id))).mappings().all()
        zone = (await conn.execute(select(tenants.c.timezone).where(tenants.c.tenant_id == tenant_id))).scalar_one()
    assert zone == "Europe/Berlin"
    stored = {(r["product_id"], r["day"]): r["units"] for r in rows}
    shift = timedelta(weeks=report["sales"]["weeks_moved"])
    assert generated.last_day + shift == max(day for _, day in stored) == date(2026, 11, 23)  # Monday before
    assert ending - timedelta(days=6) <= generated.last_day + shift <= ending
    prices = example_prices()
    expected = {(p, day + shift): int(euro / prices[p] + 0.5) for (p, day), euro in generated.revenue.items()}
    open_days = {day for _, day in expected}
    assert stored == expected  # every product sold on every open day since its start: no zeros to add
    assert generated.closed_day + shift not in {day for _, day in stored}
    assert len(open_days) == 8 * 7 - 1
    assert len(stored) == report["files"]["daily_sales"]["added"] == report["sales"]["rows"]
    assert all(day.weekday() == (day - shift).weekday() for _, day in stored)

    code, out, _ = await run_async(db_settings, "--tenant", tenant_id, *options, "--json")
    assert code == 0
    assert json.loads(out)["written"] is False  # the same export again changes nothing


async def test_a_seasonal_product_gets_zeros_on_open_days_after_its_first_sale(
    db_settings: Settings, tenant_id: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "units.csv"
    # rolls every open day; the seasonal bread from Tuesday on, then nothing on Thursday; Friday closed
    path.write_text(
        "date,product,quantity\n"
        "2017-07-03,rolls,800\n2017-07-04,rolls,810\n2017-07-05,rolls,820\n2017-07-06,rolls,830\n"
        "2017-07-04,seasonal_bread,5\n2017-07-05,seasonal_bread,6\n"
    )
    code, out, err = await run_async(db_settings, "--tenant", tenant_id, "--sales", str(path))
    assert code == 0, out + err
    assert "sales from units.csv: 7 product days (1 with none sold), 2017-07-03 … 2017-07-06" in out
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(daily_sales.c.day, daily_sales.c.units).where(
                    daily_sales.c.tenant_id == tenant_id, daily_sales.c.product_id == "seasonal_bread"
                )
            )
        ).all()
    assert sorted(rows) == [(date(2017, 7, 4), 5), (date(2017, 7, 5), 6), (date(2017, 7, 6), 0)]


async def test_a_bad_export_is_named_line_by_line_and_nothing_is_written(
    db_settings: Settings, tenant_id: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "date,product,quantity\n2017-07-31,bread,150.5\n2017-07-31,baguette,80\n2017-08-01,bread,-2\n"
        "2017-08-32,rolls,300\n"
    )
    code, _, err = await run_async(
        db_settings, "--tenant", tenant_id, "--sales", str(path), "--sales-measure", "revenue"
    )
    assert code == 2
    assert err.splitlines()[:3] == [
        "export.csv:4:quantity: must be ≥ 0, got -2",
        "export.csv:5:date: '2017-08-32' is not a date (write YYYY-MM-DD, e.g. 2026-12-24)",
        "export.csv:3:product: unknown product 'baguette': not a product_id of products.csv",
    ]
    assert "3 problem(s)" in err
    assert "nothing was written" in err
    async with engine.connect() as conn:
        assert (await conn.execute(select(tenants).where(tenants.c.tenant_id == tenant_id))).first() is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sales-ending", "yesterday"], "--sales-ending moves the sales of --sales; give --sales too"),
        (["--sales-measure", "revenue"], "give --sales too"),
        (["--sales", "missing.csv"], "--sales 'missing.csv' is not a file"),
        (["--sales", "README.md", "--sales-measure", "euro"], "--sales-measure 'euro': use units"),
        (["--sales", "README.md", "--sales-ending", "last week"], "--sales-ending 'last week' is not a date"),
        (["--sales", "latin1.csv"], "latin1.csv:2: is not UTF-8 text (byte 0xf6): save the file as CSV in UTF-8"),
    ],
)
def test_sales_options_without_sense_are_refused(
    db_settings: Settings, tenant_id: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "latin1.csv").write_bytes("date,product,quantity\n2017-07-31,Brötchen,3\n".encode("latin-1"))
    files = {"README.md": str(EXAMPLE / "README.md"), "latin1.csv": str(tmp_path / "latin1.csv")}
    code, _, err = run(db_settings, "--tenant", tenant_id, *[files.get(a, a) for a in args])
    assert code == 2
    assert message in err
