"""Unit tests of replenishment's supply rules: shelf life, supplier terms, minimum order value,
consolidation and supplier scoring."""

from datetime import date, timedelta
from uuid import UUID

import pytest

from contracts.planning import (
    Ingredient,
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    Supplier,
    SupplierItem,
)
from tests.unit.test_procurement_replenishment import (
    a_need,
    a_supplier,
    an_ingredient,
    daily_needs,
    day,
    deliveries,
    fact,
    plan,
    rule,
)
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.unit


# --- shelf life -----------------------------------------------------------------------------------


def test_rounding_past_the_shelf_life_prefers_a_supplier_whose_packs_fit() -> None:
    sacks = a_supplier("a-sacks", price=1.0, pack_size=10)
    bags = a_supplier("b-bags", price=1.2, pack_size=1)

    lines = plan(daily_needs(0, 1, 3), suppliers=(sacks, bags), ingredients=(an_ingredient(shelf_life_days=2),))

    assert [(line.supplier_id, line.quantity) for line in lines] == [("b-bags", 6)]
    assert fact(lines[0], "supplier_rank") == 2


def test_without_a_fitting_supplier_the_pack_is_ordered_and_the_waste_recorded() -> None:
    sacks = a_supplier(pack_size=10)

    (line,) = plan(daily_needs(0, 1, 3), suppliers=(sacks,), ingredients=(an_ingredient(shelf_life_days=2),))

    assert line.quantity == 10
    assert (fact(line, "shelf_life_cap"), fact(line, "shelf_life_cap_exceeded"), fact(line, "expected_waste")) == (
        6,
        True,
        4,
    )


def test_a_line_never_covers_days_past_its_shelf_life() -> None:
    lines = plan(daily_needs(0, 9, 1), ingredients=(an_ingredient(shelf_life_days=3),))

    assert deliveries(lines) == [(day(0), 3), (day(3), 3), (day(6), 3), (day(9), 1)]


@pytest.mark.parametrize(
    ("category", "shelf_life_days", "source"),
    [("Dairy", 10, "category"), ("flour", 180, "category"), ("salt", None, "category"), ("exotic", 30, "default")],
)
def test_a_missing_shelf_life_takes_the_category_default(
    category: str, shelf_life_days: int | None, source: str
) -> None:
    ingredient = an_ingredient(category=category)

    (line, *_) = plan(
        daily_needs(0, 13, 1), ingredients=(ingredient,), policy=PlanningPolicy(consolidation_window_days=14)
    )

    assert (fact(line, "shelf_life_days"), fact(line, "shelf_life_source")) == (shelf_life_days, source)
    assert fact(line, "consolidated_days") == min(14, shelf_life_days or 14)


# --- supplier terms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shortfall", "moq", "pack_size", "ordered"),
    [
        (7, 10, 4, 12),  # MOQ 10, then whole packs of 4
        (13, 10, 5, 15),  # above MOQ, rounded up to packs
        (2.1, 0, 0.3, 2.1),  # 2.1 / 0.3 is 7.000000000000001 in floats: still 7 packs
        (2.5, 0, 25, 25),  # one whole sack
    ],
)
def test_orders_are_at_least_the_moq_in_whole_packs(
    shortfall: float, moq: float, pack_size: float, ordered: float
) -> None:
    (line,) = plan([a_need(0, shortfall)], suppliers=(a_supplier(moq=moq, pack_size=pack_size),))

    assert line.quantity == ordered
    assert fact(line, "packs") == round(ordered / pack_size)


def test_the_surplus_of_a_rounded_order_covers_later_days() -> None:
    policy = PlanningPolicy(consolidation_window_days=1)

    lines = plan([a_need(0, 3), a_need(1, 5), a_need(2, 5)], suppliers=(a_supplier(pack_size=10),), policy=policy)

    assert deliveries(lines) == [(day(0), 10), (day(2), 10)]
    assert fact(lines[1], "projected_stock_before") == -3


def test_a_line_is_capped_at_the_maximum_and_records_what_it_leaves_uncovered() -> None:
    (line,) = plan([a_need(0, 32)], suppliers=(a_supplier(pack_size=5, max_quantity=22),))

    assert line.quantity == 20
    assert (fact(line, "max_cap_binding"), fact(line, "uncovered_quantity")) == (True, 12)


def test_dual_sourcing_gives_the_remainder_to_the_next_best_supplier() -> None:
    best = a_supplier("a-best", pack_size=5, max_quantity=20)
    next_best = a_supplier("b-next", price=1.5)
    policy = PlanningPolicy(dual_source=True)

    lines = plan([a_need(0, 32)], suppliers=(best, next_best), policy=policy)

    assert [(line.supplier_id, line.quantity) for line in lines] == [("a-best", 20), ("b-next", 12)]
    assert [fact(line, "dual_source_part") for line in lines] == ["primary", "secondary"]
    assert rule(lines[1]) == "dual_source_remainder"


