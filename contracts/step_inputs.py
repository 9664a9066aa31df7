"""Which parts of a planning snapshot each step takes: the one map from snapshot to step command.

The orchestrator builds its step commands with these functions, the low-stock saga its procurement
command, and the offline planning chain (`workers/chain.py`, which `bakeplan plan`, the simulator and
replay run) builds the same commands to run the same planners. Replay checks a recorded command
against its snapshot with the field lists. A step that needs one more part of the snapshot gets it
here, and every path sees it.
"""

from datetime import datetime
from typing import Literal, TypedDict
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.messages import ForecastDemand, PlanProcurement, ScheduleProduction, StockFloor
from contracts.planning import ForecastLine, IngredientRequirement, PlanningSnapshot, PurchaseLine
from contracts.purchasing_messages import OrderingSupplier, ReleasePurchaseOrders

FORECASTING_PARTS = ("business_date", "horizon_days", "products", "sales", "calendar", "regressors")
PRODUCTION_PARTS = ("business_date", "products", "recipes", "calendar", "components", "capacity")
PROCUREMENT_PARTS = (
    "business_date",
    "ingredients",
    "stock_lots",
    "suppliers",
    "open_purchase_orders",
    "policy",
    "calendar",
    "receipts",
)


class StepEnvelope(TypedDict):
    """The envelope fields of one step command (see `contracts.envelope.Message`)."""

    event_id: UUID
    tenant_id: str
    saga_id: UUID
    causation_id: UUID
    correlation_id: UUID
    occurred_at: datetime


def forecast_demand(snapshot: PlanningSnapshot, envelope: StepEnvelope) -> ForecastDemand:
    s = snapshot
    return ForecastDemand(
        business_date=s.business_date,
        horizon_days=s.horizon_days,
        products=s.products,
        sales=s.sales,
        calendar=s.calendar,
        regressors=s.regressors,
        **envelope,
    )


def schedule_production(
    snapshot: PlanningSnapshot, forecast: tuple[ForecastLine, ...], envelope: StepEnvelope
) -> ScheduleProduction:
    s = snapshot
    return ScheduleProduction(
        business_date=s.business_date,
        products=s.products,
        recipes=s.recipes,
        forecast=forecast,
        calendar=s.calendar,
        components=s.components,
        capacity=s.capacity,
        **envelope,
    )


def plan_procurement(
    snapshot: PlanningSnapshot,
    requirements: tuple[IngredientRequirement, ...],
    envelope: StepEnvelope,
    *,
    purpose: Literal["daily", "low_stock"] = "daily",
    stock_floors: tuple[StockFloor, ...] = (),
) -> PlanProcurement:
    """`purpose="low_stock"` with `stock_floors`: the procurement-only saga's command (docs/low_stock.md)."""
    s = snapshot
    return PlanProcurement(
        business_date=s.business_date,
        ingredients=s.ingredients,
        stock_lots=s.stock_lots,
        suppliers=s.suppliers,
        requirements=requirements,
        open_purchase_orders=s.open_purchase_orders,
        policy=s.policy,
        calendar=s.calendar,
        purpose=purpose,
        stock_floors=stock_floors,
        receipts=s.receipts,
        **envelope,
    )


def release_purchase_orders(
    snapshot: PlanningSnapshot,
    purchase_lines: tuple[PurchaseLine, ...],
    envelope: StepEnvelope,
    *,
    tenant_name: str,
    time_zone: str,
    currency: str,
    placed_at: datetime,
) -> ReleasePurchaseOrders:
    """The release step's command (docs/orders.md): the procurement step's lines, with the snapshot's
    ingredients and suppliers they name (names, units, cut-offs), released at `placed_at` seen on the
    tenant's wall clock (`time_zone`)."""
    ingredients = {line.ingredient_id for line in purchase_lines}
    suppliers = {line.supplier_id for line in purchase_lines}
    return ReleasePurchaseOrders(
        business_date=snapshot.business_date,
        placed_at=placed_at.astimezone(ZoneInfo(time_zone)),
        time_zone=time_zone,
        tenant_name=tenant_name,
        currency=currency,
        purchase_lines=purchase_lines,
        ingredients=tuple(i for i in snapshot.ingredients if i.ingredient_id in ingredients),
        suppliers=tuple(
            OrderingSupplier(supplier_id=s.supplier_id, name=s.name, order_cutoff=s.order_cutoff)
            for s in snapshot.suppliers
            if s.supplier_id in suppliers
        ),
        **envelope,
    )
