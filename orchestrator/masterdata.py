"""The tenants' master data (schema `masterdata`): written by `bakeplan seed` or an integration,
read once per saga into a `PlanningSnapshot`.

Nested contract values are flattened into child tables keyed by the parent's id (recipe lines,
component lines, supplier items). Small value objects that only ever travel whole live in JSONB
columns and are validated through their contract model on read: the calendar, the capacity, the
planning policy and a supplier item's price tiers. New columns carry server defaults equal to the
contract defaults, so rows written before they existed read as the contract's defaults.
"""

from collections import defaultdict
from collections.abc import Awaitable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    ARRAY,
    Column,
    CursorResult,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Row,
    RowMapping,
    SmallInteger,
    String,
    Table,
    Time,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.errors import PlanningError
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    Product,
    Recipe,
    RecipeLine,
    Regressor,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
)

SCHEMA = "masterdata"
metadata = MetaData(schema=SCHEMA)
Model = TypeVar("Model", bound=BaseModel)


def _tenant_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id"], [f"{SCHEMA}.tenants.tenant_id"], ondelete="CASCADE")


def _key(name: str) -> Column[str]:
    return Column(name, String(64), primary_key=True)


def _float(name: str, default: float) -> Column[float]:
    return Column(name, Float, nullable=False, server_default=text(repr(default)))


