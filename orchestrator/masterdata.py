"""The tenants' master data (schema `masterdata`): written by `bakeplan seed` or an integration,
read once per saga into a `PlanningSnapshot`."""

from collections import defaultdict
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    CursorResult,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.errors import PlanningError
from contracts.planning import (
    Calendar,
    Ingredient,
    PlanningSnapshot,
    Product,
    Recipe,
    RecipeLine,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
)

SCHEMA = "masterdata"
metadata = MetaData(schema=SCHEMA)


def _tenant_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id"], [f"{SCHEMA}.tenants.tenant_id"], ondelete="CASCADE")


tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
products = Table(
    "products",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("family", String(64), nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("unit_cost", Float, nullable=False),
    Column("shelf_life_days", Integer, nullable=False),
    Column("finished_stock_units", Integer, nullable=False),
    _tenant_fk(),
)
recipes = Table(
    "recipes",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("batch_yield_units", Integer, nullable=False),
    Column("oven_minutes_per_batch", Integer, nullable=False),
    _tenant_fk(),
)
recipe_lines = Table(
    "recipe_lines",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("ingredient_id", String(64), primary_key=True),
    Column("quantity_per_batch", Float, nullable=False),
    _tenant_fk(),
)
ingredients = Table(
    "ingredients",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("ingredient_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("category", String(64), nullable=False),
    Column("shelf_life_days", Integer),
    _tenant_fk(),
)
stock_lots = Table(
    "stock_lots",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("lot_id", String(64), primary_key=True),
    Column("ingredient_id", String(64), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("expires_on", Date),
    _tenant_fk(),
)
suppliers = Table(
    "suppliers",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    _tenant_fk(),
)
supplier_items = Table(
    "supplier_items",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("ingredient_id", String(64), primary_key=True),
    Column("unit_price", Float, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("moq", Float, nullable=False),
    Column("pack_size", Float, nullable=False),
    _tenant_fk(),
)
daily_sales = Table(
    "daily_sales",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("units", Integer, nullable=False),
    _tenant_fk(),
)

TENANT_TABLES = (products, recipes, recipe_lines, ingredients, stock_lots, suppliers, supplier_items, daily_sales)


async def tenant_exists(conn: AsyncConnection, tenant_id: str) -> bool:
    return (await conn.execute(select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id))).first() is not None


async def read_snapshot(
    conn: AsyncConnection, tenant_id: str, *, business_date: date, horizon_days: int, history_days: int = 730
) -> PlanningSnapshot:
    """Read everything one plan needs, in the caller's (repeatable-read) transaction.

    Sales are read from `business_date - history_days` up to the day before `business_date`;
    days without a row are `None` (closed or unknown), not zero.
    """
    tenant = (await conn.execute(select(tenants).where(tenants.c.tenant_id == tenant_id))).first()
    if tenant is None:
        raise PlanningError(f"unknown tenant {tenant_id!r}: create it with `bakeplan seed` or your master-data import")

    def rows(table: Table, *order: str) -> Awaitable[CursorResult[Any]]:
        return conn.execute(select(table).where(table.c.tenant_id == tenant_id).order_by(*(table.c[c] for c in order)))

    product_rows = (await rows(products, "product_id")).mappings().all()
    recipe_rows = (await rows(recipes, "product_id")).mappings().all()
    line_rows = (await rows(recipe_lines, "product_id", "ingredient_id")).mappings().all()
    ingredient_rows = (await rows(ingredients, "ingredient_id")).mappings().all()
    lot_rows = (await rows(stock_lots, "lot_id")).mappings().all()
    supplier_rows = (await rows(suppliers, "supplier_id")).mappings().all()
    item_rows = (await rows(supplier_items, "supplier_id", "ingredient_id")).mappings().all()
    start = business_date - timedelta(days=history_days)
    sales_rows = (
        await conn.execute(
            select(daily_sales.c.product_id, daily_sales.c.day, daily_sales.c.units)
            .where(daily_sales.c.tenant_id == tenant_id, daily_sales.c.day >= start, daily_sales.c.day < business_date)
            .order_by(daily_sales.c.product_id, daily_sales.c.day)
        )
    ).all()

    lines_by_product: dict[str, list[RecipeLine]] = defaultdict(list)
    for r in line_rows:
        lines_by_product[r["product_id"]].append(
            RecipeLine(ingredient_id=r["ingredient_id"], quantity_per_batch=r["quantity_per_batch"])
        )
    items_by_supplier: dict[str, list[SupplierItem]] = defaultdict(list)
    for r in item_rows:
        items_by_supplier[r["supplier_id"]].append(
            SupplierItem(
                ingredient_id=r["ingredient_id"],
                unit_price=r["unit_price"],
                lead_time_days=r["lead_time_days"],
                moq=r["moq"],
                pack_size=r["pack_size"],
            )
        )
    units_by_product: dict[str, list[int | None]] = {r["product_id"]: [None] * history_days for r in product_rows}
    for product_id, day, units in sales_rows:
        series = units_by_product.get(product_id)
        if series is not None:
            series[(day - start).days] = units
    return PlanningSnapshot(
        tenant_id=tenant_id,
        business_date=business_date,
        horizon_days=horizon_days,
        products=tuple(Product(**{k: v for k, v in r.items() if k != "tenant_id"}) for r in product_rows),
        recipes=tuple(
            Recipe(
                product_id=r["product_id"],
                batch_yield_units=r["batch_yield_units"],
                oven_minutes_per_batch=r["oven_minutes_per_batch"],
                lines=tuple(lines_by_product[r["product_id"]]),
            )
            for r in recipe_rows
        ),
        ingredients=tuple(Ingredient(**{k: v for k, v in r.items() if k != "tenant_id"}) for r in ingredient_rows),
        stock_lots=tuple(StockLot(**{k: v for k, v in r.items() if k != "tenant_id"}) for r in lot_rows),
        suppliers=tuple(
            Supplier(supplier_id=r["supplier_id"], name=r["name"], items=tuple(items_by_supplier[r["supplier_id"]]))
            for r in supplier_rows
        ),
        sales=tuple(
            SalesHistory(product_id=pid, start_date=start, daily_units=tuple(series))
            for pid, series in units_by_product.items()
        ),
        calendar=Calendar.model_validate(tenant.calendar, strict=False),
    )


async def delete_tenant(conn: AsyncConnection, tenant_id: str) -> None:
    for table in TENANT_TABLES:
        await conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
    await conn.execute(delete(tenants).where(tenants.c.tenant_id == tenant_id))
