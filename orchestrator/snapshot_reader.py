"""Reading a tenant's master data into one `PlanningSnapshot`, once per saga.

The tables are in `orchestrator.masterdata`; this module turns their rows back into the contract
models, in a deterministic order, and validates them (see `read_snapshot`).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, Date, ScalarSelect, Select, String, Subquery, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

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
    Product,
    Recipe,
    RecipeLine,
    Regressor,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
    SupplierReceipt,
)
from orchestrator.masterdata import (
    SCHEMA,
    component_components,
    component_lines,
    components,
    daily_sales,
    ingredients,
    open_purchase_orders,
    products,
    recipe_components,
    recipe_lines,
    recipes,
    regressors,
    stock_lots,
    supplier_items,
    suppliers,
    tenants,
)
from workers.purchase_orders import store as purchase_orders

# What a supplier's lead-time learning looks at (workers/procurement/lead_time_learning.py, which
# keeps the same number of its latest receipts; tests/unit/test_lead_time_learning.py checks they agree).
RECEIPTS_PER_SUPPLIER = 30

Model = TypeVar("Model", bound=BaseModel)


def _model(model: type[Model], row: Mapping[Any, Any], **nested: Any) -> Model:
    """A contract model from a row: its columns minus the tenant, plus the nested values.

    Lax validation: the rows arrive as JSON objects (`read_snapshot`), with dates and times as
    strings, which the strict contracts would refuse although they mean the same values.
    """
    fields = {k: v for k, v in row.items() if k != "tenant_id"}
    return model.model_validate({**fields, **nested}, strict=False)


def _grouped(rows: Sequence[Mapping[str, Any]], parent: str, model: type[Model]) -> dict[str, list[Model]]:
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
    purchase orders are the master-data table's, read whole (it holds only orders not yet delivered),
    then what the tenant's released purchase orders still bring (docs/orders.md), one entry
    `po:<po_number>/<line_id>` per line with a quantity to come, on its expected delivery date.
    Receipts are the delivered order lines, the latest `RECEIPTS_PER_SUPPLIER` per supplier, by
    supplier, receipt day and reference (`purchase_orders.store.delivered_lines`).
    Raises `PlanningError` for an unknown tenant and for rows the contracts refuse (a policy
    service level of 1.5, a component without lines …), naming the tenant and the fields.
    """
    start = business_date - timedelta(days=history_days)
    values = {
        "b_tenant_id": tenant_id,
        "b_start": start,
        "b_business_date": business_date,
        "b_horizon_end": business_date + timedelta(days=horizon_days),
    }
    row = (await conn.execute(_snapshot_read(), values)).one()
    # the driver decodes JSON (with orjson: infra.db.create_engine); an empty collection is NULL
    read: dict[str, list[dict[str, Any]]] = {name: value or [] for name, value in row._mapping.items()}
    if not read["tenant"]:
        raise PlanningError(f"unknown tenant {tenant_id!r}: create it with `bakeplan seed` or your master-data import")
    tenant = read["tenant"][0]
    product_rows, recipe_rows, line_rows = read["products"], read["recipes"], read["lines"]
    recipe_component_rows, component_rows = read["recipe_components"], read["components"]
    component_line_rows, nested_rows = read["component_lines"], read["nested"]
    ingredient_rows, lot_rows, supplier_rows = read["ingredients"], read["lots"], read["suppliers"]
    item_rows, order_rows = read["items"], read["orders"]

    lines_by_recipe = _grouped(line_rows, "product_id", RecipeLine)
    uses_by_recipe = _grouped(recipe_component_rows, "product_id", ComponentLine)
    lines_by_component = _grouped(component_line_rows, "component_id", RecipeLine)
    uses_by_component = _grouped(nested_rows, "parent_id", ComponentLine)
    items_by_supplier = _grouped(item_rows, "supplier_id", SupplierItem)
    units_by_product: dict[str, list[int | None]] = {r["product_id"]: [None] * history_days for r in product_rows}
    for sold in read["sales"]:
        series = units_by_product.get(sold["product_id"])
        if series is not None:
            for n, value in zip(sold["offsets"], sold["units"], strict=True):
                series[n] = value
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
            calendar=Calendar.model_validate(tenant["calendar"], strict=False),
            components=tuple(
                _model(
                    Component,
                    r,
                    lines=lines_by_component[r["component_id"]],
                    components=uses_by_component[r["component_id"]],
                )
                for r in component_rows
            ),
            capacity=Capacity.model_validate(tenant["capacity"], strict=False),
            open_purchase_orders=tuple(_model(OpenPurchaseOrder, r) for r in (*order_rows, *read["released"])),
            regressors=_regressors(read["regressors"]),
            policy=PlanningPolicy.model_validate(tenant["policy"], strict=False),
            receipts=tuple(_model(SupplierReceipt, r) for r in read["receipts"]),
        )
    except ValidationError as exc:
        raise PlanningError(
            f"tenant {tenant_id!r}: master data in schema {SCHEMA!r} does not fit the planning contract; "
            f"fix these rows and plan again: {exc}"
        ) from exc


