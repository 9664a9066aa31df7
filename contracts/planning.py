"""The planning data model: the tenant snapshot and what each planning step produces.

Units are in the names: quantities of ingredients are in the ingredient's own `unit`, products in
units (pieces), money in the tenant's currency, durations in days or minutes.
"""

from datetime import date
from typing import Literal

from pydantic import Field

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


class RecipeLine(Strict):
    ingredient_id: str
    quantity_per_batch: float = Field(gt=0, description="in the ingredient's unit")


class Recipe(Strict):
    product_id: str
    batch_yield_units: int = Field(ge=1)
    oven_minutes_per_batch: int = Field(ge=0)
    lines: tuple[RecipeLine, ...]


class Ingredient(Strict):
    ingredient_id: str
    name: str
    unit: IngredientUnit
    category: str
    shelf_life_days: int | None = Field(default=None, ge=1)


class StockLot(Strict):
    lot_id: str
    ingredient_id: str
    quantity: float = Field(ge=0)
    expires_on: date | None = None


class SupplierItem(Strict):
    ingredient_id: str
    unit_price: float = Field(ge=0)
    lead_time_days: int = Field(ge=0)
    moq: float = Field(ge=0, description="minimum order quantity, in the ingredient's unit")
    pack_size: float = Field(gt=0, description="orders are whole multiples of this")


class Supplier(Strict):
    supplier_id: str
    name: str
    items: tuple[SupplierItem, ...]


class SalesHistory(Strict):
    """Daily units sold of one product, one value per day from `start_date` on.

    Days the bakery was closed are `None` (missing data, not zero demand).
    """

    product_id: str
    start_date: date
    daily_units: tuple[int | None, ...]


class Calendar(Strict):
    closed_weekdays: tuple[int, ...] = Field(default=(), description="0 = Monday … 6 = Sunday")
    closed_dates: tuple[date, ...] = ()

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_dates


class PlanningSnapshot(Strict):
    """One consistent read of a tenant's master data, taken once per saga."""

    tenant_id: str
    business_date: date
    horizon_days: int = Field(ge=1, le=60)
    products: tuple[Product, ...]
    recipes: tuple[Recipe, ...]
    ingredients: tuple[Ingredient, ...]
    stock_lots: tuple[StockLot, ...]
    suppliers: tuple[Supplier, ...]
    sales: tuple[SalesHistory, ...]
    calendar: Calendar = Calendar()


class ForecastLine(Strict):
    product_id: str
    day: date
    units: float = Field(ge=0)


class ProductionBatch(Strict):
    batch_id: str = Field(description="deterministic: the same saga, product and day give the same id")
    product_id: str
    day: date
    batches: int = Field(ge=1)
    units: int = Field(ge=1)
    oven_minutes: int = Field(ge=0)
    reason: str


class IngredientRequirement(Strict):
    ingredient_id: str
    day: date
    quantity: float = Field(gt=0)


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
