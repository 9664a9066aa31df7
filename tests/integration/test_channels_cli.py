"""`bakeplan channels set|list` and `bakeplan orders resend` against real Postgres, in-process (typer's
CliRunner): channels checked whole before any is stored; a `send_failed` order resent through the
orchestrator's outbox, anything else refused."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from contracts.purchasing_messages import OrderReleased
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.codec import decode
from infra.settings import Settings
from orchestrator.tables import outbox
from tests.integration.test_orders_cli import as_json, cli, invoke, released
from workers.purchase_orders.tables import purchase_order_history, purchase_orders

pytestmark = pytest.mark.integration
__all__ = ["cli"]  # the fixture, shared with the orders CLI tests


def run_sql(settings: Settings, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(statement)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def a_channel(tenant_id: str, supplier_id: str, to: str) -> str:
    return json.dumps({"tenant_id": tenant_id, "supplier_id": supplier_id, "target": {"kind": "email", "to": [to]}})


def test_channels_are_checked_whole_then_stored_and_replaced(
    cli: CliRunner, db_settings: Settings, tenant_id: str, tmp_path: Path
) -> None:
    orders = released(db_settings, tenant_id)
    supplier = orders[0].supplier_id
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        a_channel(tenant_id, supplier, "a@mill.example") + "\n" + a_channel(tenant_id, "NOPE", "b@x.example")
    )
    said = invoke(cli, "channels", "set", str(bad), code=2)
    assert f"tenant {tenant_id} has no supplier 'NOPE'" in said
    assert as_json(cli, "channels", "list", "--tenant", tenant_id) == [], "one bad line stores nothing"

    good = tmp_path / "good.jsonl"
    good.write_text(a_channel(tenant_id, supplier, "a@mill.example") + "\n")
    invoke(cli, "channels", "set", str(good))
    good.write_text(a_channel(tenant_id, supplier, "orders@mill.example") + "\n")
    invoke(cli, "channels", "set", str(good))
    (listed,) = as_json(cli, "channels", "list", "--tenant", tenant_id)
    assert (listed["supplier_id"], listed["target"]["to"]) == (supplier, ["orders@mill.example"])


def test_a_send_failed_order_is_resent_and_a_sent_one_refused(
    cli: CliRunner, db_settings: Settings, tenant_id: str
) -> None:
    failed, sent = released(db_settings, tenant_id)[:2]
    for order, status in ((failed, "send_failed"), (sent, "sent")):
        run_sql(
            db_settings,
            update(purchase_orders)
            .where(purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.po_number == order.po_number)
            .values(status=status),
        )
    said = as_json(cli, "orders", "resend", failed.po_number, "--tenant", tenant_id, "--by", "ops")
    assert (said["was"], said["status"], said["note"]) == ("send_failed", "released", "resend requested by ops")
    history = run_sql(
        db_settings,
        select(
            purchase_order_history.c.from_status, purchase_order_history.c.to_status, purchase_order_history.c.source
        )
        .where(purchase_order_history.c.tenant_id == tenant_id, purchase_order_history.c.po_number == failed.po_number)
        .order_by(purchase_order_history.c.id),
    )
    assert [tuple(h) for h in history][-1] == ("send_failed", "released", "operator")
    queued = run_sql(
        db_settings,
        select(outbox.c.topic, outbox.c.payload).where(
            outbox.c.message_key == tenant_id, outbox.c.event_type == "purchasing.order_released"
        ),
    )
    assert [topic for topic, _ in queued] == [Topic.PURCHASE_ORDERS]
    message = decode(queued[0][1])
    assert isinstance(message, OrderReleased)
    assert message.purchase_order == failed

    refused = invoke(cli, "orders", "resend", sent.po_number, "--tenant", tenant_id, code=1)
    assert f"order {sent.po_number} is sent; only a released or send_failed order is sent" in refused
