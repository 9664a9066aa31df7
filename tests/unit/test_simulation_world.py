"""Known-answer tests of the simulated world: lots, FEFO, expiry, deliveries, making to demand, metrics."""

from datetime import date, timedelta

import pytest

from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    PlanningPolicy,
    Product,
    Recipe,
    RecipeLine,
    StockLot,
    Supplier,
    SupplierItem,
)
from lab.simulation.report import Ledger
from lab.simulation.simulator import make_to_demand
from lab.simulation.truth import Truth, ingredient_use_per_unit
from lab.simulation.world import Expired, Order, World, delivery_dates, next_delivery_day

pytestmark = pytest.mark.unit

MONDAY = date(2025, 3, 3)
FLOUR = Ingredient(ingredient_id="flour", name="Flour", unit="kg", category="flour")
MILK = Ingredient(ingredient_id="milk", name="Milk", unit="l", category="dairy", shelf_life_days=3)


def a_supplier(*, on_time_rate: float = 1.0, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)) -> Supplier:
    item = SupplierItem(ingredient_id="milk", unit_price=1.0, lead_time_days=2, moq=0, pack_size=1)
    return Supplier(
        supplier_id="S1", name="Dairy", items=(item,), delivery_weekdays=weekdays, on_time_rate=on_time_rate
    )


def a_world(*lots: StockLot) -> World:
    return World([FLOUR, MILK], lots, {"flour": 0.5, "milk": 2.0})


def a_lot(lot_id: str, ingredient_id: str, quantity: float, expires_on: date | None = None) -> StockLot:
    return StockLot(lot_id=lot_id, ingredient_id=ingredient_id, quantity=quantity, expires_on=expires_on)


def a_truth(*, units: int, flour_per_batch: float = 5.0) -> Truth:
    """One bread (price 3, cost 1, 10 per batch: flour and 0.2 l milk) demanded `units` a day for 3 days."""
    recipe = Recipe(
        product_id="P1",
        batch_yield_units=10,
        oven_minutes_per_batch=30,
        lines=(
            RecipeLine(ingredient_id="flour", quantity_per_batch=flour_per_batch),
            RecipeLine(ingredient_id="milk", quantity_per_batch=0.2),
        ),
    )
    product = Product(
        product_id="P1",
        name="Bread",
        family="bread",
        unit_price=3.0,
        unit_cost=1.0,
        shelf_life_days=2,
        finished_stock_units=0,
    )
    return Truth(
        tenant_id="t",
        products=(product,),
        recipes=(recipe,),
        ingredients=(FLOUR, MILK),
        suppliers=(a_supplier(),),
        calendar=Calendar(),
        components=(),
        capacity=Capacity(),
        policy=PlanningPolicy(),
        history_start=MONDAY,
        start=MONDAY + timedelta(days=1),
        days=2,
        demand={"P1": (units, units, units)},
    )


def test_consumption_takes_the_earliest_expiring_lot_first() -> None:
    world = a_world(
        a_lot("late", "milk", 4, MONDAY + timedelta(days=5)), a_lot("early", "milk", 3, MONDAY + timedelta(days=2))
    )

    world.consume("milk", 5)

    assert [(lot.lot_id, lot.quantity) for lot in world.stock_lots()] == [("late", 2.0)]


def test_a_lot_is_usable_the_day_before_its_expiry_and_written_off_on_the_expiry_day() -> None:
    expiry = MONDAY + timedelta(days=2)
    world = a_world(a_lot("m", "milk", 4, expiry), a_lot("f", "flour", 10))

    assert world.write_off(expiry - timedelta(days=1)) == []
    assert world.write_off(expiry) == [Expired("milk", 4, 8.0)]  # 4 l × 2.0
    assert world.on_hand("milk") == 0
    assert world.on_hand("flour") == 10  # no shelf life: never expires


def test_a_delivery_becomes_a_lot_expiring_shelf_life_days_after_arrival() -> None:
    world = a_world()
    order = Order("S1", "milk", 6, 1.5, MONDAY)
    world.place(order, ordered_on=MONDAY, planned_on=MONDAY + timedelta(days=2), arrives_on=MONDAY + timedelta(days=3))

    assert world.receive(MONDAY + timedelta(days=2)) == []
    # Due on Wednesday, missing on Wednesday morning: reported overdue (due the day before at the latest).
    assert world.open_orders(MONDAY)[0].delivery_date == MONDAY + timedelta(days=2)
    assert world.open_orders(MONDAY + timedelta(days=2))[0].delivery_date == MONDAY + timedelta(days=1)
    assert len(world.receive(MONDAY + timedelta(days=3))) == 1
    assert world.stock_lots() == (a_lot("SO000001", "milk", 6, MONDAY + timedelta(days=6)),)
    assert world.stock_value() == 9.0


