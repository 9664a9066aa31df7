"""Unit tests of replenishment (FEFO projection, MOQ and pack rounding, supplier choice, dates)."""

from datetime import date, timedelta
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bakeplan.errors import PlanningError
from contracts.planning import (
    Ingredient,
    IngredientRequirement,
    PurchaseLine,
    StockLot,
    Supplier,
    SupplierItem,
)
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e02")


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def an_ingredient(ingredient_id: str = "flour", *, shelf_life_days: int | None = None) -> Ingredient:
    return Ingredient(
        ingredient_id=ingredient_id,
        name=ingredient_id.title(),
        unit="kg",
        category="dry",
        shelf_life_days=shelf_life_days,
    )


def a_lot(
    quantity: float,
    *,
    expires_on: date | None = None,
    ingredient_id: str = "flour",
    lot_id: str = "",
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
) -> Supplier:
    item = SupplierItem(
        ingredient_id=ingredient_id,
        unit_price=price,
        lead_time_days=lead_time_days,
        moq=moq,
        pack_size=pack_size,
    )
    return Supplier(supplier_id=supplier_id, name=supplier_id.title(), items=(item,))


def a_need(offset: int, quantity: float, ingredient_id: str = "flour") -> IngredientRequirement:
    return IngredientRequirement(ingredient_id=ingredient_id, day=day(offset), quantity=quantity)


def plan(
    requirements: list[IngredientRequirement],
    *,
    lots: tuple[StockLot, ...] = (),
    suppliers: tuple[Supplier, ...] = (a_supplier(),),
    ingredients: tuple[Ingredient, ...] = (an_ingredient(),),
) -> tuple[PurchaseLine, ...]:
    return plan_purchases(SAGA, ingredients, lots, suppliers, requirements, business_date=MONDAY)


def test_stock_that_covers_everything_needs_no_order_and_no_supplier() -> None:
    lines = plan([a_need(0, 5), a_need(1, 5)], lots=(a_lot(10),), suppliers=())

    assert lines == ()


def test_lots_are_consumed_first_expiry_first_out() -> None:
    # Taking the long-lived lot first would leave the short-lived one to expire: 10 kg short.
    lots = (a_lot(10, lot_id="a-keeps"), a_lot(10, expires_on=day(2), lot_id="b-expires"))

    lines = plan([a_need(0, 5), a_need(1, 5), a_need(2, 5), a_need(3, 5)], lots=lots)

    assert lines == ()


def test_a_lot_stops_counting_on_its_expiry_day() -> None:
    lots = (a_lot(10, expires_on=day(1)),)

    (line,) = plan([a_need(0, 4), a_need(1, 3)], lots=lots)

    assert (line.delivery_date, line.quantity) == (day(1), 3)


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


def test_the_surplus_of_a_rounded_order_covers_later_days() -> None:
    lines = plan([a_need(0, 3), a_need(1, 5), a_need(2, 5)], suppliers=(a_supplier(pack_size=10),))

    assert [(line.delivery_date, line.quantity) for line in lines] == [(day(0), 10), (day(2), 10)]
    assert "need 5, on hand 2, short 3" in lines[1].reason


def test_the_surplus_expires_after_the_ingredient_shelf_life() -> None:
    lines = plan(
        [a_need(0, 3), a_need(1, 5)],
        suppliers=(a_supplier(pack_size=10),),
        ingredients=(an_ingredient(shelf_life_days=1),),
    )

    assert [(line.delivery_date, line.quantity) for line in lines] == [(day(0), 10), (day(1), 10)]


def test_order_date_is_the_need_day_minus_lead_time_and_past_ones_are_late() -> None:
    lines = plan([a_need(1, 5), a_need(5, 5)], suppliers=(a_supplier(lead_time_days=3),))

    assert [(line.order_date, line.delivery_date, line.late) for line in lines] == [
        (day(-2), day(1), True),
        (day(2), day(5), False),
    ]
    assert "lead time 3 d (late)" in lines[0].reason


def test_an_order_placed_today_is_not_late() -> None:
    (line,) = plan([a_need(0, 5)])

    assert (line.order_date, line.late) == (MONDAY, False)


