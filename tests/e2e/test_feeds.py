"""Live feeds on the real stack (Kafka, Postgres, the `bakeplan serve` orchestrator): a closed day sent
three times (the same record twice, then the same day under a new id) counts once; a stock count replaces
the lots; an event naming an unknown product and a record that is not JSON are parked with their reasons;
and the next plan's snapshot holds what was applied."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from contracts.messages import CountedLot, SalesDayClosed, SoldLine, StockCounted
from contracts.planning import PlanningSnapshot
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator import masterdata as md
from orchestrator.tables import audit_events, snapshots
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, publish, read_topic, seed, trigger, wait_terminal

pytestmark = pytest.mark.e2e

YESTERDAY = TODAY - timedelta(days=1)


async def units_sold(engine: AsyncEngine, tenant_id: str, product_id: str) -> int:
    sales = md.daily_sales
    async with engine.connect() as conn:
        found = await conn.execute(
            select(sales.c.units).where(
                sales.c.tenant_id == tenant_id, sales.c.product_id == product_id, sales.c.day == YESTERDAY
            )
        )
        return found.scalar_one_or_none() or 0


async def test_feeds_apply_once_park_bad_input_and_reach_the_next_snapshot(
    processes: Processes, settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    tenant_id = f"{tenant_prefix}-feed"
    tenant = await seed(engine, tenant_id)
    product = tenant.products[0].product_id
    ingredient = tenant.ingredients[0].ingredient_id
    before = await units_sold(engine, tenant_id, product)
    now = datetime.now(UTC)

    def closed(lines: dict[str, int]) -> SalesDayClosed:
        return SalesDayClosed(
            event_id=uuid4(),
            tenant_id=tenant_id,
            occurred_at=now,
            store_id="harbour",
            business_date=YESTERDAY,
            lines=tuple(SoldLine(product_id=p, units=u) for p, u in lines.items()),
            closed_at=now,
        )

    day = closed({product: 777})
    count = StockCounted(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=now,
        counted_at=now,
        lots=(CountedLot(lot_id="COUNT-1", ingredient_id=ingredient, quantity=321.5),),
    )
    key = tenant_id.encode()
    for value in (encode(day), encode(day), encode(closed({product: 777})), b"{not json", encode(count)):
        await publish(settings, Topic.FEEDS, value, key=key)
    await publish(settings, Topic.FEEDS, encode(closed({"NO-SUCH-PRODUCT": 5})), key=key)

    async def lots_counted() -> dict[str, float] | None:
        lots = md.stock_lots
        async with engine.connect() as conn:
            rows = (await conn.execute(select(lots).where(lots.c.tenant_id == tenant_id))).all()
        found = {r.lot_id: r.quantity for r in rows}
        return found if "COUNT-1" in found else None

    assert await eventually(lots_counted, timeout_s=60, what="the stock count to be applied") == {"COUNT-1": 321.5}
    assert await units_sold(engine, tenant_id, product) == before + 777

    parked = await read_topic(settings, Topic.DEAD_LETTER, lambda r: r.key == key, timeout_s=60, expect=2)
    reasons = [dict(r.headers)["dlq.reason"].decode() for r in parked]
    assert len(reasons) == 2, reasons
    assert any("lines[0].product_id: unknown product 'NO-SUCH-PRODUCT'" in reason for reason in reasons), reasons
    assert any(reason.startswith("body is not valid JSON") for reason in reasons), reasons
    assert all(dict(r.headers)["dlq.source.topic"] == settings.topic(Topic.FEEDS).encode() for r in parked)

    async with engine.connect() as conn:
        archived = await conn.execute(
            select(audit_events.c.event_type, func.count())
            .where(audit_events.c.tenant_id == tenant_id)
            .group_by(audit_events.c.event_type)
        )
        assert dict(archived.all()) == {"sales.day_closed": 2, "inventory.stock_counted": 1}

    done = await wait_terminal(engine, await trigger(settings, tenant_id))
    assert done["status"] == "COMPLETED", done["reason"]
    async with engine.connect() as conn:
        body = (
            await conn.execute(select(snapshots.c.body).where(snapshots.c.sha256 == done["snapshot_sha256"]))
        ).scalar_one()
    snapshot = PlanningSnapshot.model_validate_json(body)
    assert [(lot.lot_id, lot.quantity) for lot in snapshot.stock_lots] == [("COUNT-1", 321.5)]
    history = next(s for s in snapshot.sales if s.product_id == product)
    assert history.daily_units[-1] == before + 777


async def test_bakeplan_feed_sends_a_file_whose_second_sending_changes_nothing(
    processes: Processes,
    settings: Settings,
    engine: AsyncEngine,
    tenant_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id = f"{tenant_prefix}-cli"
    tenant = await seed(engine, tenant_id)
    product = tenant.products[0].product_id
    before = await units_sold(engine, tenant_id, product)
    feed_file = tmp_path / "closing.jsonl"
    event = {
        "event_type": "sales.day_closed",
        "store_id": "station",
        "business_date": YESTERDAY.isoformat(),
        "lines": [{"product_id": product, "units": 55}],
        "closed_at": "2026-11-27T19:00:00+01:00",
    }
    feed_file.write_text(json.dumps(event) + "\n")
    monkeypatch.delenv("BAKEPLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BAKEPLAN_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    for _ in range(2):
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["feed", str(feed_file), "--tenant", tenant_id, "--json"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["sent"] == 1

    # a marker behind them on the tenant's partition: once it is applied, both sendings were consumed
    ingredient = tenant.ingredients[0].ingredient_id
    marker = {
        "event_type": "inventory.stock_counted",
        "counted_at": "2026-11-27T20:00:00Z",
        "ingredient_ids": [ingredient],
        "lots": [{"lot_id": "MARK", "ingredient_id": ingredient, "quantity": 1.0}],
    }
    feed_file.write_text(json.dumps(marker))
    sent = await asyncio.to_thread(CliRunner().invoke, app, ["feed", str(feed_file), "--tenant", tenant_id])
    assert sent.exit_code == 0, sent.output

    async def marker_applied() -> bool | None:
        lots = md.stock_lots
        async with engine.connect() as conn:
            found = await conn.execute(
                select(lots.c.lot_id).where(lots.c.tenant_id == tenant_id, lots.c.lot_id == "MARK")
            )
            return True if found.first() else None

    await eventually(marker_applied, timeout_s=60, what="the marker count to be applied")
    # the second sending carried the same content-derived event id: the inbox applied it once
    assert await units_sold(engine, tenant_id, product) == before + 55
    async with engine.connect() as conn:
        archived = await conn.execute(
            select(func.count()).where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.event_type == "sales.day_closed"
            )
        )
    assert archived.scalar_one() == 1
