"""The live feeds applied to a real Postgres (orchestrator/feeds_store.py): exactly once through the inbox,
a store's closed day replacing its earlier word, stock counts replacing lots, master-data rows upserted and
removed, bad events refused with nothing written, and the next snapshot seeing every applied change."""

from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import PermanentError
from contracts.messages import CountedLot, MasterDataChanged, SalesDayClosed, SoldLine, StockCounted
from orchestrator import masterdata as md
from orchestrator.audit import DEV_AUDIT_KEYS, verify
from orchestrator.feeds_store import Feeds
from orchestrator.snapshot_reader import read_snapshot
from orchestrator.tables import audit_events
from orchestrator.tenant_files.reading import RawFile
from orchestrator.tenant_files.writing import template_files
from orchestrator.tenant_files_store import import_tenant_files

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)
DAY = date(2026, 12, 3)  # after the template's two sales days (Dec 1 and 2)


def clock() -> datetime:
    return AT


@pytest.fixture
async def tenant(engine: AsyncEngine, tenant_id: str) -> str:
    """The template bakery under a fresh id: P-RYE and P-ROLL, I-FLOUR (kg) and I-EGG (pcs), two lots."""
    files = {
        name: RawFile(header=header, rows=list(enumerate(rows, start=2)))
        for name, (header, rows) in template_files().items()
    }
    async with engine.begin() as conn:
        outcome = await import_tenant_files(conn, tenant_id, files)
    assert outcome.problems == []
    assert outcome.written
    return tenant_id


@pytest.fixture
def feeds(engine: AsyncEngine) -> Feeds:
    return Feeds(engine, clock)


def closed(tenant_id: str, store: str, lines: dict[str, int], *, on: date = DAY) -> SalesDayClosed:
    return SalesDayClosed(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=AT,
        store_id=store,
        business_date=on,
        lines=tuple(SoldLine(product_id=p, units=u) for p, u in lines.items()),
        closed_at=AT,
    )


def changed(tenant_id: str, entity: str, operation: Literal["upsert", "remove"], **row: Any) -> MasterDataChanged:
    return MasterDataChanged(
        event_id=uuid4(), tenant_id=tenant_id, occurred_at=AT, entity=entity, operation=operation, row=row
    )


async def daily_sales(engine: AsyncEngine, tenant_id: str, day: date = DAY) -> dict[str, int]:
    sales = md.daily_sales
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(sales.c.product_id, sales.c.units).where(sales.c.tenant_id == tenant_id, sales.c.day == day)
        )
        return {r.product_id: r.units for r in rows}


async def lots(engine: AsyncEngine, tenant_id: str) -> dict[str, tuple[str, float]]:
    table = md.stock_lots
    async with engine.connect() as conn:
        rows = await conn.execute(select(table).where(table.c.tenant_id == tenant_id))
        return {r.lot_id: (r.ingredient_id, r.quantity) for r in rows}


async def test_closed_days_of_two_stores_sum_and_a_resent_or_repeated_day_changes_nothing(
    engine: AsyncEngine, feeds: Feeds, tenant: str
) -> None:
    north = closed(tenant, "north", {"P-RYE": 40, "P-ROLL": 120})
    await feeds.apply(north)
    await feeds.apply(closed(tenant, "south", {"P-RYE": 25}))
    assert await daily_sales(engine, tenant) == {"P-RYE": 65, "P-ROLL": 120}

    await feeds.apply(north)  # the same event again (a redelivery): the inbox drops it
    await feeds.apply(closed(tenant, "north", {"P-RYE": 40, "P-ROLL": 120}))  # the same day sent twice
    assert await daily_sales(engine, tenant) == {"P-RYE": 65, "P-ROLL": 120}

    await feeds.apply(closed(tenant, "north", {"P-RYE": 38}))  # a correction: the rolls were a mistake
    assert await daily_sales(engine, tenant) == {"P-RYE": 63, "P-ROLL": 0}

    async with engine.connect() as conn:
        archived = await conn.execute(select(audit_events.c.event_type).where(audit_events.c.tenant_id == tenant))
        chain = await verify(conn, DEV_AUDIT_KEYS, tenant_id=tenant)
    # four events applied (the redelivery is not), each archived in the tenant's unbroken audit chain
    assert list(archived.scalars()) == ["sales.day_closed"] * 4
    assert chain.broken == []
    assert chain.events == 4


