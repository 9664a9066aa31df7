"""`bakeplan orders list|show|receive|cancel` against real Postgres, in-process (typer's CliRunner), on
orders a whole saga released (tests/integration/saga_pump.py)."""

import asyncio
import dataclasses
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.cli.terminal import console
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import PurchaseOrdersReleased
from infra.db import create_engine
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import masterdata as md
from tests.integration.saga_pump import Pump

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


@pytest.fixture
def cli(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("BAKEPLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_settings.database_url)
    monkeypatch.setattr(console, "_width", 200)  # tables one row per line, as on a wide terminal
    return CliRunner()


def released(settings: Settings, tenant_id: str) -> tuple[PurchaseOrder, ...]:
    """Seed the tenant and run its daily saga to the end; the orders it released."""

    async def run() -> tuple[PurchaseOrder, ...]:
        engine = create_engine(settings)
        try:
            # the same bakery every run, under the test's own tenant id: the generator seeds on the id,
            # and some ids release no order of two lines (the test failed 2 runs in 7)
            data = generate_tenant("orders-cli-bakery", profile="small", seed=3, today=TODAY)
            async with engine.begin() as conn:
                await write_tenant(conn, dataclasses.replace(data, tenant_id=tenant_id))
            pump = Pump(engine, [tenant_id])
            await pump.trigger(tenant_id, TODAY)
            await pump.run()
            (release,) = pump.messages(PurchaseOrdersReleased)
            return release.purchase_orders
        finally:
            await engine.dispose()

    return asyncio.run(run())


def lots(settings: Settings, prefix: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                return list(
                    (await conn.execute(select(md.stock_lots).where(md.stock_lots.c.lot_id.like(f"{prefix}%")))).all()
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def invoke(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def as_json(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_show_receive_and_cancel(cli: CliRunner, db_settings: Settings, tenant_id: str) -> None:
    orders = released(db_settings, tenant_id)
    listed = as_json(cli, "orders", "list", "--tenant", tenant_id)["orders"]
    assert sorted(o["po_number"] for o in listed) == sorted(o.po_number for o in orders)
    assert {o["status"] for o in listed} == {"released"}

    order = next(o for o in orders if len(o.lines) >= 2)
    first, second = order.lines[:2]
    shown = as_json(cli, "orders", "show", order.po_number, "--tenant", tenant_id)
    assert (shown["supplier_name"], shown["currency"], shown["total"]) == (order.supplier_name, "EUR", order.total)
    assert [(x["ingredient_name"], x["unit"], x["quantity"], x["remaining"]) for x in shown["lines"]] == [
        (x.ingredient_name, x.unit, x.quantity, x.quantity) for x in order.lines
    ]
    text = invoke(cli, "orders", "show", order.po_number, "--tenant", tenant_id)
    assert f"to {order.supplier_name} ({order.supplier_id})" in text
    assert f"{order.total:,.2f} EUR" in text
    assert first.ingredient_name in text
    assert f"{first.quantity:g} {first.unit}" in text

    # half of the first line, named by its ingredient, with its lot's expiry
    half = first.quantity / 2
    booked = as_json(
        cli, "orders", "receive", order.po_number, "--tenant", tenant_id,
        "--line", f"{first.ingredient_id}={half}@2027-01-31", "--receipt-id", "DN-77",
    )  # fmt: skip
    assert (booked["was"], booked["status"]) == ("released", "partly_received")
    assert [(lot.lot_id, lot.quantity, lot.expires_on) for lot in lots(db_settings, order.po_number)] == [
        (f"{order.po_number}/1/DN-77", half, date(2027, 1, 31))
    ]
    shown = as_json(cli, "orders", "show", order.po_number, "--tenant", tenant_id)
    assert shown["lines"][0]["remaining"] == pytest.approx(first.quantity - half)
    assert [r["receipt_id"] for r in shown["receipts"]] == ["DN-77"]
    assert [(h["from_status"], h["to_status"], h["source"]) for h in shown["history"]] == [
        (None, "released", "release"),
        ("released", "partly_received", "operator"),
    ]

    bad = invoke(cli, "orders", "receive", order.po_number, "--tenant", tenant_id, "--line", "rye=3", code=2)
    assert f"'rye' is not a line of {order.po_number}; its lines: {first.ingredient_id} ({first.ingredient_name})" in (
        " ".join(bad.split())
    )
    invoke(cli, "orders", "receive", order.po_number, "--tenant", tenant_id, "--line", f"{second.line_id}=lots", code=2)

    cancelled = as_json(cli, "orders", "cancel", order.po_number, "--tenant", tenant_id, "--reason", "mill closed")
    assert (cancelled["was"], cancelled["status"]) == ("partly_received", "cancelled")
    assert "1 line(s) no longer expected" not in cancelled["note"]  # both lines still had something to come
    assert cancelled["note"].startswith("cancelled: mill closed (by operator)")
    again = invoke(cli, "orders", "cancel", order.po_number, "--tenant", tenant_id, "--reason", "x", code=1)
    assert f"order {order.po_number} is cancelled" in " ".join(again.split())
    assert [
        o["status"] for o in as_json(cli, "orders", "list", "--tenant", tenant_id, "--status", "cancelled")["orders"]
    ] == ["cancelled"]


def test_an_unknown_order_is_exit_1_and_an_unknown_tenant_or_status_exit_2(cli: CliRunner, tenant_id: str) -> None:
    invoke(cli, "seed", "--prefix", tenant_id)
    missing = invoke(cli, "orders", "show", "PO-NOPE", "--tenant", f"{tenant_id}-001", code=1)
    assert "has no purchase order 'PO-NOPE'" in " ".join(missing.split())
    invoke(cli, "orders", "show", "PO-NOPE", "--tenant", "nobody-at-all", code=2)
    invoke(cli, "orders", "list", "--status", "shipped", code=2)
