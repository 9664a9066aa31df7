"""Unit tests of replenishment: projection, timing, safety stock, errors and ids; the builders here are shared."""

from datetime import date, time, timedelta
from uuid import UUID, uuid5

import pytest

from contracts.errors import PlanningError
from contracts.planning import (
    Calendar,
    Ingredient,
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    PriceTier,
    PurchaseLine,
    StockLot,
    Supplier,
    SupplierItem,
)
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e02")
NO_SAFETY = 0.0  # a requirement sd of zero with a certain lead time gives a statistical safety stock of 0


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def an_ingredient(
    ingredient_id: str = "flour", *, shelf_life_days: int | None = None, category: str = "salt"
) -> Ingredient:
    return Ingredient(
        ingredient_id=ingredient_id,
        name=ingredient_id.title(),
        unit="kg",
        category=category,
        shelf_life_days=shelf_life_days,
    )


def a_lot(
    quantity: float, *, expires_on: date | None = None, lot_id: str = "", ingredient_id: str = "flour"
) -> StockLot:
    return StockLot(
        lot_id=lot_id or f"{ingredient_id}-{quantity}-{expires_on}",
        ingredient_id=ingredient_id,
        quantity=quantity,
        expires_on=expires_on,
    )


def a_supplier(
    supplier_id: str = "mill",
    ingredient_id: str = "flour",
    *,
    price: float = 1.0,
    lead_time_days: int = 0,
    moq: float = 0,
    pack_size: float = 1,
    max_quantity: float | None = None,
    tiers: tuple[tuple[float, float], ...] = (),
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6),
    cutoff: time | None = None,
    min_order_value: float = 0.0,
    on_time_rate: float = 1.0,
    quality_score: float = 1.0,
) -> Supplier:
    item = SupplierItem(
        ingredient_id=ingredient_id,
        unit_price=price,
        lead_time_days=lead_time_days,
        moq=moq,
        pack_size=pack_size,
        max_quantity=max_quantity,
        price_tiers=tuple(PriceTier(min_quantity=low, unit_price=unit) for low, unit in tiers),
    )
    return Supplier(
        supplier_id=supplier_id,
        name=supplier_id.title(),
        items=(item,),
        delivery_weekdays=weekdays,
        order_cutoff=cutoff,
        min_order_value=min_order_value,
        on_time_rate=on_time_rate,
        quality_score=quality_score,
    )


def a_need(
    offset: int, quantity: float, ingredient_id: str = "flour", *, sd: float | None = NO_SAFETY
) -> IngredientRequirement:
    return IngredientRequirement(ingredient_id=ingredient_id, day=day(offset), quantity=quantity, quantity_sd=sd)


def daily_needs(first: int, last: int, quantity: float, *, sd: float | None = NO_SAFETY) -> list[IngredientRequirement]:
    return [a_need(offset, quantity, sd=sd) for offset in range(first, last + 1)]


def plan(
    requirements: list[IngredientRequirement],
    *,
    lots: tuple[StockLot, ...] = (),
    suppliers: tuple[Supplier, ...] = (a_supplier(),),
    ingredients: tuple[Ingredient, ...] = (an_ingredient(),),
    open_orders: tuple[OpenPurchaseOrder, ...] = (),
    policy: PlanningPolicy = PlanningPolicy(),
    calendar: Calendar = Calendar(),
) -> tuple[PurchaseLine, ...]:
    return plan_purchases(
        SAGA,
        ingredients,
        lots,
        suppliers,
        requirements,
        business_date=MONDAY,
        open_orders=open_orders,
        policy=policy,
        calendar=calendar,
    )


def deliveries(lines: tuple[PurchaseLine, ...]) -> list[tuple[date, float]]:
    return [(line.delivery_date, line.quantity) for line in lines]


def fact(line: PurchaseLine, name: str) -> object:
    assert line.reasoning is not None
    return line.reasoning.facts[name]


def rule(line: PurchaseLine) -> str:
    assert line.reasoning is not None
    return line.reasoning.rule


