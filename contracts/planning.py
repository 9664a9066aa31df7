"""The planning data model: the tenant snapshot and what each planning step produces.

Units are in the names: quantities of ingredients are in the ingredient's own `unit`, products in
units (pieces), money in the tenant's currency, durations in days or minutes.
"""

from datetime import date, time
from typing import Literal

from pydantic import Field

from contracts import bounds
from contracts.envelope import Strict

IngredientUnit = Literal["kg", "l", "pcs"]


class Product(Strict):
    product_id: str
    name: str
    family: str
    unit_price: float = Field(ge=0)
    unit_cost: float = Field(ge=0)
    shelf_life_days: int = Field(ge=1)
    finished_stock_units: int = Field(ge=0, description="sellable units on hand this morning")
    salvage_value: float = Field(
        default=0.0, ge=0, description="what an unsold unit still brings (day-old shop, animal feed), per unit"
    )


class RecipeLine(Strict):
    ingredient_id: str
    quantity_per_batch: float = Field(gt=0, description="in the ingredient's unit")


class ComponentLine(Strict):
    """A recipe's use of an intermediate component (dough, levain, filling) made ahead."""

    component_id: str
    quantity_per_batch: float = Field(gt=0, description="in the component's unit")


class Recipe(Strict):
    product_id: str
    batch_yield_units: int = Field(ge=1)
    oven_minutes_per_batch: int = Field(ge=0)
    lines: tuple[RecipeLine, ...] = Field(max_length=bounds.RECIPE_LINES)
    components: tuple[ComponentLine, ...] = Field(default=(), max_length=bounds.RECIPE_LINES)
    mixer_minutes_per_batch: int = Field(default=0, ge=0)


class Component(Strict):
    """An intermediate made from ingredients (and other components) `made_days_ahead` days before use.

    A product batch baked on day D needs its components made on D - made_days_ahead, and their
    ingredients on that day. Components may nest (a levain inside a dough); cycles are invalid.
    """

    component_id: str
    name: str
    unit: IngredientUnit
    batch_yield: float = Field(gt=0, description="in the component's unit")
    made_days_ahead: int = Field(default=0, ge=0)
    mixer_minutes_per_batch: int = Field(default=0, ge=0)
    lines: tuple[RecipeLine, ...] = Field(max_length=bounds.RECIPE_LINES)
    components: tuple[ComponentLine, ...] = Field(default=(), max_length=bounds.RECIPE_LINES)


class Ingredient(Strict):
    ingredient_id: str
    name: str
    unit: IngredientUnit
    category: str
    shelf_life_days: int | None = Field(default=None, ge=1, description="None: the category default applies")
    service_level: float | None = Field(
        default=None, gt=0.5, lt=1, description="target cycle service level; None: the tenant policy's"
    )


class StockLot(Strict):
    lot_id: str
    ingredient_id: str
    quantity: float = Field(ge=0)
    expires_on: date | None = None


class PriceTier(Strict):
    """From `min_quantity` (ingredient unit, per line) on, the line's unit price is `unit_price`."""

    min_quantity: float = Field(gt=0)
    unit_price: float = Field(ge=0)


class SupplierItem(Strict):
    ingredient_id: str
    unit_price: float = Field(ge=0, description="price below the first tier")
    lead_time_days: int = Field(ge=0)
    moq: float = Field(ge=0, description="minimum order quantity, in the ingredient's unit")
    pack_size: float = Field(gt=0, description="orders are whole multiples of this")
    max_quantity: float | None = Field(default=None, gt=0, description="most one line may order; None: no limit")
    price_tiers: tuple[PriceTier, ...] = Field(default=(), max_length=bounds.PRICE_TIERS)
    lead_time_sd_days: float = Field(default=0.0, ge=0, description="standard deviation of the lead time")


WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)


class Supplier(Strict):
    supplier_id: str
    name: str
    items: tuple[SupplierItem, ...] = Field(max_length=bounds.SUPPLIER_ITEMS)
    delivery_weekdays: tuple[int, ...] = Field(
        default=WEEKDAYS, max_length=bounds.WEEKDAYS, description="0 = Monday … 6 = Sunday"
    )
    order_cutoff: time | None = Field(
        default=None, description="orders placed after this local time count as placed the next day"
    )
    min_order_value: float = Field(default=0.0, ge=0, description="per order (one delivery), in money")
    order_cost: float = Field(default=0.0, ge=0, description="fixed cost of placing one order")
    on_time_rate: float = Field(default=1.0, ge=0, le=1, description="share of deliveries that arrive on time")
    quality_score: float = Field(default=1.0, ge=0, le=1)


class SalesHistory(Strict):
    """Daily units sold of one product, one value per day from `start_date` on.

    Days the bakery was closed are `None` (missing data, not zero demand).
    """

    product_id: str
    start_date: date
    daily_units: tuple[int | None, ...] = Field(max_length=bounds.HISTORY_DAYS)


class OpenPurchaseOrder(Strict):
    """An order already placed and not yet delivered: supply on its delivery date."""

    order_id: str
    supplier_id: str
    ingredient_id: str
    quantity: float = Field(gt=0)
    delivery_date: date


