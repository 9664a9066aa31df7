"""The one map from snapshot to step command: each command carries exactly its step's parts of the
snapshot, the part lists replay checks against say the same, and the offline chain plans what the
saga's commands would plan."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from contracts import ids, step_inputs
from contracts.envelope import Message
from contracts.messages import StockFloor
from contracts.planning import PlanningSnapshot
from lab.synthetic import generate_tenant
from workers.chain import plan_snapshot
from workers.forecasting.planner import forecast_for_command
from workers.procurement.replenishment import plan_for_command
from workers.production.scheduler import schedule_for_command

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 16)
SAGA = UUID("00000000-0000-4000-8000-00000000abcd")
ENVELOPE_FIELDS = set(Message.model_fields)


def a_snapshot(seed: int = 4) -> PlanningSnapshot:
    tenant = generate_tenant("bakery-map", profile="small", seed=seed, today=TODAY)
    return tenant.planning_snapshot(business_date=TODAY, horizon_days=7)


def an_envelope(step: str) -> step_inputs.StepEnvelope:
    return step_inputs.StepEnvelope(
        event_id=ids.step_command_id(SAGA, step, 1),
        tenant_id="bakery-map",
        saga_id=SAGA,
        causation_id=uuid4(),
        correlation_id=SAGA,
        occurred_at=datetime(2026, 3, 16, 4, 30, tzinfo=UTC),
    )


def _snapshot_fields(command: Message, own: set[str]) -> set[str]:
    """The command's fields that are neither envelope nor the step's own inputs: what must come from
    the snapshot."""
    return set(type(command).model_fields) - ENVELOPE_FIELDS - own


def test_each_command_carries_exactly_its_parts_of_the_snapshot() -> None:
    snapshot = a_snapshot()
    forecast = forecast_for_command(step_inputs.forecast_demand(snapshot, an_envelope("forecasting")))
    production = schedule_for_command(step_inputs.schedule_production(snapshot, forecast, an_envelope("production")))
    commands = [
        (step_inputs.forecast_demand(snapshot, an_envelope("forecasting")), step_inputs.FORECASTING_PARTS, set()),
        (
            step_inputs.schedule_production(snapshot, forecast, an_envelope("production")),
            step_inputs.PRODUCTION_PARTS,
            {"forecast"},
        ),
        (
            step_inputs.plan_procurement(snapshot, production.requirements, an_envelope("procurement")),
            step_inputs.PROCUREMENT_PARTS,
            {"requirements", "purpose", "stock_floors"},
        ),
    ]
    for command, parts, own in commands:
        assert _snapshot_fields(command, own) == set(parts), type(command).__name__
        for part in parts:
            assert getattr(command, part) == getattr(snapshot, part), f"{type(command).__name__}.{part}"
        assert (command.saga_id, command.tenant_id) == (SAGA, "bakery-map")


def test_a_low_stock_command_keeps_its_floors_and_purpose() -> None:
    snapshot = a_snapshot()
    floor = StockFloor(ingredient_id=snapshot.ingredients[0].ingredient_id, quantity=3.0)
    command = step_inputs.plan_procurement(
        snapshot, (), an_envelope("procurement"), purpose="low_stock", stock_floors=(floor,)
    )
    assert (command.purpose, command.stock_floors, command.requirements) == ("low_stock", (floor,), ())
    assert command.suppliers == snapshot.suppliers


def test_the_offline_chain_plans_what_the_saga_commands_plan() -> None:
    snapshot = a_snapshot(seed=7)
    forecast = forecast_for_command(step_inputs.forecast_demand(snapshot, an_envelope("forecasting")))
    production = schedule_for_command(step_inputs.schedule_production(snapshot, forecast, an_envelope("production")))
    lines = plan_for_command(
        step_inputs.plan_procurement(snapshot, production.requirements, an_envelope("procurement"))
    )
    plan = plan_snapshot(snapshot, saga_id=SAGA)
    assert plan.forecast == forecast
    assert plan.batches == production.batches
    assert plan.requirements == production.requirements
    assert plan.purchase_lines == lines
    assert lines, "a small tenant's first plan orders something: the comparison must not be vacuous"
