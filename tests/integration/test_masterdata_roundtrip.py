"""Master data on a real Postgres: every planning input survives a write and a read, rows from before a
field existed read as the contract default, and rows the contracts refuse name the tenant and field."""

import dataclasses
from datetime import date, time, timedelta

import pytest
from sqlalchemy import delete, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.errors import PlanningError
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    PriceTier,
    Product,
    Recipe,
    RecipeLine,
    Regressor,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
)
from lab.seed import write_tenant
from lab.synthetic import TenantData
from orchestrator import masterdata, snapshot_reader

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)
HISTORY_DAYS = 28
HORIZON_DAYS = 14


def a_full_snapshot(tenant_id: str) -> PlanningSnapshot:
    """A snapshot with every optional planning input set to a non-default value, ids in sorted order."""
    start = TODAY - timedelta(days=HISTORY_DAYS)
    return PlanningSnapshot(
        tenant_id=tenant_id,
        business_date=TODAY,
        horizon_days=HORIZON_DAYS,
        products=(
            Product(
                product_id="P1",
                name="Rye loaf",
                family="bread",
                unit_price=4.5,
                unit_cost=1.7,
                shelf_life_days=3,
                finished_stock_units=5,
                salvage_value=0.8,
            ),
            Product(
                product_id="P2",
                name="Roll",
                family="rolls",
                unit_price=0.6,
                unit_cost=0.2,
                shelf_life_days=1,
                finished_stock_units=0,
            ),
        ),
        recipes=(
            Recipe(
                product_id="P1",
                batch_yield_units=12,
                oven_minutes_per_batch=45,
                lines=(RecipeLine(ingredient_id="I1", quantity_per_batch=0.25),),
                components=(ComponentLine(component_id="C1", quantity_per_batch=6.5),),
                mixer_minutes_per_batch=15,
            ),
            Recipe(
                product_id="P2",
                batch_yield_units=40,
                oven_minutes_per_batch=20,
                lines=(
                    RecipeLine(ingredient_id="I1", quantity_per_batch=2.0),
                    RecipeLine(ingredient_id="I2", quantity_per_batch=0.04),
                ),
            ),
        ),
        ingredients=(
            Ingredient(ingredient_id="I1", name="Rye flour", unit="kg", category="flour", shelf_life_days=180),
            Ingredient(ingredient_id="I2", name="Fresh yeast", unit="kg", category="yeast", service_level=0.99),
            Ingredient(ingredient_id="I3", name="Salt", unit="kg", category="salt"),
        ),
        stock_lots=(
            StockLot(lot_id="L1", ingredient_id="I1", quantity=30.0, expires_on=TODAY + timedelta(days=90)),
            StockLot(lot_id="L2", ingredient_id="I3", quantity=5.0),
        ),
        suppliers=(
            Supplier(
                supplier_id="S1",
                name="Northern Mills",
                items=(
                    SupplierItem(
                        ingredient_id="I1",
                        unit_price=0.9,
                        lead_time_days=3,
                        moq=25.0,
                        pack_size=25.0,
                        max_quantity=500.0,
                        price_tiers=(
                            PriceTier(min_quantity=100.0, unit_price=0.8),
                            PriceTier(min_quantity=250.0, unit_price=0.72),
                        ),
                        lead_time_sd_days=0.7,
                    ),
                    SupplierItem(ingredient_id="I3", unit_price=0.4, lead_time_days=5, moq=0.0, pack_size=10.0),
                ),
                delivery_weekdays=(0, 2, 4),
                order_cutoff=time(10, 30),
                min_order_value=150.0,
                order_cost=12.5,
                on_time_rate=0.92,
                quality_score=0.85,
            ),
            Supplier(
                supplier_id="S2",
                name="Valley Dairy",
                items=(SupplierItem(ingredient_id="I2", unit_price=3.1, lead_time_days=1, moq=1.0, pack_size=0.5),),
            ),
        ),
        sales=tuple(
            SalesHistory(
                product_id=pid,
                start_date=start,
                daily_units=tuple(None if n % 7 == 6 else base + n % 5 for n in range(HISTORY_DAYS)),
            )
            for pid, base in (("P1", 20), ("P2", 90))
        ),
        calendar=Calendar(
            closed_weekdays=(6,),
            closed_dates=(date(2026, 12, 25), date(2026, 12, 26)),
            holidays=(date(2026, 12, 24), date(2026, 12, 31)),
        ),
        components=(
            Component(
                component_id="C1",
                name="Rye dough",
                unit="kg",
                batch_yield=40.0,
                made_days_ahead=1,
                mixer_minutes_per_batch=20,
                lines=(
                    RecipeLine(ingredient_id="I1", quantity_per_batch=22.0),
                    RecipeLine(ingredient_id="I3", quantity_per_batch=0.4),
                ),
                components=(ComponentLine(component_id="C2", quantity_per_batch=8.0),),
            ),
            Component(
                component_id="C2",
                name="Rye levain",
                unit="kg",
                batch_yield=10.0,
                made_days_ahead=2,
                lines=(RecipeLine(ingredient_id="I1", quantity_per_batch=5.0),),
            ),
        ),
        capacity=Capacity(oven_minutes_per_day=600, mixer_minutes_per_day=240),
        open_purchase_orders=(
            OpenPurchaseOrder(
                order_id="PO-1", supplier_id="S1", ingredient_id="I1", quantity=50.0, delivery_date=TODAY
            ),
            OpenPurchaseOrder(
                order_id="PO-2",
                supplier_id="S2",
                ingredient_id="I2",
                quantity=1.5,
                delivery_date=TODAY + timedelta(days=2),
            ),
        ),
        regressors=(
            Regressor(name="festival", start_date=TODAY + timedelta(days=3), values=(1.0, 1.0, None)),
            Regressor(
                name="temperature_c",
                start_date=start,
                values=tuple(None if n in (0, 10) else round(4.0 + 0.25 * n, 2) for n in range(42)),
            ),
        ),
        policy=PlanningPolicy(
            service_level=0.9,
            consolidation_window_days=3,
            dual_source=True,
            holding_cost_rate_per_year=0.18,
            planned_at=time(5, 15),
        ),
    )