tenants = Table(
    "tenants",
    metadata,
    _key("tenant_id"),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("capacity", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("policy", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
products = Table(
    "products",
    metadata,
    _key("tenant_id"),
    _key("product_id"),
    Column("name", String(200), nullable=False),
    Column("family", String(64), nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("unit_cost", Float, nullable=False),
    Column("shelf_life_days", Integer, nullable=False),
    Column("finished_stock_units", Integer, nullable=False),
    _float("salvage_value", 0.0),
    _tenant_fk(),
)
recipes = Table(
    "recipes",
    metadata,
    _key("tenant_id"),
    _key("product_id"),
    Column("batch_yield_units", Integer, nullable=False),
    Column("oven_minutes_per_batch", Integer, nullable=False),
    Column("mixer_minutes_per_batch", Integer, nullable=False, server_default=text("0")),
    _tenant_fk(),
)
recipe_lines = Table(
    "recipe_lines",
    metadata,
    _key("tenant_id"),
    _key("product_id"),
    _key("ingredient_id"),
    Column("quantity_per_batch", Float, nullable=False),
    _tenant_fk(),
)
recipe_components = Table(
    "recipe_components",
    metadata,
    _key("tenant_id"),
    _key("product_id"),
    _key("component_id"),
    Column("quantity_per_batch", Float, nullable=False),
    _tenant_fk(),
)
components = Table(
    "components",
    metadata,
    _key("tenant_id"),
    _key("component_id"),
    Column("name", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("batch_yield", Float, nullable=False),
    Column("made_days_ahead", Integer, nullable=False, server_default=text("0")),
    Column("mixer_minutes_per_batch", Integer, nullable=False, server_default=text("0")),
    _tenant_fk(),
)
component_lines = Table(
    "component_lines",
    metadata,
    _key("tenant_id"),
    _key("component_id"),
    _key("ingredient_id"),
    Column("quantity_per_batch", Float, nullable=False),
    _tenant_fk(),
)
component_components = Table(
    "component_components",
    metadata,
    _key("tenant_id"),
    _key("parent_id"),
    _key("component_id"),
    Column("quantity_per_batch", Float, nullable=False),
    _tenant_fk(),
)
ingredients = Table(
    "ingredients",
    metadata,
    _key("tenant_id"),
    _key("ingredient_id"),
    Column("name", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("category", String(64), nullable=False),
    Column("shelf_life_days", Integer),
    Column("service_level", Float),
    _tenant_fk(),
)
stock_lots = Table(
    "stock_lots",
    metadata,
    _key("tenant_id"),
    _key("lot_id"),
    Column("ingredient_id", String(64), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("expires_on", Date),
    _tenant_fk(),
)
suppliers = Table(
    "suppliers",
    metadata,
    _key("tenant_id"),
    _key("supplier_id"),
    Column("name", String(200), nullable=False),
    Column(
        "delivery_weekdays", ARRAY(SmallInteger), nullable=False, server_default=text("'{0,1,2,3,4,5,6}'::smallint[]")
    ),
    Column("order_cutoff", Time),
    _float("min_order_value", 0.0),
    _float("order_cost", 0.0),
    _float("on_time_rate", 1.0),
    _float("quality_score", 1.0),
    _tenant_fk(),
)
supplier_items = Table(
    "supplier_items",
    metadata,
    _key("tenant_id"),
    _key("supplier_id"),
    _key("ingredient_id"),
    Column("unit_price", Float, nullable=False),
    Column("lead_time_days", Integer, nullable=False),
    Column("moq", Float, nullable=False),
    Column("pack_size", Float, nullable=False),
    Column("max_quantity", Float),
    _float("lead_time_sd_days", 0.0),
    Column("price_tiers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _tenant_fk(),
)
open_purchase_orders = Table(
    "open_purchase_orders",
    metadata,
    _key("tenant_id"),
    _key("order_id"),
    Column("supplier_id", String(64), nullable=False),
    Column("ingredient_id", String(64), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("delivery_date", Date, nullable=False),
    _tenant_fk(),
)
regressors = Table(
    "regressors",
    metadata,
    _key("tenant_id"),
    _key("name"),
    Column("day", Date, primary_key=True),
    Column("value", Float),
    _tenant_fk(),
)
daily_sales = Table(
    "daily_sales",
    metadata,
    _key("tenant_id"),
    _key("product_id"),
    Column("day", Date, primary_key=True),
    Column("units", Integer, nullable=False),
    _tenant_fk(),
)

TENANT_TABLES = (
    products,
    recipes,
    recipe_lines,
    recipe_components,
    components,
    component_lines,
    component_components,
    ingredients,
    stock_lots,
    suppliers,
    supplier_items,
    open_purchase_orders,
    regressors,
    daily_sales,
)


async def tenant_exists(conn: AsyncConnection, tenant_id: str) -> bool:
    return (await conn.execute(select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id))).first() is not None


def _model(model: type[Model], row: Mapping[Any, Any], **nested: Any) -> Model:
    """A contract model from a row: its columns minus the tenant, plus the nested values.

    Lax validation: the database returns lists for arrays and JSON text for times inside JSONB,
    which the strict contracts would refuse although they mean the same values.
    """
    fields = {k: v for k, v in row.items() if k != "tenant_id"}
    return model.model_validate({**fields, **nested}, strict=False)


def _grouped(rows: Sequence[RowMapping], parent: str, model: type[Model]) -> dict[str, list[Model]]:
    """Child rows as contract models per parent id, in row order."""
    grouped: dict[str, list[Model]] = defaultdict(list)
    for r in rows:
        grouped[r[parent]].append(_model(model, {k: v for k, v in r.items() if k != parent}))
    return grouped


async def read_snapshot(
    conn: AsyncConnection, tenant_id: str, *, business_date: date, horizon_days: int, history_days: int = 730
) -> PlanningSnapshot:
    """Read everything one plan needs, in the caller's (repeatable-read) transaction.

    Every collection is ordered by its ids (lines by ingredient or component id, tiers as stored), so
    the same master data always gives the same snapshot. Sales are read from
    `business_date - history_days` up to the day before `business_date`; days without a row are
    `None` (closed or unknown), not zero. Regressors are read over the history and the horizon
    (`business_date - history_days` … `business_date + horizon_days - 1`): each starts at its first
    stored day in that window and ends at its last, missing days in between are `None`. Open
    purchase orders are read whole: the table holds only orders not yet delivered.
    Raises `PlanningError` for an unknown tenant and for rows the contracts refuse (a policy
    service level of 1.5, a component without lines …), naming the tenant and the fields.
    """
    tenant = (await conn.execute(select(tenants).where(tenants.c.tenant_id == tenant_id))).first()
    if tenant is None:
        raise PlanningError(f"unknown tenant {tenant_id!r}: create it with `bakeplan seed` or your master-data import")

    def rows(table: Table, *order: str) -> Awaitable[CursorResult[Any]]:
        return conn.execute(select(table).where(table.c.tenant_id == tenant_id).order_by(*(table.c[c] for c in order)))

    product_rows = (await rows(products, "product_id")).mappings().all()
    recipe_rows = (await rows(recipes, "product_id")).mappings().all()
    line_rows = (await rows(recipe_lines, "product_id", "ingredient_id")).mappings().all()
    recipe_component_rows = (await rows(recipe_components, "product_id", "component_id")).mappings().all()
    component_rows = (await rows(components, "component_id")).mappings().all()
    component_line_rows = (await rows(component_lines, "component_id", "ingredient_id")).mappings().all()
    nested_rows = (await rows(component_components, "parent_id", "component_id")).mappings().all()
    ingredient_rows = (await rows(ingredients, "ingredient_id")).mappings().all()
    lot_rows = (await rows(stock_lots, "lot_id")).mappings().all()
    supplier_rows = (await rows(suppliers, "supplier_id")).mappings().all()
    item_rows = (await rows(supplier_items, "supplier_id", "ingredient_id")).mappings().all()
    order_rows = (await rows(open_purchase_orders, "order_id")).mappings().all()
    start = business_date - timedelta(days=history_days)
    sales_rows = (
        await conn.execute(
            select(daily_sales.c.product_id, daily_sales.c.day, daily_sales.c.units)
            .where(daily_sales.c.tenant_id == tenant_id, daily_sales.c.day >= start, daily_sales.c.day < business_date)
            .order_by(daily_sales.c.product_id, daily_sales.c.day)
        )
    ).all()
    regressor_rows = (
        await conn.execute(
            select(regressors.c.name, regressors.c.day, regressors.c.value)
            .where(
                regressors.c.tenant_id == tenant_id,
                regressors.c.day >= start,
                regressors.c.day < business_date + timedelta(days=horizon_days),
            )
            .order_by(regressors.c.name, regressors.c.day)
        )
    ).all()

    lines_by_recipe = _grouped(line_rows, "product_id", RecipeLine)
    uses_by_recipe = _grouped(recipe_component_rows, "product_id", ComponentLine)
    lines_by_component = _grouped(component_line_rows, "component_id", RecipeLine)
    uses_by_component = _grouped(nested_rows, "parent_id", ComponentLine)
    items_by_supplier = _grouped(item_rows, "supplier_id", SupplierItem)
    units_by_product: dict[str, list[int | None]] = {r["product_id"]: [None] * history_days for r in product_rows}
    for product_id, day, units in sales_rows:
        series = units_by_product.get(product_id)
        if series is not None:
            series[(day - start).days] = units
    try:
        return PlanningSnapshot(
            tenant_id=tenant_id,
            business_date=business_date,
            horizon_days=horizon_days,
            products=tuple(_model(Product, r) for r in product_rows),
            recipes=tuple(
                _model(
                    Recipe,
                    r,
                    lines=lines_by_recipe[r["product_id"]],
                    components=uses_by_recipe[r["product_id"]],
                )
                for r in recipe_rows
            ),
            ingredients=tuple(_model(Ingredient, r) for r in ingredient_rows),
            stock_lots=tuple(_model(StockLot, r) for r in lot_rows),
            suppliers=tuple(_model(Supplier, r, items=items_by_supplier[r["supplier_id"]]) for r in supplier_rows),
            sales=tuple(
                SalesHistory(product_id=pid, start_date=start, daily_units=tuple(series))
                for pid, series in units_by_product.items()
            ),
            calendar=Calendar.model_validate(tenant.calendar, strict=False),
            components=tuple(
                _model(
                    Component,
                    r,
                    lines=lines_by_component[r["component_id"]],
                    components=uses_by_component[r["component_id"]],
                )
                for r in component_rows
            ),
            capacity=Capacity.model_validate(tenant.capacity, strict=False),
            open_purchase_orders=tuple(_model(OpenPurchaseOrder, r) for r in order_rows),
            regressors=_regressors(regressor_rows),
            policy=PlanningPolicy.model_validate(tenant.policy, strict=False),
        )
    except ValidationError as exc:
        raise PlanningError(
            f"tenant {tenant_id!r}: master data in schema {SCHEMA!r} does not fit the planning contract; "
            f"fix these rows and plan again: {exc}"
        ) from exc


def _regressors(rows: Sequence[Row[str, date, float | None]]) -> tuple[Regressor, ...]:
    """One `Regressor` per name from `(name, day, value)` rows ordered by name and day."""
    days_by_name: dict[str, dict[date, float | None]] = defaultdict(dict)
    for name, day, value in rows:
        days_by_name[name][day] = value
    result = []
    for name, values in days_by_name.items():
        first, last = min(values), max(values)
        span = range((last - first).days + 1)
        result.append(
            Regressor(name=name, start_date=first, values=tuple(values.get(first + timedelta(days=n)) for n in span))
        )
    return tuple(result)


async def delete_tenant(conn: AsyncConnection, tenant_id: str) -> None:
    """Remove the tenant and all its master data, in the caller's transaction."""
    for table in TENANT_TABLES:
        await conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
    await conn.execute(delete(tenants).where(tenants.c.tenant_id == tenant_id))
