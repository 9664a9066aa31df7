"""Unit tests of low-stock procurement: the debounce decision, the snapshot adjustment (stock trim,
open lines from recorded results, floors, cut-off time) and the planner's slot rule and emergency flag."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import PlanningError
from contracts.ids import low_stock_trigger_id
from contracts.messages import PlanReady, ProcurementPlanned
from contracts.planning import (
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    PurchaseLine,
    StockLot,
)
from orchestrator.engine import FinishSaga, RunStep, SagaStatus, StartSaga, StepSucceeded, decide, new_saga
from orchestrator.low_stock_rules import (
    PendingTenant,
    Signal,
    due_tenants,
    low_stock_inputs,
    newest_signals,
    open_lines,
    trim_lots,
)
from orchestrator.saga import StepResults, low_stock_definition, to_messages
from tests.unit.test_procurement_replenishment import MONDAY, SAGA, a_lot, a_supplier, an_ingredient, day
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)


def a_signal(
    ingredient_id: str = "flour", *, on_hand: float = 5.0, threshold: float = 20.0, seconds: int = 0
) -> Signal:
    at = NOW + timedelta(seconds=seconds)
    return Signal(uuid4(), ingredient_id, on_hand, threshold, observed_at=at, received_at=at)


# --- debounce ----------------------------------------------------------------------------------------


def test_a_tenant_is_due_once_its_oldest_signal_is_older_than_the_window() -> None:
    pending = [
        PendingTenant("young", NOW - WINDOW + timedelta(seconds=1), running=False),
        PendingTenant("old", NOW - WINDOW, running=False),
        PendingTenant("older", NOW - 3 * WINDOW, running=False),
    ]
    assert due_tenants(pending, now=NOW, window=WINDOW) == ("old", "older")


def test_a_tenant_with_a_running_low_stock_saga_waits() -> None:
    pending = [PendingTenant("busy", NOW - 10 * WINDOW, running=True)]
    assert due_tenants(pending, now=NOW, window=WINDOW) == ()
    assert due_tenants([PendingTenant("busy", NOW - 10 * WINDOW, running=False)], now=NOW, window=WINDOW) == ("busy",)


def test_trigger_ids_depend_on_the_set_of_signals_not_their_order() -> None:
    ids = [uuid4() for _ in range(5)]
    assert low_stock_trigger_id("t1", ids) == low_stock_trigger_id("t1", reversed(ids))
    assert low_stock_trigger_id("t1", ids) != low_stock_trigger_id("t1", ids[:4])
    assert low_stock_trigger_id("t1", ids) != low_stock_trigger_id("t2", ids)


def test_the_newest_observation_of_each_ingredient_wins_whatever_the_arrival_order() -> None:
    early, late = a_signal(on_hand=9.0, seconds=0), a_signal(on_hand=4.0, seconds=30)
    butter = a_signal("butter", on_hand=1.0, seconds=5)
    assert newest_signals([late, butter, early]) == {"flour": late, "butter": butter}
    assert newest_signals([early, late, butter])["flour"].quantity_on_hand == 4.0


# --- stock trim --------------------------------------------------------------------------------------


def test_trim_cuts_the_first_expiring_lots_first() -> None:
    lots = [
        a_lot(10, expires_on=day(9), lot_id="late"),
        a_lot(10, expires_on=day(2), lot_id="soon"),
        a_lot(10, lot_id="never"),
        a_lot(7, lot_id="other", ingredient_id="salt"),
    ]
    trimmed = trim_lots(lots, "flour", 14.0)
    assert [(lot.lot_id, lot.quantity) for lot in trimmed] == [("late", 4.0), ("never", 10.0)]


def test_a_count_above_the_lots_adds_the_surplus_as_a_lot_without_expiry() -> None:
    trimmed = trim_lots([a_lot(3, expires_on=day(5), lot_id="a")], "flour", 8.0)
    assert [(lot.lot_id, lot.quantity, lot.expires_on) for lot in trimmed] == [
        ("a", 3.0, day(5)),
        ("counted:flour", 5.0, None),
    ]


@given(
    quantities=st.lists(st.integers(min_value=0, max_value=50), min_size=0, max_size=6),
    expiries=st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=20)), min_size=6, max_size=6),
    on_hand=st.integers(min_value=0, max_value=400),
)
def test_trimmed_lots_sum_to_the_count_and_keep_the_latest_expiring_stock(
    quantities: list[int], expiries: list[int | None], on_hand: int
) -> None:
    lots = [
        StockLot(lot_id=f"l{i}", ingredient_id="flour", quantity=q, expires_on=None if e is None else day(e))
        for i, (q, e) in enumerate(zip(quantities, expiries, strict=False))
    ]
    trimmed = trim_lots(lots, "flour", float(on_hand))
    assert sum(lot.quantity for lot in trimmed) == pytest.approx(on_hand)
    originals = {lot.lot_id: lot for lot in lots}
    kept = [lot for lot in trimmed if lot.lot_id in originals]
    assert all(lot.quantity <= originals[lot.lot_id].quantity for lot in kept)

    # a lot that expires later than a cut lot is never cut itself
    def expiry(lot: StockLot) -> date:
        return lot.expires_on or date.max

    cut = [lot for lot in lots if lot.quantity > 0 and lot.lot_id not in {k.lot_id for k in kept}]
    for kept_lot in kept:
        if kept_lot.quantity < originals[kept_lot.lot_id].quantity:
            cut.append(kept_lot)
    latest_cut = max((expiry(lot) for lot in cut), default=date.min)
    assert all(expiry(lot) >= latest_cut for lot in kept if lot.quantity == originals[lot.lot_id].quantity)


# --- open lines from recorded results ----------------------------------------------------------------


def a_line(line_id: str, *, delivery: date, quantity: float = 10.0, supplier_id: str = "mill") -> PurchaseLine:
    return PurchaseLine(
        line_id=line_id,
        supplier_id=supplier_id,
        ingredient_id="flour",
        order_date=delivery - timedelta(days=1),
        delivery_date=delivery,
        quantity=quantity,
        unit_price=1.0,
        late=False,
        reason="test",
    )


def planned(*lines: PurchaseLine) -> ProcurementPlanned:
    return ProcurementPlanned(event_id=uuid4(), tenant_id="t1", occurred_at=NOW, purchase_lines=lines)


def test_recorded_lines_still_to_come_become_open_orders_once_each() -> None:
    past, today, later = a_line("a", delivery=day(-1)), a_line("b", delivery=day(0)), a_line("c", delivery=day(3))
    orders = open_lines([planned(past, today), planned(later), planned(later)], business_date=MONDAY)
    assert orders == (
        OpenPurchaseOrder(
            order_id="line:b", supplier_id="mill", ingredient_id="flour", quantity=10.0, delivery_date=day(0)
        ),
        OpenPurchaseOrder(
            order_id="line:c", supplier_id="mill", ingredient_id="flour", quantity=10.0, delivery_date=day(3)
        ),
    )


def test_recorded_lines_released_as_orders_are_left_to_the_snapshot() -> None:
    # the snapshot counts what their purchase orders still bring (docs/orders.md): not twice
    held, released = a_line("held", delivery=day(2)), a_line("sent", delivery=day(2))
    orders = open_lines([planned(held, released)], business_date=MONDAY, released={"sent"})
    assert [o.order_id for o in orders] == ["line:held"]


def a_snapshot() -> PlanningSnapshot:
    return PlanningSnapshot(
        tenant_id="t1",
        business_date=MONDAY,
        horizon_days=14,
        products=(),
        recipes=(),
        ingredients=(an_ingredient("flour"), an_ingredient("salt")),
        stock_lots=(a_lot(30, lot_id="f1"), a_lot(8, lot_id="s1", ingredient_id="salt")),
        suppliers=(a_supplier(),),
        sales=(),
        open_purchase_orders=(
            OpenPurchaseOrder(
                order_id="po1", supplier_id="mill", ingredient_id="flour", quantity=5, delivery_date=day(2)
            ),
            OpenPurchaseOrder(
                order_id="po2", supplier_id="mill", ingredient_id="salt", quantity=5, delivery_date=day(2)
            ),
        ),
    )


def test_inputs_plan_only_the_signalled_ingredients_from_the_newest_count() -> None:
    signals = [a_signal(on_hand=12.0, threshold=25.0, seconds=0), a_signal(on_hand=6.0, threshold=20.0, seconds=9)]
    requirements = (
        IngredientRequirement(ingredient_id="flour", day=day(1), quantity=4.0),
        IngredientRequirement(ingredient_id="salt", day=day(1), quantity=1.0),
    )
    recorded = [planned(a_line("x", delivery=day(4), quantity=7.0))]
    inputs = low_stock_inputs(
        a_snapshot(), signals, requirements=requirements, recorded=recorded, local_time=time(15, 42, 7, 55)
    )
    s = inputs.snapshot
    assert [i.ingredient_id for i in s.ingredients] == ["flour"]
    assert [(lot.lot_id, lot.quantity) for lot in s.stock_lots] == [("f1", 6.0)]
    assert [o.order_id for o in s.open_purchase_orders] == ["po1", "line:x"]
    assert [r.ingredient_id for r in inputs.requirements] == ["flour"]
    assert [(f.ingredient_id, f.quantity) for f in inputs.stock_floors] == [("flour", 20.0)]
    assert s.policy.planned_at == time(15, 42, 7)


# --- the planner: floors, slots, emergencies ---------------------------------------------------------


def test_a_floor_without_requirements_orders_up_to_the_threshold_now_as_an_emergency() -> None:
    lines = plan_purchases(
        SAGA,
        [an_ingredient()],
        [a_lot(6)],
        [a_supplier(lead_time_days=1, pack_size=5)],
        [],
        business_date=MONDAY,
        stock_floors={"flour": 20.0},
        flag_emergencies=True,
    )
    assert len(lines) == 1
    (line,) = lines
    assert line.quantity == 15.0  # 20 - 6 = 14, in whole packs of 5
    assert (line.order_date, line.delivery_date) == (MONDAY, day(1))
    assert line.emergency
    assert "EMERGENCY" in line.reason
    assert line.reasoning is not None
    assert line.reasoning.facts["safety_stock_method"] == "stock_floor"


def test_a_line_that_can_wait_for_a_later_daily_plan_is_not_an_emergency() -> None:
    # need on day 5 (stock lasts), lead time 1: the order goes out on day 4, a later daily plan can place it
    requirements = [IngredientRequirement(ingredient_id="flour", day=day(5), quantity=30.0, quantity_sd=0.0)]
    lines = plan_purchases(
        SAGA,
        [an_ingredient()],
        [a_lot(10)],
        [a_supplier(lead_time_days=1)],
        requirements,
        business_date=MONDAY,
        stock_floors={"flour": 0.0},
        flag_emergencies=True,
    )
    assert [(line.order_date, line.emergency) for line in lines] == [(day(4), False)]


def test_supplier_cut_off_moves_placement_and_the_emergency_order_to_tomorrow() -> None:
    lines = plan_purchases(
        SAGA,
        [an_ingredient()],
        [a_lot(2)],
        [a_supplier(lead_time_days=1, cutoff=time(12, 0))],
        [],
        business_date=MONDAY,
        policy=PlanningPolicy(planned_at=time(15, 0)),
        stock_floors={"flour": 10.0},
        flag_emergencies=True,
    )
    assert [(line.order_date, line.delivery_date, line.emergency) for line in lines] == [(day(1), day(2), True)]


def test_no_line_lands_on_an_occupied_slot() -> None:
    suppliers = [a_supplier("mill", lead_time_days=1), a_supplier("farm", lead_time_days=1, price=1.5)]
    free = plan_purchases(
        SAGA, [an_ingredient()], [a_lot(2)], suppliers, [], business_date=MONDAY, stock_floors={"flour": 10.0}
    )
    assert [(line.supplier_id, line.delivery_date) for line in free] == [("mill", day(1))]
    blocked = plan_purchases(
        SAGA,
        [an_ingredient()],
        [a_lot(2)],
        suppliers,
        [],
        business_date=MONDAY,
        stock_floors={"flour": 10.0},
        occupied_slots=frozenset({("mill", "flour", day(1))}),
    )
    assert [(line.supplier_id, line.delivery_date) for line in blocked] == [("farm", day(1))]


def test_an_open_line_that_covers_the_floor_means_no_new_line() -> None:
    open_line = OpenPurchaseOrder(
        order_id="line:x", supplier_id="mill", ingredient_id="flour", quantity=10.0, delivery_date=day(1)
    )
    lines = plan_purchases(
        SAGA,
        [an_ingredient()],
        [a_lot(2)],
        [a_supplier(lead_time_days=1)],
        [],
        business_date=MONDAY,
        open_orders=[open_line],
        stock_floors={"flour": 10.0},
        occupied_slots=frozenset({("mill", "flour", day(1))}),
        flag_emergencies=True,
    )
    assert lines == ()


def test_daily_plans_are_unchanged_by_the_low_stock_inputs() -> None:
    requirements = [IngredientRequirement(ingredient_id="flour", day=day(2), quantity=30.0, quantity_sd=3.0)]
    args = ([an_ingredient()], [a_lot(10)], [a_supplier(lead_time_days=1)], requirements)
    daily = plan_purchases(SAGA, *args, business_date=MONDAY)
    assert daily  # the case plans something, so the comparison below is not vacuous
    assert all(
        not line.emergency and "emergency" not in (line.reasoning.facts if line.reasoning else {}) for line in daily
    )
    assert plan_purchases(SAGA, *args, business_date=MONDAY, stock_floors={}) == daily
    assert str(uuid5(SAGA, f"po:mill:flour:{daily[0].delivery_date.isoformat()}")) == daily[0].line_id


def test_a_floor_for_an_unknown_ingredient_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="'rye'"):
        plan_purchases(SAGA, [an_ingredient()], [], [a_supplier()], [], business_date=MONDAY, stock_floors={"rye": 1.0})


# --- the procurement-only saga ------------------------------------------------------------------------


def test_the_low_stock_saga_runs_procurement_then_its_release_and_completes_with_plan_ready() -> None:
    definition = low_stock_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    assert [(s.name, s.pivot) for s in definition.steps] == [("procurement", False), ("release", True)]
    started = decide(definition, new_saga(definition), StartSaga(NOW))
    assert started.commands == (RunStep("procurement"),)
    planned_lines = decide(definition, started.state, StepSucceeded("procurement", NOW))
    assert planned_lines.commands == (RunStep("release"),)
    done = decide(definition, planned_lines.state, StepSucceeded("release", NOW))
    assert done.commands == (FinishSaga(SagaStatus.COMPLETED),)
    results = StepResults()
    results.record(planned(a_line("x", delivery=day(1))))
    (out,) = to_messages(
        done.commands[0],
        saga_id=SAGA,
        tenant_id="t1",
        business_date=MONDAY,
        attempt=1,
        snapshot=None,
        results=results,
        causation_id=SAGA,
        now=NOW,
    )
    assert isinstance(out.message, PlanReady)
    assert (out.message.batches, out.message.purchase_lines) == (0, 1)