# --- projection -----------------------------------------------------------------------------------


def test_stock_that_covers_everything_needs_no_order_and_no_supplier() -> None:
    assert plan([a_need(0, 5), a_need(1, 5)], lots=(a_lot(10),), suppliers=()) == ()


def test_lots_are_consumed_first_expiry_first_out() -> None:
    # Taking the long-lived lot first would leave the short-lived one to expire: 10 kg short on day 3.
    lots = (a_lot(10, lot_id="a-keeps"), a_lot(10, expires_on=day(2), lot_id="b-expires"))

    assert plan(daily_needs(0, 3, 5), lots=lots) == ()


def test_a_lot_stops_counting_on_its_expiry_day() -> None:
    (line,) = plan([a_need(0, 4), a_need(1, 3)], lots=(a_lot(10, expires_on=day(1)),))

    assert deliveries((line,)) == [(day(1), 3)]
    assert fact(line, "projected_stock_before") == -3


def test_expired_and_empty_lots_do_not_count() -> None:
    lots = (a_lot(10, expires_on=MONDAY, lot_id="expired"), a_lot(0, lot_id="empty"))

    assert deliveries(plan([a_need(0, 4)], lots=lots)) == [(day(0), 4)]


def test_open_orders_are_supply_from_their_delivery_date() -> None:
    arriving = OpenPurchaseOrder(
        order_id="po1", supplier_id="mill", ingredient_id="flour", quantity=10, delivery_date=day(2)
    )

    assert plan([a_need(3, 10)], open_orders=(arriving,)) == ()
    assert deliveries(plan([a_need(1, 10)], open_orders=(arriving,))) == [(day(1), 10)]


def test_open_orders_expire_after_the_shelf_life() -> None:
    arriving = OpenPurchaseOrder(
        order_id="po1", supplier_id="mill", ingredient_id="flour", quantity=10, delivery_date=day(0)
    )

    lines = plan([a_need(3, 10)], open_orders=(arriving,), ingredients=(an_ingredient(shelf_life_days=2),))

    assert deliveries(lines) == [(day(3), 10)]


def test_requirements_of_one_day_are_summed_and_past_ones_ignored() -> None:
    (line,) = plan([a_need(0, 2.5), a_need(0, 2.5), a_need(-1, 100)], lots=(a_lot(1),))

    assert line.quantity == 4


# --- timing ---------------------------------------------------------------------------------------


def test_delivery_is_the_latest_delivery_weekday_before_the_need() -> None:
    wednesdays = a_supplier(lead_time_days=1, weekdays=(2,))

    (line,) = plan([a_need(4, 5)], suppliers=(wednesdays,))  # need on Friday

    assert (line.order_date, line.delivery_date, line.late) == (day(1), day(2), False)


def test_no_delivery_on_a_day_the_bakery_is_closed() -> None:
    closed_wednesday = Calendar(closed_dates=(day(2),))

    (line,) = plan([a_need(3, 5)], suppliers=(a_supplier(lead_time_days=1),), calendar=closed_wednesday)

    assert (line.order_date, line.delivery_date) == (day(2), day(3))
    (early,) = plan([a_need(2, 5), a_need(3, 5)], suppliers=(a_supplier(lead_time_days=1),), calendar=closed_wednesday)
    assert early.delivery_date == day(1)


def test_a_need_no_delivery_can_reach_while_the_stock_keeps_gets_no_line() -> None:
    mondays = a_supplier(weekdays=(0,))
    ingredient = an_ingredient(shelf_life_days=2)

    lines = plan([a_need(1, 5), a_need(3, 5)], suppliers=(mondays,), ingredients=(ingredient,))

    # Monday's delivery is usable Monday and Tuesday only: Thursday cannot be served by any line.
    assert [(line.delivery_date, line.quantity, fact(line, "coverage_to")) for line in lines] == [
        (day(0), 5, "2024-05-14")
    ]