def test_the_cheapest_supplier_is_chosen_then_the_fastest_then_by_id() -> None:
    suppliers = (
        a_supplier("a-dear", price=2.0, lead_time_days=0),
        a_supplier("b-slow", price=1.5, lead_time_days=5),
        a_supplier("d-fast", price=1.5, lead_time_days=2),
        a_supplier("c-fast", price=1.5, lead_time_days=2),
    )

    (line,) = plan([a_need(9, 5)], suppliers=suppliers)

    assert (line.supplier_id, line.unit_price, line.order_date) == ("c-fast", 1.5, day(7))


def test_requirements_of_one_ingredient_and_day_are_summed() -> None:
    (line,) = plan([a_need(0, 2.5), a_need(0, 2.5)], lots=(a_lot(1),))

    assert line.quantity == 4


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


def test_an_ingredient_no_supplier_offers_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match=r"'flour'.*add a supplier item"):
        plan([a_need(0, 5)], suppliers=(a_supplier(ingredient_id="sugar"),))


def test_a_requirement_for_an_unknown_ingredient_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="unknown ingredient 'saffron'"):
        plan([a_need(0, 1, "saffron")])


def test_line_ids_are_deterministic_per_saga_supplier_ingredient_and_day() -> None:
    needs = [a_need(0, 3), a_need(2, 4)]

    first = plan(needs)

    assert plan(list(reversed(needs))) == first
    assert first[0].line_id == str(uuid5(SAGA, "po:mill:flour:2024-05-13"))


def covered_by(
    requirements: list[IngredientRequirement],
    lots: list[StockLot],
    lines: tuple[PurchaseLine, ...],
    shelf_life_days: int | None,
) -> bool:
    """Whether stock plus deliveries cover every requirement, using the lots that expire first."""
    supply = [(MONDAY, lot.expires_on or date.max, lot.quantity) for lot in lots]
    for line in lines:
        expires = date.max
        if shelf_life_days is not None:
            expires = line.delivery_date + timedelta(days=shelf_life_days)
        supply.append((line.delivery_date, expires, line.quantity))
    left = [quantity for _, _, quantity in supply]
    by_expiry = sorted(range(len(supply)), key=lambda index: supply[index][1])
    for need in sorted(requirements, key=lambda requirement: requirement.day):
        missing = need.quantity
        for index in by_expiry:
            arrives, expires, _ = supply[index]
            if arrives <= need.day < expires:
                taken = min(left[index], missing)
                left[index] -= taken
                missing -= taken
        if missing > 1e-6:
            return False
    return True


@given(
    needs=st.lists(
        st.tuples(st.integers(0, 13), st.integers(1, 400).map(lambda tenths: tenths / 10)),
        min_size=1,
        max_size=20,
    ),
    lots=st.lists(st.tuples(st.integers(0, 300), st.one_of(st.none(), st.integers(0, 14))), max_size=4),
    shelf_life_days=st.one_of(st.none(), st.integers(1, 5)),
    moq=st.integers(0, 40).map(lambda halves: halves / 2),
    pack_size=st.sampled_from([0.1, 0.25, 1.0, 2.5, 12.5, 25.0]),
)
def test_purchases_and_usable_stock_cover_every_requirement_in_whole_packs(
    needs: list[tuple[int, float]],
    lots: list[tuple[int, int | None]],
    shelf_life_days: int | None,
    moq: float,
    pack_size: float,
) -> None:
    requirements = [a_need(offset, quantity) for offset, quantity in needs]
    stock = [
        a_lot(quantity, expires_on=None if expiry is None else day(expiry), lot_id=f"lot{index}")
        for index, (quantity, expiry) in enumerate(lots)
    ]

    lines = plan(
        requirements,
        lots=tuple(stock),
        suppliers=(a_supplier(moq=moq, pack_size=pack_size),),
        ingredients=(an_ingredient(shelf_life_days=shelf_life_days),),
    )

    assert covered_by(requirements, stock, lines, shelf_life_days)
    for line in lines:
        packs = line.quantity / pack_size
        assert line.quantity >= moq
        assert packs == pytest.approx(round(packs), abs=1e-6)