class SupplierReceipt(Strict):
    """One purchase-order line as it was delivered: what teaches a supplier's real lead time (docs/learning.md).

    `ordered_on` is the day the order went out (its release), `expected_on` the delivery date it asked
    for, `received_on` the day its goods first came (a partial delivery counts from its first part).
    """

    supplier_id: str
    ingredient_id: str
    ordered_on: date
    expected_on: date
    received_on: date
    reference: str = Field(default="", max_length=200, description="where it came from, e.g. `PO-…/3`, for people")


class Regressor(Strict):
    """An external daily signal (temperature, a local festival flag), one value per day from `start_date`.

    It should cover the sales history and the horizon; `None` is an unknown day.
    """

    name: str = Field(min_length=1, max_length=64)
    start_date: date
    values: tuple[float | None, ...] = Field(max_length=bounds.HISTORY_DAYS)


class Capacity(Strict):
    """Daily capacity of the bakehouse; `None` is unlimited."""

    oven_minutes_per_day: int | None = Field(default=None, ge=0)
    mixer_minutes_per_day: int | None = Field(default=None, ge=0)


class PlanningPolicy(Strict):
    """A tenant's planning settings."""

    service_level: float = Field(default=0.95, gt=0.5, lt=1, description="default cycle service level")
    consolidation_window_days: int = Field(default=7, ge=0)
    dual_source: bool = Field(default=False, description="split a need over two suppliers when one cannot cover it")
    holding_cost_rate_per_year: float = Field(default=0.25, ge=0)
    planned_at: time = Field(default=time(4, 30), description="local time the plan is made (for order cut-offs)")


class Calendar(Strict):
    closed_weekdays: tuple[int, ...] = Field(
        default=(), max_length=bounds.WEEKDAYS, description="0 = Monday … 6 = Sunday"
    )
    closed_dates: tuple[date, ...] = Field(default=(), max_length=bounds.HISTORY_DAYS)
    holidays: tuple[date, ...] = Field(
        default=(), max_length=bounds.HISTORY_DAYS, description="open days with holiday demand"
    )

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_dates


class PlanningSnapshot(Strict):
    """One consistent read of a tenant's master data, taken once per saga."""

    tenant_id: str
    business_date: date
    horizon_days: int = Field(ge=1, le=60)
    products: tuple[Product, ...] = Field(max_length=bounds.PRODUCTS)
    recipes: tuple[Recipe, ...] = Field(max_length=bounds.RECIPES)
    ingredients: tuple[Ingredient, ...] = Field(max_length=bounds.INGREDIENTS)
    stock_lots: tuple[StockLot, ...] = Field(max_length=bounds.STOCK_LOTS)
    suppliers: tuple[Supplier, ...] = Field(max_length=bounds.SUPPLIERS)
    sales: tuple[SalesHistory, ...] = Field(max_length=bounds.PRODUCTS)
    calendar: Calendar = Calendar()
    components: tuple[Component, ...] = Field(default=(), max_length=bounds.RECIPES)
    capacity: Capacity = Capacity()
    open_purchase_orders: tuple[OpenPurchaseOrder, ...] = Field(default=(), max_length=bounds.OPEN_ORDERS)
    regressors: tuple[Regressor, ...] = Field(default=(), max_length=bounds.REGRESSORS)
    policy: PlanningPolicy = PlanningPolicy()
    receipts: tuple[SupplierReceipt, ...] = Field(
        default=(),
        max_length=bounds.RECEIPTS,
        description="delivered purchase-order lines, the most recent per supplier: the planner learns lead "
        "times and on-time rates from them (none: master data as is)",
    )


Fact = float | int | str | bool | None


class Reasoning(Strict):
    """Why a plan line exists: the rule that produced it and the numbers it used."""

    rule: str
    facts: dict[str, Fact] = Field(default_factory=dict, max_length=bounds.FACTS)


class ForecastLine(Strict):
    product_id: str
    day: date
    units: float = Field(ge=0, description="point forecast")
    p10: float | None = Field(default=None, ge=0)
    p50: float | None = Field(default=None, ge=0)
    p90: float | None = Field(default=None, ge=0)
    model: str = ""


class ProductionBatch(Strict):
    batch_id: str = Field(description="deterministic: the same saga, product and day give the same id")
    product_id: str
    day: date
    batches: int = Field(ge=1)
    units: int = Field(ge=1)
    oven_minutes: int = Field(ge=0)
    reason: str
    reasoning: Reasoning | None = None


class IngredientRequirement(Strict):
    ingredient_id: str
    day: date
    quantity: float = Field(gt=0)
    quantity_sd: float | None = Field(
        default=None, ge=0, description="standard deviation of the day's need from demand uncertainty; None: unknown"
    )


class PurchaseLine(Strict):
    line_id: str = Field(description="deterministic: the same saga, supplier, ingredient and date give the same id")
    supplier_id: str
    ingredient_id: str
    order_date: date
    delivery_date: date
    quantity: float = Field(gt=0)
    unit_price: float = Field(ge=0)
    late: bool = Field(description="the latest order date that delivers in time is already past")
    reason: str
    reasoning: Reasoning | None = None
    emergency: bool = Field(
        default=False, description="a low-stock saga's line that must be ordered now, outside the daily cycle"
    )