def tenant_data(snapshot: PlanningSnapshot) -> TenantData:
    """The snapshot as seeding input: every `TenantData` field the snapshot also has."""
    names = [f.name for f in dataclasses.fields(TenantData) if f.name in PlanningSnapshot.model_fields]
    shared = {name: getattr(snapshot, name) for name in names}
    return TenantData(**{**shared, "name": "Round Trip Bakery", "timezone": "Europe/Berlin"})


async def test_every_planning_input_reads_back_as_written(engine: AsyncEngine, tenant_id: str) -> None:
    snapshot = a_full_snapshot(tenant_id)
    async with engine.begin() as conn:
        await write_tenant(conn, tenant_data(snapshot), regressors=snapshot.regressors)
    async with engine.connect() as conn:
        read = await snapshot_reader.read_snapshot(
            conn, tenant_id, business_date=TODAY, horizon_days=HORIZON_DAYS, history_days=HISTORY_DAYS
        )
    for field in PlanningSnapshot.model_fields:
        assert getattr(read, field) == getattr(snapshot, field), field
    assert read == snapshot


async def test_sales_stored_out_of_day_order_read_back_by_day(engine: AsyncEngine, tenant_id: str) -> None:
    """The sales read does not sort a product's days (two thirds of its cost): it places each value at
    its day's offset. Rows stored newest first, products interleaved, still read back as written."""
    snapshot = a_full_snapshot(tenant_id)
    sales = masterdata.daily_sales
    async with engine.begin() as conn:
        await write_tenant(conn, tenant_data(snapshot), regressors=snapshot.regressors)
        stored = (await conn.execute(select(sales).where(sales.c.tenant_id == tenant_id))).mappings().all()
        await conn.execute(delete(sales).where(sales.c.tenant_id == tenant_id))
        await conn.execute(
            insert(sales), sorted((dict(r) for r in stored), key=lambda r: (r["day"], r["product_id"]), reverse=True)
        )
    async with engine.connect() as conn:
        in_storage_order = select(sales.c.day).where(sales.c.tenant_id == tenant_id).order_by(literal_column("ctid"))
        physical = (await conn.execute(in_storage_order)).scalars().all()
        read = await snapshot_reader.read_snapshot(
            conn, tenant_id, business_date=TODAY, horizon_days=HORIZON_DAYS, history_days=HISTORY_DAYS
        )
    assert physical[0] > physical[-1]  # a scan of the table meets the newest day first
    assert read.sales == snapshot.sales