@cache
def _snapshot_read() -> Select[Any]:
    """`read_snapshot`'s one statement, built once (~8 ms a saga start when built per call): its values
    are bound at each call (`b_tenant_id`, `b_start`, `b_business_date`, `b_horizon_end`)."""
    tenant = bindparam("b_tenant_id", type_=String)
    start = bindparam("b_start", type_=Date)
    until = bindparam("b_business_date", type_=Date)
    horizon_end = bindparam("b_horizon_end", type_=Date)
    # the whole snapshot in one round trip: every collection as a JSON array in one row
    # (the planning contracts validate leniently, so JSON's strings for dates and times read back
    # as the same values), a year of sales as one (product, day offsets, units) row per product.
    # The two arrays are not sorted by day: one aggregation feeds every row to both, so they stay
    # pairwise aligned, and `read_snapshot` puts each value at its offset. Sorting each product's
    # days for each array had been two thirds of the sales read (~19 ms against ~6 ms, 14,480 rows).
    offset = (daily_sales.c.day - start).label("offset")
    sales = (
        select(
            daily_sales.c.product_id,
            func.array_agg(offset).label("offsets"),
            func.array_agg(daily_sales.c.units).label("units"),
        )
        .where(daily_sales.c.tenant_id == tenant, daily_sales.c.day >= start, daily_sales.c.day < until)
        .group_by(daily_sales.c.product_id)
        .subquery("sales")
    )
    regressor_days = (
        select(regressors)
        .where(
            regressors.c.tenant_id == tenant,
            regressors.c.day >= start,
            regressors.c.day < horizon_end,
        )
        .subquery("regressor_days")
    )

    def collection(table: Table | Subquery, *order: str, tenant_filter: bool = True) -> ScalarSelect[Any]:
        aggregate = func.json_agg(aggregate_order_by(table.table_valued(), *(table.c[c] for c in order)))
        query = select(aggregate)
        return (query.where(table.c.tenant_id == tenant) if tenant_filter else query).scalar_subquery()

    parts = {
        "tenant": collection(tenants, "tenant_id"),
        "products": collection(products, "product_id"),
        "recipes": collection(recipes, "product_id"),
        "lines": collection(recipe_lines, "product_id", "ingredient_id"),
        "recipe_components": collection(recipe_components, "product_id", "component_id"),
        "components": collection(components, "component_id"),
        "component_lines": collection(component_lines, "component_id", "ingredient_id"),
        "nested": collection(component_components, "parent_id", "component_id"),
        "ingredients": collection(ingredients, "ingredient_id"),
        "lots": collection(stock_lots, "lot_id"),
        "suppliers": collection(suppliers, "supplier_id"),
        "items": collection(supplier_items, "supplier_id", "ingredient_id"),
        "orders": collection(open_purchase_orders, "order_id"),
        "released": collection(
            purchase_orders.open_supply(tenant).subquery("released"), "order_id", tenant_filter=False
        ),
        "receipts": collection(
            purchase_orders.delivered_lines(
                tenant, _tenant_time_zone(tenant), per_supplier=RECEIPTS_PER_SUPPLIER
            ).subquery("receipts"),
            "supplier_id",
            "received_on",
            "reference",
            tenant_filter=False,
        ),
        "sales": collection(sales, "product_id", tenant_filter=False),
        "regressors": collection(regressor_days, "name", "day", tenant_filter=False),
    }
    return select(*(query.label(name) for name, query in parts.items()))


def _tenant_time_zone(tenant_id: str | ColumnElement[str]) -> ScalarSelect[Any]:
    return select(tenants.c.timezone).where(tenants.c.tenant_id == tenant_id).scalar_subquery()


def _regressors(rows: Sequence[Mapping[str, Any]]) -> tuple[Regressor, ...]:
    """One `Regressor` per name from `{name, day, value}` rows (JSON) ordered by name and day."""
    days_by_name: dict[str, dict[date, float | None]] = defaultdict(dict)
    for r in rows:
        days_by_name[r["name"]][date.fromisoformat(r["day"])] = r["value"]
    result = []
    for name, values in days_by_name.items():
        first, last = min(values), max(values)
        span = range((last - first).days + 1)
        result.append(
            Regressor(name=name, start_date=first, values=tuple(values.get(first + timedelta(days=n)) for n in span))
        )
    return tuple(result)
