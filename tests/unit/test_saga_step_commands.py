"""The saga's step commands carry the whole snapshot, so the workers plan exactly what
`bakeplan plan --input` plans for the same snapshot and saga id."""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Message
from contracts.messages import DemandForecasted, ProductionScheduled
from contracts.planning import (
    Capacity,
    Component,
    ComponentLine,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    Recipe,
    RecipeLine,
    Regressor,
)
from lab.synthetic import generate_tenant
from orchestrator.engine import RunStep
from orchestrator.ports import TenantProfile
from orchestrator.saga import STEP_TOPICS, StepResults, to_messages
from workers.chain import plan_snapshot
from workers.forecasting import handler as forecasting
from workers.procurement import handler as procurement
from workers.production import handler as production
from workers.shell.runtime import StepSpec, reply_envelope

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
SAGA_ID = UUID("0b7b5f43-3f51-4b5e-9e43-4d8f2a9e1c01")
SPECS: dict[str, StepSpec] = {
    "forecasting": forecasting.SPEC,
    "production": production.SPEC,
    "procurement": procurement.SPEC,
}
"""The planning steps, each with its worker's step spec; the fourth, release, sends what they planned."""


@cache
def a_snapshot(*, horizon_days: int = 7, oven_minutes_per_day: int = 900) -> PlanningSnapshot:
    """A small synthetic bakery with a dough component and every optional input set."""
    tenant = generate_tenant("kiosk", profile="small", seed=11, today=TODAY, components=True, history_days=120)
    first_lot = tenant.stock_lots[0]
    supplier = next(s for s in tenant.suppliers if any(i.ingredient_id == first_lot.ingredient_id for i in s.items))
    return PlanningSnapshot(
        tenant_id=tenant.tenant_id,
        business_date=TODAY,
        horizon_days=horizon_days,
        products=tenant.products,
        recipes=tenant.recipes,
        ingredients=tenant.ingredients,
        stock_lots=tenant.stock_lots,
        suppliers=tenant.suppliers,
        sales=tenant.sales,
        calendar=tenant.calendar,
        components=tenant.components,
        capacity=Capacity(oven_minutes_per_day=oven_minutes_per_day, mixer_minutes_per_day=None),
        open_purchase_orders=(
            OpenPurchaseOrder(
                order_id="PO-1",
                supplier_id=supplier.supplier_id,
                ingredient_id=first_lot.ingredient_id,
                quantity=10.0,
                delivery_date=TODAY + timedelta(days=2),
            ),
        ),
        regressors=(
            Regressor(
                name="temperature_c",
                start_date=tenant.sales[0].start_date,
                values=tuple(float(n % 17) for n in range(120 + horizon_days)),
            ),
        ),
        policy=PlanningPolicy(service_level=0.9, consolidation_window_days=3, planned_at=time(5, 0)),
    )


def step_command(step: str, snapshot: PlanningSnapshot, results: StepResults) -> Message:
    (outgoing,) = to_messages(
        RunStep(step),
        saga_id=SAGA_ID,
        tenant_id=snapshot.tenant_id,
        business_date=snapshot.business_date,
        attempt=1,
        snapshot=snapshot,
        results=results,
        causation_id=uuid4(),
        now=NOW,
    )
    return outgoing.message


def run_saga_steps(snapshot: PlanningSnapshot) -> tuple[dict[str, Message], StepResults]:
    """Each step's command, planned by its worker's handler, its reply fed to the next command."""
    results = StepResults()
    commands: dict[str, Message] = {}
    for step in SPECS:
        command = step_command(step, snapshot, results)
        commands[step] = command
        results.record(SPECS[step].plan(command, reply_envelope(command, "done", NOW)).reply)
    return commands, results


def test_every_snapshot_input_reaches_a_step_command_unchanged() -> None:
    """A snapshot field the commands drop would be planned with its default: a silent wrong plan."""
    snapshot = a_snapshot()
    results = StepResults()
    results.forecast = DemandForecasted(event_id=uuid4(), tenant_id="kiosk", occurred_at=NOW, forecast=())
    results.production = ProductionScheduled(
        event_id=uuid4(), tenant_id="kiosk", occurred_at=NOW, batches=(), requirements=()
    )
    carried: set[str] = set()
    for step in SPECS:
        command = step_command(step, snapshot, results)
        assert command.tenant_id == snapshot.tenant_id
        for field in set(type(command).model_fields) & set(PlanningSnapshot.model_fields) - {"tenant_id"}:
            assert getattr(command, field) == getattr(snapshot, field), (step, field)
            carried.add(field)
    assert set(PlanningSnapshot.model_fields) - carried == {"tenant_id"}