def test_an_unreliable_supplier_delivers_1_to_3_days_late_on_a_delivery_weekday() -> None:
    order = Order("S1", "milk", 6, 1.0, MONDAY + timedelta(days=2))  # Wednesday
    weekdays = (2, 4)  # Wednesday, Friday
    late_days = set()
    for seed in range(40):
        planned, arrives = delivery_dates(
            order, a_supplier(on_time_rate=0.0, weekdays=weekdays), lead_time_days=2, ordered_on=MONDAY, seed=seed
        )
        assert planned == MONDAY + timedelta(days=2)
        assert arrives.weekday() in weekdays
        late_days.add((arrives - planned).days)
    assert late_days == {2, 7}  # +1/+2 → Friday, +3 (Saturday) → next Wednesday


def test_a_reliable_supplier_delivers_as_planned_but_never_faster_than_its_lead_time() -> None:
    too_early = Order("S1", "milk", 6, 1.0, MONDAY)  # a late line wanting delivery today

    planned, arrives = delivery_dates(too_early, a_supplier(), lead_time_days=2, ordered_on=MONDAY, seed=1)

    assert planned == arrives == MONDAY + timedelta(days=2)
    assert next_delivery_day(MONDAY + timedelta(days=5), a_supplier(weekdays=(0,))) == MONDAY + timedelta(days=7)


def test_a_missing_ingredient_loses_what_cannot_be_made_and_marks_it_short() -> None:
    truth = a_truth(units=30)  # 0.5 kg flour and 0.02 l milk a piece
    world = a_world(a_lot("f", "flour", 10), a_lot("m", "milk", 5, MONDAY + timedelta(days=9)))
    ledger = Ledger(holding_cost_rate_per_year=0.365)

    make_to_demand(truth, world, ledger, truth.start)

    assert ledger.units_demanded == 30
    assert ledger.units_made == pytest.approx(20)  # flour allows 20 pieces
    assert ledger.lost_sales_value == pytest.approx(10 * (3.0 - 1.0))
    assert world.on_hand("flour") == pytest.approx(0)
    assert world.on_hand("milk") == pytest.approx(5 - 20 * 0.02)
    assert ledger.stockout_days == 1
    assert ledger.holding_cost == pytest.approx((5 - 0.4) * 2.0 * 0.365 / 365)


def test_ledger_metrics_add_up() -> None:
    ledger = Ledger(holding_cost_rate_per_year=0.25)
    ledger.received("milk", 100.0, perishable=True)
    ledger.received("flour", 400.0, perishable=False)
    ledger.expired([Expired("milk", 5, 10.0), Expired("flour", 1, 0.5)], perishable={"milk"})
    ledger.ordered(2, 50.0)
    ledger.sold(demanded=10, made=8, lost_margin=6.0)
    ledger.end_of_day(stock_value=365.0, lost_units=2, needed=["milk", "flour"], short=["milk"])
    ledger.received("milk", 100.0, perishable=True)  # closes milk's cycle: one with a shortage
    ledger.end_of_day(stock_value=730.0, lost_units=0, needed=["milk", "flour"], short=[])

    report = ledger.report(policy="minmax", days=2, seed=1, profile="small")

    assert report.fill_rate == 0.8
    assert report.waste_rate == 0.05  # 10 of 200 perishable value
    assert report.waste_value == 10.5
    assert report.holding_cost == 0.75  # (365 + 730) × 0.25 / 365
    assert report.avg_inventory_value == 547.5
    assert report.total_cost == 50.0 + 0.75 + 6.0 + 10.5
    assert report.stockout_days == 1
    assert report.cycle_service_level == 0.6667  # 2 of 3 cycles: milk short then ok, flour ok
    assert report.orders == 2


def test_components_explode_into_ingredients_per_piece() -> None:
    dough = Component(
        component_id="C1",
        name="Dough",
        unit="kg",
        batch_yield=10,
        lines=(
            RecipeLine(ingredient_id="flour", quantity_per_batch=6),
            RecipeLine(ingredient_id="salt", quantity_per_batch=0.12),
        ),
    )
    recipe = Recipe(
        product_id="P1",
        batch_yield_units=10,
        oven_minutes_per_batch=30,
        lines=(RecipeLine(ingredient_id="flour", quantity_per_batch=2),),
        components=(ComponentLine(component_id="C1", quantity_per_batch=3),),
    )

    use = ingredient_use_per_unit([recipe], [dough])

    assert use["P1"] == pytest.approx({"flour": 0.2 + 0.3 * 0.6, "salt": 0.3 * 0.012})


def test_a_component_containing_itself_is_rejected() -> None:
    loop = Component(
        component_id="C1",
        name="Loop",
        unit="kg",
        batch_yield=1,
        lines=(),
        components=(ComponentLine(component_id="C1", quantity_per_batch=1),),
    )
    recipe = Recipe(
        product_id="P1",
        batch_yield_units=1,
        oven_minutes_per_batch=1,
        lines=(),
        components=(ComponentLine(component_id="C1", quantity_per_batch=1),),
    )

    with pytest.raises(ValueError, match="'C1' contains itself"):
        ingredient_use_per_unit([recipe], [loop])
