"""The tenants' master data (schema `masterdata`): written by `bakeplan seed` or an integration,
read once per saga into a `PlanningSnapshot` by `orchestrator.snapshot_reader`.

Nested contract values are flattened into child tables keyed by the parent's id (recipe lines,
component lines, supplier items). Small value objects that only ever travel whole live in JSONB
columns and are validated through their contract model on read: the calendar, the capacity, the
planning policy and a supplier item's price tiers. New columns carry server defaults equal to the
contract defaults, so rows written before they existed read as the contract's defaults.
"""

from sqlalchemy import (
    ARRAY,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Time,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "masterdata"
metadata = MetaData(schema=SCHEMA)


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
    Column("currency", String(3), nullable=False, server_default=text("'EUR'")),
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
store_sales = Table(
    "store_sales",
    metadata,
    _key("tenant_id"),
    _key("store_id"),
    Column("day", Date, primary_key=True),
    _key("product_id"),
    Column("units", Integer, nullable=False),
    _tenant_fk(),
)
"""What each store's last `sales.day_closed` said of a day; `daily_sales` holds the sum (orchestrator/feeds.py)."""

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
    store_sales,
)


async def tenant_exists(conn: AsyncConnection, tenant_id: str) -> bool:
    return (await conn.execute(_TENANT_EXISTS, {"b_tenant_id": tenant_id})).first() is not None


_TENANT_EXISTS = select(tenants.c.tenant_id).where(tenants.c.tenant_id == bindparam("b_tenant_id"))
"""Built once (every trigger asks)."""


async def delete_tenant(conn: AsyncConnection, tenant_id: str) -> None:
    """Remove the tenant and all its master data, in the caller's transaction."""
    for table in TENANT_TABLES:
        await conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
    await conn.execute(delete(tenants).where(tenants.c.tenant_id == tenant_id))