@pytest.mark.parametrize(
    ("cutoff", "need_offset", "expected"),
    [
        (time(6, 0), 1, (day(0), day(1), False)),  # planned at 4:30, before the cut-off: placed today
        (time(4, 0), 2, (day(1), day(2), False)),  # after the cut-off: placed tomorrow, still in time
        (time(4, 0), 1, (day(1), day(2), True)),  # after the cut-off: tomorrow's need is missed
    ],
)
def test_an_order_after_the_cutoff_counts_as_placed_the_next_day(
    cutoff: time, need_offset: int, expected: tuple[date, date, bool]
) -> None:
    (line,) = plan([a_need(need_offset, 5)], suppliers=(a_supplier(lead_time_days=1, cutoff=cutoff),))

    assert (line.order_date, line.delivery_date, line.late) == expected


def test_a_need_before_the_earliest_delivery_is_ordered_at_once_and_late() -> None:
    policy = PlanningPolicy(consolidation_window_days=0)

    lines = plan([a_need(1, 5), a_need(5, 5)], suppliers=(a_supplier(lead_time_days=3),), policy=policy)

    assert [(line.order_date, line.delivery_date, line.quantity, line.late) for line in lines] == [
        (day(0), day(3), 5, True),
        (day(2), day(5), 5, False),
    ]
    assert rule(lines[0]) == "late_expedite"
    assert fact(lines[0], "backlog") == 5
    assert "late" in lines[0].reason


def test_an_order_placed_today_is_not_late() -> None:
    (line,) = plan([a_need(0, 5)])

    assert (line.order_date, line.late) == (MONDAY, False)


# --- safety stock ---------------------------------------------------------------------------------


def test_stock_is_held_at_the_statistical_safety_stock_from_the_earliest_delivery_on() -> None:
    # d = 300 / 6 open days = 50, sd_d = sqrt(3 * 20² / 6), SS = z(0.95) * sqrt(L * sd_d²) with L = 2.
    (line,) = plan(daily_needs(3, 5, 100, sd=20), suppliers=(a_supplier(lead_time_days=2),), ingredients=(PERISHABLE,))

    assert fact(line, "safety_stock") == pytest.approx(32.897, abs=1e-3)
    assert (fact(line, "safety_stock_method"), fact(line, "z"), fact(line, "sd_d")) == ("statistical", 1.6449, 14.142)
    assert (line.delivery_date, line.quantity, line.late) == (day(2), 333, False)


# Keeps for a month: the tenant policy's service level (0.95) applies as it is.
PERISHABLE = Ingredient(ingredient_id="flour", name="Flour", unit="kg", category="salt", shelf_life_days=30)


def test_long_life_stock_gets_at_least_a_99_percent_service_level() -> None:
    needs = daily_needs(3, 5, 100, sd=20)
    suppliers = (a_supplier(lead_time_days=2),)
    never_expires = plan(needs, suppliers=suppliers)
    keeps_90_days = plan(
        needs, suppliers=suppliers, ingredients=(PERISHABLE.model_copy(update={"shelf_life_days": 90}),)
    )
    keeps_30_days = plan(needs, suppliers=suppliers, ingredients=(PERISHABLE,))

    assert [fact(line, "z") for line in (*never_expires, *keeps_90_days, *keeps_30_days)] == [2.3263, 2.3263, 1.6449]


def test_the_ingredient_service_level_overrides_the_policy() -> None:
    ingredient = Ingredient(ingredient_id="flour", name="Flour", unit="kg", category="salt", service_level=0.99)

    (line,) = plan(daily_needs(3, 5, 100, sd=20), suppliers=(a_supplier(lead_time_days=2),), ingredients=(ingredient,))

    assert fact(line, "z") == 2.3263


def test_percentage_safety_stock_when_the_history_is_short() -> None:
    needs = [*daily_needs(0, 2, 10, sd=2), a_need(3, 10, sd=None)]

    (line,) = plan(needs, suppliers=(a_supplier(lead_time_days=2),), lots=(a_lot(20),))

    # d = 10 per open day, SS = 50 % of d over the 2-day lead time.
    assert (fact(line, "safety_stock_method"), fact(line, "safety_stock")) == ("percentage", 10)
    assert (line.delivery_date, line.quantity) == (day(2), 30)