@settings(max_examples=25, deadline=None)
@given(
    oven=st.one_of(st.none(), st.integers(0, 5000)),
    mixer=st.one_of(st.none(), st.integers(0, 5000)),
    service_level=st.floats(0.51, 0.99),
    dual_source=st.booleans(),
    made_days_ahead=st.integers(0, 3),
)
def test_capacity_policy_and_components_are_passed_as_given(
    oven: int | None, mixer: int | None, service_level: float, dual_source: bool, made_days_ahead: int
) -> None:
    dough = Component(
        component_id="C1",
        name="Dough",
        unit="kg",
        batch_yield=10.0,
        made_days_ahead=made_days_ahead,
        lines=(RecipeLine(ingredient_id="I1", quantity_per_batch=6.0),),
    )
    recipe = Recipe(
        product_id="P1",
        batch_yield_units=10,
        oven_minutes_per_batch=30,
        lines=(),
        components=(ComponentLine(component_id="C1", quantity_per_batch=5.0),),
    )
    base = a_snapshot()
    snapshot = base.model_copy(
        update={
            "recipes": (recipe,),
            "components": (dough,),
            "capacity": Capacity(oven_minutes_per_day=oven, mixer_minutes_per_day=mixer),
            "policy": PlanningPolicy(service_level=service_level, dual_source=dual_source),
        }
    )
    results = StepResults()
    results.forecast = DemandForecasted(event_id=uuid4(), tenant_id="kiosk", occurred_at=NOW, forecast=())
    results.production = ProductionScheduled(
        event_id=uuid4(), tenant_id="kiosk", occurred_at=NOW, batches=(), requirements=()
    )
    schedule: Any = step_command("production", snapshot, results)
    purchase: Any = step_command("procurement", snapshot, results)
    assert (schedule.components, schedule.capacity) == ((dough,), snapshot.capacity)
    assert (purchase.policy, purchase.calendar, purchase.open_purchase_orders) == (
        snapshot.policy,
        snapshot.calendar,
        snapshot.open_purchase_orders,
    )


@pytest.mark.parametrize("oven_minutes_per_day", [120, 900])
def test_the_saga_plans_what_the_offline_plan_plans(oven_minutes_per_day: int) -> None:
    """Tight and loose ovens: the workers, fed by the saga's commands, equal `plan_snapshot`."""
    snapshot = a_snapshot(oven_minutes_per_day=oven_minutes_per_day)
    _, results = run_saga_steps(snapshot)
    offline = plan_snapshot(snapshot, saga_id=SAGA_ID)
    assert results.forecast is not None
    assert results.production is not None
    assert results.procurement is not None
    assert results.forecast.forecast == offline.forecast
    assert results.production.batches == offline.batches
    assert results.production.requirements == offline.requirements
    assert results.procurement.purchase_lines == offline.purchase_lines
    assert offline.batches, "a bakery with four months of sales bakes something in a week"


def test_the_release_command_carries_the_planned_lines_with_their_names_units_and_cut_offs() -> None:
    snapshot = a_snapshot()
    _, results = run_saga_steps(snapshot)
    assert list(STEP_TOPICS) == [*SPECS, "release"]
    results.tenant = TenantProfile(name="Kiosk am Markt", time_zone="Europe/Berlin", currency="EUR")
    command: Any = step_command("release", snapshot, results)
    assert results.procurement is not None
    lines = results.procurement.purchase_lines
    assert lines, "the snapshot's week needs some purchasing"
    assert command.purchase_lines == lines
    assert command.business_date == snapshot.business_date
    assert {i.ingredient_id for i in command.ingredients} == {line.ingredient_id for line in lines}
    assert all(i in snapshot.ingredients for i in command.ingredients)
    by_id = {s.supplier_id: s for s in snapshot.suppliers}
    assert {s.supplier_id for s in command.suppliers} == {line.supplier_id for line in lines}
    assert all(
        (s.name, s.order_cutoff) == (by_id[s.supplier_id].name, by_id[s.supplier_id].order_cutoff)
        for s in command.suppliers
    )
    # 04:30 UTC on the wall clock of Berlin in November: 05:30, one hour ahead
    assert command.placed_at == NOW
    assert command.placed_at.isoformat() == "2026-11-28T05:30:00+01:00"
    assert (command.tenant_name, command.time_zone, command.currency) == ("Kiosk am Markt", "Europe/Berlin", "EUR")
