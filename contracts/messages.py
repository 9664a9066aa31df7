"""Commands (imperative) and events (past tense) of the daily planning saga."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts import bounds
from contracts.envelope import Message, Strict
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ForecastLine,
    Ingredient,
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    Product,
    ProductionBatch,
    PurchaseLine,
    Recipe,
    Regressor,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierReceipt,
)
from contracts.purchasing_messages import PURCHASING_MESSAGES, PurchaseOrdersReleased

StepName = Literal["forecasting", "production", "procurement", "release"]


# --- triggers ---------------------------------------------------------------------------------


TriggerSource = Literal["schedule", "operator", "external"]


class PlanningRequested(Message):
    """Start the daily plan of one tenant for one business date.

    Version 2 added the required `source`: bakeplan's own scheduler ("schedule"), a person
    ("operator", e.g. `bakeplan plan`), or another system such as an external cron ("external").
    """

    event_type: Literal["planning.requested"] = "planning.requested"
    schema_version: int = Field(default=2, ge=1)
    source: TriggerSource
    business_date: date
    requested_by: str = Field(default="operator", max_length=200)
    horizon_days: int = Field(default=14, ge=1, le=60)


class LowStockObserved(Message):
    """An inventory system saw an ingredient's stock at or below its threshold (docs/low_stock.md).

    Quantities are in the ingredient's own unit. `saga_id` is None: the event starts work, it does not
    belong to a saga. Keyed by `tenant_id`; a re-sent event with the same `event_id` is a duplicate.
    """

    event_type: Literal["inventory.low_stock"] = "inventory.low_stock"
    ingredient_id: str = Field(min_length=1, max_length=64)
    quantity_on_hand: float = Field(ge=0, description="counted stock now, in the ingredient's unit")
    threshold: float = Field(ge=0, description="the level the inventory system reorders at, same unit")
    observed_at: AwareDatetime


class StockFloor(Strict):
    """Stock a low-stock plan holds an ingredient at, at least (its signalled threshold)."""

    ingredient_id: str
    quantity: float = Field(ge=0, description="in the ingredient's unit")


# --- live feeds (docs/feeds.md) ------------------------------------------------------------------

_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class SoldLine(Strict):
    product_id: str = _ID
    units: int = Field(ge=0, description="pieces sold that day")


class SalesDayClosed(Message):
    """One store closed its sales day: what it sold of each product.

    The day's figures of `store_id` replace what an earlier event said of the same store and day (a
    correction, or the same day sent twice): a product sent before and missing now sold nothing. The
    tenant's daily sales, which forecasting reads, are the sum over its stores.
    """

    event_type: Literal["sales.day_closed"] = "sales.day_closed"
    store_id: str = _ID
    business_date: date
    lines: tuple[SoldLine, ...] = Field(max_length=10_000)
    closed_at: AwareDatetime


class CountedLot(Strict):
    lot_id: str = _ID
    ingredient_id: str = _ID
    quantity: float = Field(ge=0, description="in the ingredient's unit")
    expires_on: date | None = None


class StockCounted(Message):
    """A stock count: the lots found replace the lots the next snapshot reads.

    `ingredient_ids` None: a full count, every lot of the tenant is replaced by `lots`. Otherwise a
    partial count of those ingredients: only their lots are replaced (an ingredient listed without
    lots was counted at zero), and every lot must be of a listed ingredient.
    """

    event_type: Literal["inventory.stock_counted"] = "inventory.stock_counted"
    counted_at: AwareDatetime
    lots: tuple[CountedLot, ...] = Field(max_length=100_000)
    ingredient_ids: tuple[str, ...] | None = Field(default=None, max_length=100_000)


class MasterDataChanged(Message):
    """One master-data row upserted or removed, as a row of its tenant file (docs/import.md).

    `entity` is a tenant file's name (`products`, `supplier_offers`, …); `row` holds its columns by
    name, written as in the file (a removal needs only the key columns). The change is checked like
    an import, against the tenant's other data: a bad cell, a dangling reference or a removal that
    would leave one is parked with the reason.
    """

    event_type: Literal["masterdata.changed"] = "masterdata.changed"
    entity: str = Field(min_length=1, max_length=64)
    operation: Literal["upsert", "remove"]
    row: dict[str, str | int | float | bool | None] = Field(max_length=64)


FeedEvent = SalesDayClosed | StockCounted | MasterDataChanged


# --- the snapshot -------------------------------------------------------------------------------


class SnapshotTaken(Message):
    """The consistent snapshot of master data a saga plans from (kept for audit and replay)."""

    event_type: Literal["planning.snapshot_taken"] = "planning.snapshot_taken"
    snapshot: PlanningSnapshot
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


# --- step commands --------------------------------------------------------------------------------


class ForecastDemand(Message):
    event_type: Literal["forecasting.forecast_demand"] = "forecasting.forecast_demand"
    business_date: date
    horizon_days: int = Field(ge=1, le=60)
    products: tuple[Product, ...] = Field(max_length=bounds.PRODUCTS)
    sales: tuple[SalesHistory, ...] = Field(max_length=bounds.PRODUCTS)
    calendar: Calendar
    regressors: tuple[Regressor, ...] = Field(default=(), max_length=bounds.REGRESSORS)


class DiscardForecast(Message):
    event_type: Literal["forecasting.discard_forecast"] = "forecasting.discard_forecast"
    attempt: int = Field(default=1, ge=1)


class ScheduleProduction(Message):
    event_type: Literal["production.schedule_production"] = "production.schedule_production"
    business_date: date
    products: tuple[Product, ...] = Field(max_length=bounds.PRODUCTS)
    recipes: tuple[Recipe, ...] = Field(max_length=bounds.RECIPES)
    forecast: tuple[ForecastLine, ...] = Field(max_length=bounds.PLAN_LINES)
    calendar: Calendar
    components: tuple[Component, ...] = Field(default=(), max_length=bounds.RECIPES)
    capacity: Capacity = Capacity()


class CancelProductionBatches(Message):
    event_type: Literal["production.cancel_batches"] = "production.cancel_batches"
    attempt: int = Field(default=1, ge=1)


class PlanProcurement(Message):
    event_type: Literal["procurement.plan_procurement"] = "procurement.plan_procurement"
    business_date: date
    ingredients: tuple[Ingredient, ...] = Field(max_length=bounds.INGREDIENTS)
    stock_lots: tuple[StockLot, ...] = Field(max_length=bounds.STOCK_LOTS)
    suppliers: tuple[Supplier, ...] = Field(max_length=bounds.SUPPLIERS)
    requirements: tuple[IngredientRequirement, ...] = Field(max_length=bounds.PLAN_LINES)
    open_purchase_orders: tuple[OpenPurchaseOrder, ...] = Field(default=(), max_length=bounds.OPEN_ORDERS)
    policy: PlanningPolicy = PlanningPolicy()
    calendar: Calendar = Calendar()
    purpose: Literal["daily", "low_stock"] = Field(
        default="daily",
        description="low_stock: a procurement-only saga; its lines avoid the supplier × ingredient × delivery "
        "date slots of `open_purchase_orders`, hold stock at `stock_floors` and flag emergencies",
    )
    stock_floors: tuple[StockFloor, ...] = Field(default=(), max_length=bounds.INGREDIENTS)
    receipts: tuple[SupplierReceipt, ...] = Field(
        default=(),
        max_length=bounds.RECEIPTS,
        description="the snapshot's delivered lines: lead times and on-time rates are learned from them",
    )


class VoidPurchaseLines(Message):
    event_type: Literal["procurement.void_purchase_lines"] = "procurement.void_purchase_lines"
    attempt: int = Field(default=1, ge=1)


# --- step replies ---------------------------------------------------------------------------------


class DemandForecasted(Message):
    event_type: Literal["forecasting.demand_forecasted"] = "forecasting.demand_forecasted"
    step: Literal["forecasting"] = "forecasting"
    forecast: tuple[ForecastLine, ...] = Field(max_length=bounds.PLAN_LINES)


class ProductionScheduled(Message):
    event_type: Literal["production.production_scheduled"] = "production.production_scheduled"
    step: Literal["production"] = "production"
    batches: tuple[ProductionBatch, ...] = Field(max_length=bounds.PLAN_LINES)
    requirements: tuple[IngredientRequirement, ...] = Field(max_length=bounds.PLAN_LINES)


class ProcurementPlanned(Message):
    event_type: Literal["procurement.procurement_planned"] = "procurement.procurement_planned"
    step: Literal["procurement"] = "procurement"
    purchase_lines: tuple[PurchaseLine, ...] = Field(max_length=bounds.PLAN_LINES)


class StepFailed(Message):
    """A worker could not do its step for a business reason; retrying will not help."""

    event_type: Literal["planning.step_failed"] = "planning.step_failed"
    step: StepName
    reason: str


class StepCompensated(Message):
    """A worker undid its step for a saga (discarded, cancelled or voided its drafts)."""

    event_type: Literal["planning.step_compensated"] = "planning.step_compensated"
    step: StepName
    affected_rows: int = Field(ge=0)


# --- outcome ---------------------------------------------------------------------------------------


class PlanReady(Message):
    """The saga completed: the workers' draft results for it become the active plan."""

    event_type: Literal["planning.plan_ready"] = "planning.plan_ready"
    business_date: date
    batches: int = Field(ge=0)
    purchase_lines: int = Field(ge=0)
    purchase_orders: int = Field(default=0, ge=0, description="orders the release step sent out (docs/orders.md)")