# --- errors and ids -------------------------------------------------------------------------------


def test_an_ingredient_no_supplier_offers_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match=r"saga 6f1c1f0e.*'flour'.*add a supplier item"):
        plan([a_need(0, 5)], suppliers=(a_supplier(ingredient_id="sugar"),))


def test_a_supplier_that_never_delivers_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="no supplier offering it has a delivery day"):
        plan([a_need(0, 5)], suppliers=(a_supplier(weekdays=()),))


def test_a_requirement_for_an_unknown_ingredient_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match=r"saga 6f1c1f0e.*unknown ingredient 'saffron'"):
        plan([a_need(0, 1, "saffron")])


def test_line_ids_are_deterministic_per_saga_supplier_ingredient_and_day() -> None:
    needs = [a_need(0, 3), a_need(9, 4)]

    first = plan(needs)

    assert plan(list(reversed(needs))) == first
    assert [line.line_id for line in first] == [
        str(uuid5(SAGA, "po:mill:flour:2024-05-13")),
        str(uuid5(SAGA, "po:mill:flour:2024-05-22")),
    ]


def test_the_order_of_suppliers_and_ingredients_in_the_input_does_not_matter() -> None:
    suppliers = (
        a_supplier("mill", "flour"),
        a_supplier("dairy", "milk", lead_time_days=1),
        a_supplier("b-mill", "flour"),
    )
    ingredients = (an_ingredient("flour"), an_ingredient("milk", category="dairy"))
    needs = [a_need(2, 3, "flour"), a_need(4, 2, "milk"), a_need(6, 1, "flour")]

    forward = plan(needs, suppliers=suppliers, ingredients=ingredients)
    backward = plan(needs, suppliers=suppliers[::-1], ingredients=ingredients[::-1])

    assert [line.model_dump_json() for line in forward] == [line.model_dump_json() for line in backward]
    assert {line.supplier_id for line in forward} == {"b-mill", "dairy"}


def test_lines_are_sorted_by_order_date_supplier_and_ingredient() -> None:
    suppliers = (
        a_supplier("mill", "flour", lead_time_days=1),
        a_supplier("dairy", "butter", lead_time_days=1),
        a_supplier("dairy", "milk", lead_time_days=3),
    )
    ingredients = (an_ingredient("flour"), an_ingredient("butter"), an_ingredient("milk"))
    needs = [a_need(4, 1, "flour"), a_need(4, 1, "milk"), a_need(4, 1, "butter")]

    lines = plan(needs, suppliers=suppliers, ingredients=ingredients)

    assert [(line.order_date, line.supplier_id, line.ingredient_id) for line in lines] == [
        (day(1), "dairy", "milk"),
        (day(3), "dairy", "butter"),
        (day(3), "mill", "flour"),
    ]


def test_every_line_explains_itself() -> None:
    (line,) = plan(
        daily_needs(3, 5, 100, sd=20),
        suppliers=(a_supplier(lead_time_days=2, pack_size=25),),
        ingredients=(PERISHABLE,),
    )

    assert rule(line) == "cover_to_safety_stock"
    assert line.reasoning is not None
    expected = {
        "need", "projected_stock_before", "safety_stock", "safety_stock_method", "z", "sd_d", "lead_time_days",
        "sd_lt_days", "raw_quantity", "moq", "pack_size", "packs", "max_quantity", "shelf_life_cap",
        "price_tier_min_quantity", "supplier_score", "consolidated_days", "late",
    }  # fmt: skip
    assert expected <= set(line.reasoning.facts)
    assert (fact(line, "raw_quantity"), fact(line, "packs")) == (332.898, 14)  # rounded up to the next thousandth
    assert line.reason.startswith("stock falls below safety stock 32.897 on 2024-05-15: 14 × 25 = 350 from mill")