async def test_a_closed_day_with_an_unknown_product_writes_nothing_and_can_be_applied_after_the_fix(
    engine: AsyncEngine, feeds: Feeds, tenant: str
) -> None:
    event = closed(tenant, "north", {"P-RYE": 10, "P-BUN": 7})
    with pytest.raises(PermanentError, match=r"lines\[1\]\.product_id: unknown product 'P-BUN'"):
        await feeds.apply(event)
    assert await daily_sales(engine, tenant) == {}
    await feeds.apply(
        changed(tenant, "products", "upsert", product_id="P-BUN", name="Bun", family="rolls", unit_price=0.8,
                unit_cost=0.3, shelf_life_days=1, finished_stock_units=0)
    )  # fmt: skip
    await feeds.apply(event)  # replayed from the dead-letter topic: its inbox claim was rolled back with it
    assert await daily_sales(engine, tenant) == {"P-RYE": 10, "P-BUN": 7}


async def test_an_unknown_tenant_is_refused(feeds: Feeds) -> None:
    with pytest.raises(PermanentError, match=r"unknown tenant 'it-nobody-here'"):
        await feeds.apply(closed("it-nobody-here", "north", {"P-RYE": 1}))


async def test_stock_counts_replace_all_lots_or_the_counted_ingredients_lots(
    engine: AsyncEngine, feeds: Feeds, tenant: str
) -> None:
    def count(found: list[tuple[str, str, float]], ingredient_ids: tuple[str, ...] | None) -> StockCounted:
        return StockCounted(
            event_id=uuid4(),
            tenant_id=tenant,
            occurred_at=AT,
            counted_at=AT,
            lots=tuple(CountedLot(lot_id=lot, ingredient_id=i, quantity=q) for lot, i, q in found),
            ingredient_ids=ingredient_ids,
        )

    assert await lots(engine, tenant) == {"L-0001": ("I-FLOUR", 125.0), "L-0002": ("I-EGG", 180.0)}
    await feeds.apply(count([("L-0003", "I-EGG", 60)], ("I-EGG",)))
    assert await lots(engine, tenant) == {"L-0001": ("I-FLOUR", 125.0), "L-0003": ("I-EGG", 60.0)}
    with pytest.raises(PermanentError, match=r"lot 'L-0001': already a lot of ingredient 'I-FLOUR'"):
        await feeds.apply(count([("L-0001", "I-EGG", 5)], ("I-EGG",)))
    await feeds.apply(count([("L-0009", "I-FLOUR", 80.5)], None))
    assert await lots(engine, tenant) == {"L-0009": ("I-FLOUR", 80.5)}


async def test_master_data_rows_are_upserted_and_removed_and_a_dangling_removal_is_refused(
    engine: AsyncEngine, feeds: Feeds, tenant: str
) -> None:
    await feeds.apply(
        changed(tenant, "recipe_lines", "upsert", product_id="P-ROLL", ingredient_id="I-FLOUR",
                quantity_per_batch=2500, unit="g")
    )  # fmt: skip
    with pytest.raises(PermanentError, match=r"remove ingredients would leave recipe_lines\.csv:\d+:ingredient_id"):
        await feeds.apply(changed(tenant, "ingredients", "remove", ingredient_id="I-EGG"))
    await feeds.apply(changed(tenant, "tenant", "upsert", name="Bäckerei Kiel", time_zone="Europe/Berlin",
                              closed_weekdays="5;6"))  # fmt: skip
    await feeds.apply(closed(tenant, "north", {"P-RYE": 12, "P-ROLL": 30}))
    await feeds.apply(changed(tenant, "recipe_components", "remove", product_id="P-ROLL", component_id="C-DOUGH"))
    await feeds.apply(changed(tenant, "recipe_lines", "remove", product_id="P-ROLL", ingredient_id="I-EGG"))
    await feeds.apply(changed(tenant, "recipe_lines", "remove", product_id="P-ROLL", ingredient_id="I-FLOUR"))
    await feeds.apply(changed(tenant, "recipes", "remove", product_id="P-ROLL"))
    await feeds.apply(changed(tenant, "products", "remove", product_id="P-ROLL"))

    async with engine.connect() as conn:
        snapshot = await read_snapshot(conn, tenant, business_date=date(2026, 12, 4), horizon_days=3)
    assert [p.product_id for p in snapshot.products] == ["P-RYE"]
    assert snapshot.calendar.closed_weekdays == (5, 6)
    assert [s.product_id for s in snapshot.sales] == ["P-RYE"]  # the removed product's history went with it
    assert snapshot.sales[0].daily_units[-1] == 12
