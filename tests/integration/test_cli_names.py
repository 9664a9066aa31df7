"""Names, units and currency in what the CLI prints, against the real Postgres (typer's CliRunner):
`plan-of`, `show` and `runs` (text and --json), `bakeplan tenants`, the unknown-tenant message, and
a tenant's local business date."""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from bakeplan.cli import app, terminal
from bakeplan.cli.tenant_views import business_date_for
from infra.db import create_engine
from infra.settings import Settings
from orchestrator import masterdata as md
from orchestrator.tables import sagas, schedules
from workers.procurement.tables import purchase_lines
from workers.production.tables import batches

pytestmark = pytest.mark.integration
runner = CliRunner()
T = TypeVar("T")


def in_db(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`work` in one transaction on its own engine: the CLI under test runs its own event loops, so
    these tests are synchronous and so is this."""

    async def run() -> T:
        engine = create_engine(settings, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def cli(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("BAKEPLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_settings.database_url)
    # wide enough that no cell folds, so the assertions read whole cells (tests/unit/test_plan_reading.py
    # checks 100 columns)
    monkeypatch.setattr(terminal.console, "width", 250)
    return runner


@pytest.fixture
def two_tenants(cli: CliRunner, tenant_id: str, db_settings: Settings) -> Iterator[list[str]]:
    """Two seeded tenants of this test; their schedules are removed afterwards (the scheduler fan-out
    test plans every schedule without a due time)."""
    seeded = run_json(cli, "seed", "--tenants", "2", "--prefix", tenant_id)
    yield seeded["tenants"]

    async def unschedule(conn: AsyncConnection) -> None:
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(seeded["tenants"])))

    in_db(db_settings, unschedule)


def run_json(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def a_recorded_plan(settings: Settings, tenant: str) -> dict[str, Any]:
    """A completed saga of `tenant` with one batch and two purchase lines, one of them for an ingredient
    and a supplier the master data no longer has; the tenant's currency is CHF."""
    return in_db(settings, lambda conn: _record_plan(conn, tenant))


async def _record_plan(conn: AsyncConnection, tenant: str) -> dict[str, Any]:
    product = (await conn.execute(select(md.products).where(md.products.c.tenant_id == tenant))).mappings().first()
    kg = select(md.ingredients).where(md.ingredients.c.tenant_id == tenant, md.ingredients.c.unit == "kg")
    flour = (await conn.execute(kg)).mappings().first()
    supplier = (await conn.execute(select(md.suppliers).where(md.suppliers.c.tenant_id == tenant))).mappings().first()
    assert product and flour and supplier, "a seeded tenant has products, ingredients and suppliers"  # noqa: PT018
    await conn.execute(update(md.tenants).where(md.tenants.c.tenant_id == tenant).values(currency="CHF"))
    saga_id, now, day = uuid4(), datetime.now(UTC), date(2026, 11, 28)
    await conn.execute(
        insert(sagas).values(
            saga_id=saga_id, tenant_id=tenant, business_date=day, status="COMPLETED", state={},
            trigger_event_id=uuid4(), snapshot_sha256="0" * 64, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    batch_id = str(uuid4())
    await conn.execute(
        insert(batches).values(
            batch_id=batch_id, saga_id=saga_id, tenant_id=tenant, product_id=product["product_id"], day=day,
            batches=3, units=42, oven_minutes=90, reason="test", status="active",
        )
    )  # fmt: skip
    line = {"saga_id": saga_id, "tenant_id": tenant, "order_date": day, "delivery_date": day + timedelta(days=2),
            "late": False, "reason": "test", "status": "active"}  # fmt: skip
    known, gone = str(uuid4()), str(uuid4())
    await conn.execute(
        insert(purchase_lines),
        [
            line | {"line_id": known, "supplier_id": supplier["supplier_id"], "ingredient_id": flour["ingredient_id"],
                    "quantity": 40.0, "unit_price": 2.437},
            line | {"line_id": gone, "supplier_id": "S-GONE", "ingredient_id": "I-GONE", "quantity": 3.0,
                    "unit_price": 1.5, "late": True},
        ],
    )  # fmt: skip
    return {"saga_id": str(saga_id), "batch_id": batch_id, "known": known, "gone": gone, "product": product,
        "flour": flour, "supplier": supplier}  # fmt: skip


def test_plan_of_names_units_and_currency_and_falls_back_to_ids(
    cli: CliRunner, two_tenants: list[str], db_settings: Settings
) -> None:
    tenant = two_tenants[0]
    made = a_recorded_plan(db_settings, tenant)
    tenant_name = (_tenant_row(db_settings, tenant))["name"]

    plan = run_json(cli, "plan-of", made["saga_id"])
    text = cli.invoke(app, ["plan-of", made["saga_id"]])

    assert (plan["tenant_id"], plan["tenant_name"], plan["currency"]) == (tenant, tenant_name, "CHF")
    [batch] = plan["batches"]
    assert (batch["batch_id"], batch["product_id"], batch["units"]) == (
        made["batch_id"],
        made["product"]["product_id"],
        42,
    )
    assert (batch["product_name"], batch["unit"]) == (made["product"]["name"], "pcs")
    lines = {p["line_id"]: p for p in plan["purchase_lines"]}
    known, gone = lines[made["known"]], lines[made["gone"]]
    assert (known["ingredient_id"], known["supplier_id"]) == (
        made["flour"]["ingredient_id"],
        made["supplier"]["supplier_id"],
    )
    assert (known["ingredient_name"], known["unit"]) == (made["flour"]["name"], "kg")
    assert (known["supplier_name"], known["currency"]) == (made["supplier"]["name"], "CHF")
    assert (gone["ingredient_name"], gone["unit"], gone["supplier_name"]) == (None, None, None)
    assert text.exit_code == 0, text.output
    shown = flat(text.stdout)
    assert f"{tenant_name} ({tenant})" in shown
    assert made["flour"]["name"] in shown
    assert made["supplier"]["name"] in shown
    assert "40 kg 2.44/kg 97.48" in shown
    assert "price CHF" in shown
    assert "I-GONE 3 units 1.50/unit 4.50 LATE active" in shown
    assert made["product"]["name"] in shown
    assert made["batch_id"][:8] in shown


def test_show_and_runs_name_the_tenant(cli: CliRunner, two_tenants: list[str], db_settings: Settings) -> None:
    tenant = two_tenants[0]
    made = a_recorded_plan(db_settings, tenant)
    name = (_tenant_row(db_settings, tenant))["name"]

    shown = run_json(cli, "show", made["saga_id"])
    runs = run_json(cli, "runs", "--tenant", tenant)
    text = cli.invoke(app, ["runs", "--tenant", tenant])

    assert (shown["tenant_id"], shown["tenant_name"]) == (tenant, name)
    assert [(r["saga_id"], r["tenant_id"], r["tenant_name"]) for r in runs["runs"]] == [(made["saga_id"], tenant, name)]
    assert f"{name} ({tenant})" in flat(text.stdout)


def test_tenants_lists_name_zone_currency_schedule_and_last_plan(
    cli: CliRunner, two_tenants: list[str], db_settings: Settings
) -> None:
    planned, scheduled = two_tenants
    made = a_recorded_plan(db_settings, planned)
    run_json(cli, "schedule", "set", "--tenant", scheduled, "--time-zone", "Pacific/Kiritimati", "--at", "05:15")
    prefix = planned.rsplit("-", 1)[0]

    listed = run_json(cli, "tenants", "--prefix", prefix)
    run_json(cli, "schedule", "pause", "--tenant", scheduled)
    paused = {t["tenant_id"]: t for t in run_json(cli, "tenants", "--prefix", prefix)["tenants"]}
    text = cli.invoke(app, ["tenants", "--prefix", prefix])
    limited = run_json(cli, "tenants", "--prefix", prefix, "--limit", "1")

    by_id = {t["tenant_id"]: t for t in listed["tenants"]}
    assert sorted(by_id) == sorted(two_tenants)
    assert listed["total"] == 2
    first = by_id[planned]
    zone = (_tenant_row(db_settings, planned))["timezone"]
    assert (first["name"], first["time_zone"], first["currency"]) == (
        (_tenant_row(db_settings, planned))["name"],
        zone,
        "CHF",
    )
    assert first["schedule"] is None
    assert first["last_plan"] == {"saga_id": made["saga_id"], "business_date": "2026-11-28", "status": "COMPLETED"}
    second = by_id[scheduled]
    assert second["currency"] == "EUR"
    assert second["schedule"]["time_zone"] == "Pacific/Kiritimati"
    assert (second["schedule"]["run_at"], second["schedule"]["paused"]) == ("05:15", False)
    next_run = datetime.fromisoformat(second["schedule"]["next_run_at"])
    assert next_run.astimezone(UTC) > datetime.now(UTC) - timedelta(days=1)
    assert next_run.astimezone(UTC).hour == 15  # 05:15 in UTC+14 (plus a jitter of seconds)
    assert (paused[scheduled]["schedule"]["paused"], paused[scheduled]["schedule"]["next_run_at"]) == (True, None)
    assert text.exit_code == 0, text.output
    assert "daily 05:15 Pacific/Kiritimati, paused" in flat(text.stdout)
    assert made["saga_id"] in flat(text.stdout).replace(" ", "")
    assert (len(limited["tenants"]), limited["total"]) == (1, 2)


def test_an_unknown_tenant_points_to_bakeplan_tenants(cli: CliRunner, tmp_path: Path) -> None:
    trigger = cli.invoke(app, ["trigger", "--tenant", "no-such-bakery-names"])
    schedule = cli.invoke(app, ["schedule", "set", "--tenant", "no-such-bakery-names", "--time-zone", "UTC"])
    export = cli.invoke(app, ["export", "--tenant", "no-such-bakery-names", str(tmp_path / "out")])

    for result in (trigger, schedule, export):
        assert result.exit_code == 2
        assert "unknown tenant 'no-such-bakery-names': list the tenants with `bakeplan tenants`" in flat(result.output)


def test_the_business_date_is_the_tenants_local_date(two_tenants: list[str], db_settings: Settings) -> None:
    east, west = two_tenants
    noon, dawn = datetime(2026, 3, 30, 12, 0, tzinfo=UTC), datetime(2026, 3, 30, 5, 0, tzinfo=UTC)

    async def move_and_read(conn: AsyncConnection) -> list[date | None]:
        for tenant, zone in ((east, "Pacific/Kiritimati"), (west, "Pacific/Pago_Pago")):
            await conn.execute(update(md.tenants).where(md.tenants.c.tenant_id == tenant).values(timezone=zone))
        return [
            await business_date_for(conn, east, noon),
            await business_date_for(conn, west, dawn),
            await business_date_for(conn, west, noon),
            await business_date_for(conn, "no-such-bakery-names", noon),
        ]

    # UTC+14 is already tomorrow at noon UTC; UTC-11 is still yesterday at 05:00 UTC
    assert in_db(db_settings, move_and_read) == [date(2026, 3, 31), date(2026, 3, 29), date(2026, 3, 30), None]


def _tenant_row(settings: Settings, tenant: str) -> dict[str, Any]:
    async def read(conn: AsyncConnection) -> dict[str, Any]:
        return dict((await conn.execute(select(md.tenants).where(md.tenants.c.tenant_id == tenant))).mappings().one())

    return in_db(settings, read)
