"""Inbox, outbox and master data on a real Postgres."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import PlanningError
from contracts.messages import PlanningRequested
from contracts.planning import Recipe
from contracts.topics import Topic
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.codec import decode
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import masterdata, snapshot_reader
from orchestrator.tables import inbox, outbox

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


async def test_inbox_claims_an_event_once_per_consumer(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()
    async with engine.begin() as conn:
        first = await inbox_store.claim(conn, inbox, consumer="a", event_id=event_id)
        again = await inbox_store.claim(conn, inbox, consumer="a", event_id=event_id)
        other = await inbox_store.claim(conn, inbox, consumer="b", event_id=event_id)
    assert (first, again, other) == (True, False, True)


async def test_inbox_claim_rolls_back_with_the_effect(engine: AsyncEngine) -> None:
    event_id = uuid.uuid4()

    async def claim_then_fail() -> None:
        async with engine.begin() as conn:
            assert await inbox_store.claim(conn, inbox, consumer="a", event_id=event_id)
            raise RuntimeError("the effect failed")

    with pytest.raises(RuntimeError):
        await claim_then_fail()
    async with engine.begin() as conn:
        assert await inbox_store.claim(conn, inbox, consumer="a", event_id=event_id)


async def test_outbox_stores_each_event_once_and_encodes_it(engine: AsyncEngine, tenant_id: str) -> None:
    message = PlanningRequested(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        business_date=TODAY,
        source="external",
    )
    for _ in range(2):
        async with engine.begin() as conn:
            await outbox_store.add(conn, outbox, [outbox_store.Outgoing(Topic.TRIGGERS, message)])
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.event_id == message.event_id))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["message_key"] == tenant_id
    assert rows[0]["published_at"] is None
    assert decode(rows[0]["payload"]) == message


def _sorted_lines(recipes: tuple[Recipe, ...]) -> list[Recipe]:
    return [r.model_copy(update={"lines": tuple(sorted(r.lines, key=lambda x: x.ingredient_id))}) for r in recipes]


async def test_snapshot_reads_back_what_was_seeded(engine: AsyncEngine, tenant_id: str) -> None:
    tenant = generate_tenant(tenant_id, profile="small", seed=5, today=TODAY)
    async with engine.begin() as conn:
        await write_tenant(conn, tenant)
        await write_tenant(conn, tenant)  # seeding again replaces, never duplicates
    async with engine.connect() as conn:
        snapshot = await snapshot_reader.read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=14)
        sales_rows = (
            await conn.execute(
                select(func.count())
                .select_from(masterdata.daily_sales)
                .where(masterdata.daily_sales.c.tenant_id == tenant_id)
            )
        ).scalar_one()

    assert snapshot.products == tenant.products
    assert _sorted_lines(snapshot.recipes) == _sorted_lines(tenant.recipes)
    assert snapshot.ingredients == tenant.ingredients
    assert snapshot.suppliers == tenant.suppliers
    assert snapshot.stock_lots == tenant.stock_lots
    assert snapshot.calendar == tenant.calendar
    assert sales_rows == sum(1 for h in tenant.sales for units in h.daily_units if units is not None)
    by_product = {h.product_id: h for h in snapshot.sales}
    for history in tenant.sales:
        read = by_product[history.product_id]
        offset = (history.start_date - read.start_date).days
        assert read.daily_units[offset:] == history.daily_units
        assert read.start_date + timedelta(days=len(read.daily_units)) == TODAY


async def test_snapshot_of_unknown_tenant_names_the_fix(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(PlanningError, match=r"unknown tenant 'nobody-here'.*bakeplan seed"):
            await snapshot_reader.read_snapshot(conn, "nobody-here", business_date=TODAY, horizon_days=14)