class PlanCompensated(Message):
    event_type: Literal["planning.plan_compensated"] = "planning.plan_compensated"
    business_date: date
    reason: str


class SagaFailedAlert(Message):
    """Compensation could not finish: an operator must look. Never silent."""

    event_type: Literal["planning.saga_failed_alert"] = "planning.saga_failed_alert"
    reason: str


class OperationsAlert(Message):
    """Something was set aside so that everything else could go on: an operator must look
    (docs/resilience.md). Never silent: the thing set aside is kept, with the reason."""

    event_type: Literal["ops.alert"] = "ops.alert"
    kind: Literal["outbox_row_parked", "scan_item_quarantined"] = Field(
        description="outbox_row_parked: Kafka refused an outbox row for good; scan_item_quarantined: a "
        "background scan failed on one item too many times in a row"
    )
    component: str = Field(max_length=100, description="the component that set it aside, e.g. orchestrator")
    subject: str = Field(max_length=500, description="what was set aside: the outbox row, saga, schedule or tenant")
    reason: str = Field(max_length=4000, description="the last error, and what would fix it")


StepReply = (
    DemandForecasted | ProductionScheduled | ProcurementPlanned | PurchaseOrdersReleased | StepFailed | StepCompensated
)

ALL_MESSAGES: tuple[type[Message], ...] = (
    PlanningRequested,
    LowStockObserved,
    SalesDayClosed,
    StockCounted,
    MasterDataChanged,
    SnapshotTaken,
    ForecastDemand,
    DiscardForecast,
    ScheduleProduction,
    CancelProductionBatches,
    PlanProcurement,
    VoidPurchaseLines,
    DemandForecasted,
    ProductionScheduled,
    ProcurementPlanned,
    StepFailed,
    StepCompensated,
    PlanReady,
    PlanCompensated,
    SagaFailedAlert,
    OperationsAlert,
    *PURCHASING_MESSAGES,
)


def message_types() -> dict[str, type[Message]]:
    """`event_type` → model class, for decoding."""
    return {cls.model_fields["event_type"].default: cls for cls in ALL_MESSAGES}