def test_single_source_by_default_even_when_the_maximum_binds() -> None:
    lines = plan([a_need(0, 32)], suppliers=(a_supplier("a-best", max_quantity=20), a_supplier("b-next", price=1.5)))

    assert [(line.supplier_id, line.quantity) for line in lines] == [("a-best", 20)]


def test_the_unit_price_is_the_tier_of_the_line_quantity() -> None:
    tiered = a_supplier(price=1.0, tiers=((50, 0.8), (100, 0.7)))

    (small,) = plan([a_need(0, 40)], suppliers=(tiered,))
    (large,) = plan([a_need(0, 120)], suppliers=(tiered,))

    assert (small.unit_price, fact(small, "price_tier_min_quantity")) == (1.0, None)
    assert (large.unit_price, fact(large, "price_tier_min_quantity")) == (0.7, 100)


def test_an_order_below_the_minimum_value_is_topped_up_when_the_stock_keeps() -> None:
    (line,) = plan([a_need(0, 30)], suppliers=(a_supplier(price=2.0, min_order_value=100),))

    assert (line.quantity, fact(line, "min_order_topup_packs"), fact(line, "below_min_order_value")) == (50, 20, False)


def test_an_order_that_cannot_reach_the_minimum_value_is_kept_and_flagged() -> None:
    lines = plan(
        daily_needs(0, 2, 10),
        suppliers=(a_supplier(price=2.0, min_order_value=100),),
        ingredients=(an_ingredient(shelf_life_days=1),),
    )

    assert deliveries(lines) == [(day(0), 10), (day(1), 10), (day(2), 10)]
    assert all(fact(line, "below_min_order_value") for line in lines)
    assert "minimum value" in lines[0].reason


def test_the_minimum_value_counts_every_line_of_the_order() -> None:
    suppliers = (
        Supplier(
            supplier_id="grocer",
            name="Grocer",
            min_order_value=50,
            items=(
                SupplierItem(ingredient_id="flour", unit_price=1, lead_time_days=0, moq=0, pack_size=1),
                SupplierItem(ingredient_id="sugar", unit_price=1, lead_time_days=0, moq=0, pack_size=1),
            ),
        ),
    )
    needs = [a_need(0, 30), a_need(0, 25, "sugar")]

    lines = plan(needs, suppliers=suppliers, ingredients=(an_ingredient(), an_ingredient("sugar")))

    assert [(line.ingredient_id, line.quantity) for line in lines] == [("flour", 30), ("sugar", 25)]
    assert [fact(line, "order_value") for line in lines] == [55, 55]


def a_grocer(*, min_order_value: float) -> Supplier:
    items = tuple(
        SupplierItem(ingredient_id=ingredient_id, unit_price=1, lead_time_days=0, moq=0, pack_size=1)
        for ingredient_id in ("flour", "sugar")
    )
    return Supplier(supplier_id="grocer", name="Grocer", min_order_value=min_order_value, items=items)


def test_a_short_order_brings_in_a_later_line_of_the_same_supplier() -> None:
    needs = [a_need(0, 30), a_need(3, 30, "sugar")]

    lines = plan(
        needs, suppliers=(a_grocer(min_order_value=50),), ingredients=(an_ingredient(), an_ingredient("sugar"))
    )

    assert [(line.ingredient_id, line.delivery_date, line.quantity) for line in lines] == [
        ("flour", day(0), 30),
        ("sugar", day(0), 30),
    ]
    assert fact(lines[1], "pulled_forward_from") == "2024-05-16"
    assert [fact(line, "order_value") for line in lines] == [60, 60]


def test_a_line_whose_stock_would_expire_sooner_is_not_brought_forward() -> None:
    needs = [a_need(0, 30), a_need(3, 30, "sugar")]
    ingredients = (an_ingredient(), an_ingredient("sugar", shelf_life_days=3))

    lines = plan(needs, suppliers=(a_grocer(min_order_value=50),), ingredients=ingredients)

    assert [(line.ingredient_id, line.delivery_date, line.quantity) for line in lines] == [
        ("flour", day(0), 50),
        ("sugar", day(3), 45),  # topped up to its shelf-life cap: 30 + 2 days past the horizon at 7.5 a day
    ]
    assert [fact(line, "below_min_order_value") for line in lines] == [False, True]


# --- consolidation --------------------------------------------------------------------------------


def test_needs_within_the_consolidation_window_share_one_line() -> None:
    lines = plan(daily_needs(0, 9, 1))

    assert deliveries(lines) == [(day(0), 7), (day(7), 3)]
    assert [fact(line, "consolidated_days") for line in lines] == [7, 3]


