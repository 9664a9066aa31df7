"""The whole daily plan in one process: the three workers' pure planners, chained as the saga chains them.

Pure: no I/O, no clock. `bakeplan plan` runs this on a snapshot file, the simulator runs it every
simulated morning, and replay compares against it; the workers run the same functions one step
each, so an offline plan equals the saga's plan for the same snapshot and saga id.
"""

from dataclasses import dataclass
from uuid import UUID

from contracts.planning import (
    ForecastLine,
    IngredientRequirement,
    PlanningSnapshot,
    ProductionBatch,
    PurchaseLine,
)
from workers.forecasting.planner import forecast_demand
from workers.procurement.replenishment import plan_purchases
from workers.production.scheduler import schedule_production


@dataclass(frozen=True)
class DailyPlan:
    forecast: tuple[ForecastLine, ...]
    batches: tuple[ProductionBatch, ...]
    requirements: tuple[IngredientRequirement, ...]
    purchase_lines: tuple[PurchaseLine, ...]


def plan_snapshot(snapshot: PlanningSnapshot, *, saga_id: UUID) -> DailyPlan:
    """Forecast, schedule and replenish for one snapshot; raises `PlanningError` where a step would fail."""
    s = snapshot
    forecast = forecast_demand(
        s.products,
        s.sales,
        s.calendar,
        business_date=s.business_date,
        horizon_days=s.horizon_days,
        regressors=s.regressors,
    )
    production = schedule_production(
        saga_id,
        s.products,
        s.recipes,
        forecast,
        s.calendar,
        business_date=s.business_date,
        components=s.components,
        capacity=s.capacity,
    )
    purchase_lines = plan_purchases(
        saga_id,
        s.ingredients,
        s.stock_lots,
        s.suppliers,
        production.requirements,
        business_date=s.business_date,
        open_orders=s.open_purchase_orders,
        policy=s.policy,
        calendar=s.calendar,
    )
    return DailyPlan(
        forecast=forecast,
        batches=production.batches,
        requirements=production.requirements,
        purchase_lines=purchase_lines,
    )
