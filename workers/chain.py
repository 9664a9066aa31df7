"""The whole daily plan in one process: the three workers' planners, chained as the saga chains them.

Pure: no I/O, no clock. `bakeplan plan` runs this on a snapshot file, the simulator runs it every
simulated morning, and replay compares against it. Each step's command is built from the snapshot by
the same map the orchestrator uses (`contracts.step_inputs`) and planned by the same function the
worker's handler calls, so an offline plan equals the saga's plan for the same snapshot and saga id.

The chain stops at the purchase lines. Releasing them as purchase orders (the saga's fourth step,
docs/orders.md) is an online act, made at a moment on the tenant's clock with its name and currency,
so offline there is nothing to send; replay re-runs a recorded release with `release_for_command`,
the function the procurement worker runs.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from uuid import UUID

from contracts import ids, step_inputs
from contracts.planning import ForecastLine, IngredientRequirement, PlanningSnapshot, ProductionBatch, PurchaseLine
from workers.forecasting.planner import forecast_for_command
from workers.procurement.replenishment import plan_for_command
from workers.production.scheduler import ProductionPlan, schedule_for_command
from workers.purchase_orders.release import Release
from workers.purchase_orders.release import release as release_for_command

__all__ = [
    "DailyPlan",
    "ProductionPlan",
    "Release",
    "plan_for_command",
    "plan_snapshot",
    "purchase_for",
    "release_for_command",
    "schedule_snapshot",
]


@dataclass(frozen=True)
class DailyPlan:
    forecast: tuple[ForecastLine, ...]
    batches: tuple[ProductionBatch, ...]
    requirements: tuple[IngredientRequirement, ...]
    purchase_lines: tuple[PurchaseLine, ...]


def _envelope(snapshot: PlanningSnapshot, saga_id: UUID, step: str) -> step_inputs.StepEnvelope:
    # what the saga's first attempt of `step` carries; only the planners' inputs matter offline
    return step_inputs.StepEnvelope(
        event_id=ids.step_command_id(saga_id, step, 1),
        tenant_id=snapshot.tenant_id,
        saga_id=saga_id,
        causation_id=saga_id,
        correlation_id=saga_id,
        occurred_at=datetime.combine(snapshot.business_date, time(), tzinfo=UTC),
    )


def schedule_snapshot(snapshot: PlanningSnapshot, *, saga_id: UUID) -> tuple[tuple[ForecastLine, ...], ProductionPlan]:
    """The first two steps for one snapshot: its forecast, and the production plan made from it."""
    forecast = forecast_for_command(step_inputs.forecast_demand(snapshot, _envelope(snapshot, saga_id, "forecasting")))
    production = schedule_for_command(
        step_inputs.schedule_production(snapshot, forecast, _envelope(snapshot, saga_id, "production"))
    )
    return forecast, production


def purchase_for(
    snapshot: PlanningSnapshot, requirements: tuple[IngredientRequirement, ...], *, saga_id: UUID
) -> tuple[PurchaseLine, ...]:
    """The last step: purchase lines for `requirements` against the snapshot's stock, orders and suppliers.

    `plan_snapshot` passes the requirements of its own production plan; the simulation's warm-up
    passes those of an earlier plan (`lab.simulation.policies.WarmUpPolicy`).
    """
    return plan_for_command(
        step_inputs.plan_procurement(snapshot, requirements, _envelope(snapshot, saga_id, "procurement"))
    )


def plan_snapshot(snapshot: PlanningSnapshot, *, saga_id: UUID) -> DailyPlan:
    """Forecast, schedule and replenish for one snapshot; raises `PlanningError` where a step would fail."""
    forecast, production = schedule_snapshot(snapshot, saga_id=saga_id)
    purchase_lines = purchase_for(snapshot, production.requirements, saga_id=saga_id)
    return DailyPlan(
        forecast=forecast,
        batches=production.batches,
        requirements=production.requirements,
        purchase_lines=purchase_lines,
    )