def test_a_line_covers_until_the_supplier_can_deliver_again() -> None:
    mondays_and_thursdays = a_supplier(weekdays=(0, 3))
    policy = PlanningPolicy(consolidation_window_days=1)

    lines = plan(daily_needs(0, 6, 1), suppliers=(mondays_and_thursdays,), policy=policy)

    assert deliveries(lines) == [(day(0), 3), (day(3), 4)]


# --- sourcing -------------------------------------------------------------------------------------


def test_scoring_weighs_price_lead_time_reliability_and_quality() -> None:
    # Price 0.5, lead time 0.2, on-time 0.2, quality 0.1 on ratios to the best offer.
    cheap_slow = a_supplier("a-cheap-slow", price=1.0, lead_time_days=5)  # 0.5 + 0.2/6 + 0.3 = 0.8333
    dear_fast = a_supplier("b-dear-fast", price=1.1, lead_time_days=0)  # 0.5/1.1 + 0.2 + 0.3 = 0.9545
    unreliable = a_supplier("c-unreliable", price=1.0, lead_time_days=0, on_time_rate=0.5)  # 0.5 + 0.2 + 0.2 = 0.9

    (line,) = plan([a_need(9, 5)], suppliers=(cheap_slow, dear_fast, unreliable))

    assert (line.supplier_id, fact(line, "supplier_score")) == ("b-dear-fast", 0.954545)


def test_scoring_ties_go_to_the_smaller_supplier_id() -> None:
    (line,) = plan([a_need(3, 5)], suppliers=(a_supplier("d-same"), a_supplier("c-same")))

    assert line.supplier_id == "c-same"


def test_scoring_prices_the_typical_line_with_its_tier() -> None:
    # A week of 20 a day is 140: the tier at 100 makes "b" the cheaper one for that quantity.
    flat = a_supplier("a-flat", price=0.9)
    tiered = a_supplier("b-tiered", price=1.0, tiers=((100, 0.8),))

    (line,) = plan(daily_needs(0, 6, 20), suppliers=(flat, tiered))

    assert (line.supplier_id, line.unit_price) == ("b-tiered", 0.8)


def test_an_overdue_order_counts_from_its_suppliers_next_delivery_day() -> None:
    """A promise already broken is not stock for today: a twice-a-week supplier brings it on its next day."""
    monday = date(2024, 5, 13)
    item = SupplierItem(ingredient_id="milk", unit_price=1.0, lead_time_days=1, moq=0, pack_size=1)
    sparse = Supplier(supplier_id="farm", name="Farm", items=(item,), delivery_weekdays=(0, 3))  # Mon, Thu
    daily = Supplier(supplier_id="dairy", name="Dairy", items=(item.model_copy(update={"unit_price": 1.2}),))
    overdue = OpenPurchaseOrder(
        order_id="PO1", supplier_id="farm", ingredient_id="milk", quantity=50, delivery_date=monday - timedelta(1)
    )
    needs = [
        IngredientRequirement(ingredient_id="milk", day=monday + timedelta(days=n), quantity=10, quantity_sd=0.0)
        for n in range(4)
    ]
    ingredient = Ingredient(ingredient_id="milk", name="Milk", unit="l", category="dairy", shelf_life_days=10)

    lines = plan_purchases(
        UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e01"),
        (ingredient,),
        (),
        (sparse, daily),
        needs,
        business_date=monday,
        open_orders=(overdue,),
    )

    # Expected Thursday (the farm's next delivery day), not today: Monday to Wednesday are short, so the
    # daily dairy, which can come on Tuesday, is ordered from at once (late, Monday is lost already).
    tuesday = monday + timedelta(days=1)
    assert [(line.supplier_id, line.delivery_date, line.late) for line in lines] == [("dairy", tuesday, True)]
    assert lines[0].quantity >= 30


def test_a_shortfall_before_the_best_supplier_can_come_is_bought_from_the_first_that_can() -> None:
    monday = date(2024, 5, 13)
    item = SupplierItem(ingredient_id="milk", unit_price=1.0, lead_time_days=1, moq=0, pack_size=1)
    cheap_but_thursday = Supplier(supplier_id="farm", name="Farm", items=(item,), delivery_weekdays=(3,))
    daily = Supplier(supplier_id="dairy", name="Dairy", items=(item.model_copy(update={"unit_price": 1.2}),))
    needs = [
        IngredientRequirement(ingredient_id="milk", day=monday + timedelta(days=n), quantity=10, quantity_sd=0.0)
        for n in range(1, 8)
    ]
    ingredient = Ingredient(ingredient_id="milk", name="Milk", unit="l", category="dairy", shelf_life_days=10)

    lines = plan_purchases(
        UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e01"),
        (ingredient,),
        (),
        (cheap_but_thursday, daily),
        needs,
        business_date=monday,
    )

    assert (lines[0].supplier_id, lines[0].delivery_date) == ("dairy", monday + timedelta(days=1))
    assert not lines[0].late, "ordered today for tomorrow: in time"