async def test_reseeding_replaces_components_orders_and_regressors(engine: AsyncEngine, tenant_id: str) -> None:
    full = a_full_snapshot(tenant_id)
    bare = full.model_copy(
        update={
            "recipes": tuple(r.model_copy(update={"components": ()}) for r in full.recipes),
            "components": (),
            "open_purchase_orders": (),
            "regressors": (),
            "capacity": Capacity(),
            "policy": PlanningPolicy(),
        }
    )
    async with engine.begin() as conn:
        await write_tenant(conn, tenant_data(full), regressors=full.regressors)
        await write_tenant(conn, tenant_data(bare))
    async with engine.connect() as conn:
        read = await snapshot_reader.read_snapshot(
            conn, tenant_id, business_date=TODAY, horizon_days=HORIZON_DAYS, history_days=HISTORY_DAYS
        )
    assert read == bare


async def test_regressors_are_read_over_history_and_horizon_only(engine: AsyncEngine, tenant_id: str) -> None:
    snapshot = a_full_snapshot(tenant_id)
    long_signal = Regressor(
        name="temperature_c",
        start_date=TODAY - timedelta(days=HISTORY_DAYS + 5),
        values=tuple(float(n) for n in range(HISTORY_DAYS + 5 + HORIZON_DAYS + 5)),
    )
    async with engine.begin() as conn:
        await write_tenant(conn, tenant_data(snapshot), regressors=(long_signal,))
    async with engine.connect() as conn:
        read = await snapshot_reader.read_snapshot(
            conn, tenant_id, business_date=TODAY, horizon_days=HORIZON_DAYS, history_days=HISTORY_DAYS
        )
    (signal,) = read.regressors
    assert signal.start_date == TODAY - timedelta(days=HISTORY_DAYS)
    assert signal.values == long_signal.values[5 : 5 + HISTORY_DAYS + HORIZON_DAYS]


async def test_rows_without_the_new_columns_read_as_contract_defaults(engine: AsyncEngine, tenant_id: str) -> None:
    """What an importer written for the first schema inserts still gives a valid, default-filled snapshot."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(masterdata.tenants).values(tenant_id=tenant_id, name="Old", timezone="UTC", calendar={})
        )
        await conn.execute(
            insert(masterdata.products).values(
                tenant_id=tenant_id,
                product_id="P1",
                name="Loaf",
                family="bread",
                unit_price=3.0,
                unit_cost=1.0,
                shelf_life_days=2,
                finished_stock_units=0,
            )
        )
        await conn.execute(
            insert(masterdata.recipes).values(
                tenant_id=tenant_id, product_id="P1", batch_yield_units=10, oven_minutes_per_batch=30
            )
        )
        await conn.execute(
            insert(masterdata.ingredients).values(
                tenant_id=tenant_id, ingredient_id="I1", name="Flour", unit="kg", category="flour"
            )
        )
        await conn.execute(insert(masterdata.suppliers).values(tenant_id=tenant_id, supplier_id="S1", name="Mill"))
        await conn.execute(
            insert(masterdata.supplier_items).values(
                tenant_id=tenant_id,
                supplier_id="S1",
                ingredient_id="I1",
                unit_price=0.5,
                lead_time_days=2,
                moq=0.0,
                pack_size=25.0,
            )
        )
    async with engine.connect() as conn:
        read = await snapshot_reader.read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=7, history_days=7)
    assert read.products[0].salvage_value == 0.0
    assert read.recipes[0] == Recipe(product_id="P1", batch_yield_units=10, oven_minutes_per_batch=30, lines=())
    assert read.ingredients[0].service_level is None
    assert read.suppliers == (
        Supplier(
            supplier_id="S1",
            name="Mill",
            items=(SupplierItem(ingredient_id="I1", unit_price=0.5, lead_time_days=2, moq=0.0, pack_size=25.0),),
        ),
    )
    assert (read.capacity, read.policy, read.calendar) == (Capacity(), PlanningPolicy(), Calendar())
    assert (read.components, read.open_purchase_orders, read.regressors) == ((), (), ())


async def test_master_data_the_contracts_refuse_names_tenant_and_field(engine: AsyncEngine, tenant_id: str) -> None:
    snapshot = a_full_snapshot(tenant_id)
    async with engine.begin() as conn:
        await write_tenant(conn, tenant_data(snapshot))
        await conn.execute(
            update(masterdata.tenants)
            .where(masterdata.tenants.c.tenant_id == tenant_id)
            .values(policy={"service_level": 1.5})
        )
    async with engine.connect() as conn:
        with pytest.raises(
            PlanningError, match=rf"(?s)tenant '{tenant_id}'.*fix these rows.*PlanningPolicy.*service_level"
        ):
            await snapshot_reader.read_snapshot(conn, tenant_id, business_date=TODAY, horizon_days=HORIZON_DAYS)
