"""Unit tests of the production schedule (stock netting, batch rounding, ingredient explosion)."""

import math
from datetime import date, timedelta
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bakeplan.errors import PlanningError
from contracts.planning import Calendar, ForecastLine, Product, Recipe, RecipeLine
from workers.production.scheduler import ProductionPlan, schedule_production

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e01")
OPEN_EVERY_DAY = Calendar()


def a_product(product_id: str = "baguette", *, stock: int = 0, shelf_life_days: int = 1) -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family="bread",
        unit_price=1.2,
        unit_cost=0.4,
        shelf_life_days=shelf_life_days,
        finished_stock_units=stock,
    )


def a_recipe(
    product_id: str = "baguette",
    *,
    yield_units: int = 12,
    oven_minutes: int = 30,
    lines: tuple[tuple[str, float], ...] = (("flour", 2.5),),
) -> Recipe:
    return Recipe(
        product_id=product_id,
        batch_yield_units=yield_units,
        oven_minutes_per_batch=oven_minutes,
        lines=tuple(RecipeLine(ingredient_id=i, quantity_per_batch=q) for i, q in lines),
    )


def a_forecast(product_id: str = "baguette", *units_by_day: float) -> list[ForecastLine]:
    """One line per consecutive day from MONDAY."""
    return [
        ForecastLine(product_id=product_id, day=MONDAY + timedelta(days=offset), units=units)
        for offset, units in enumerate(units_by_day)
    ]


def schedule(
    products: list[Product],
    recipes: list[Recipe],
    forecast: list[ForecastLine],
    calendar: Calendar = OPEN_EVERY_DAY,
    saga_id: UUID = SAGA,
) -> ProductionPlan:
    return schedule_production(saga_id, products, recipes, forecast, calendar, business_date=MONDAY)


def test_net_demand_is_rounded_up_to_whole_batches() -> None:
    plan = schedule([a_product(stock=10, shelf_life_days=3)], [a_recipe()], a_forecast("baguette", 37.5))

    (batch,) = plan.batches
    assert (batch.day, batch.batches, batch.units, batch.oven_minutes) == (MONDAY, 3, 36, 90)
    assert batch.reason == "forecast 37.5 − stock 10 = 28 → 3 × 12"


def test_finished_stock_covers_the_earliest_days_first() -> None:
    plan = schedule([a_product(stock=30, shelf_life_days=5)], [a_recipe()], a_forecast("baguette", 20, 20, 20))

    assert [(b.day, b.units) for b in plan.batches] == [
        (MONDAY + timedelta(days=1), 12),  # 20 - 10 left = 10
        (MONDAY + timedelta(days=2), 24),  # 20, stock used up
    ]


def test_finished_stock_past_its_shelf_life_is_not_sold() -> None:
    plan = schedule([a_product(stock=50, shelf_life_days=1)], [a_recipe()], a_forecast("baguette", 10, 10))

    assert [(b.day, b.units) for b in plan.batches] == [(MONDAY + timedelta(days=1), 12)]


def test_the_surplus_of_a_batch_is_not_carried_to_the_next_day() -> None:
    plan = schedule([a_product(shelf_life_days=3)], [a_recipe()], a_forecast("baguette", 1, 1))

    assert [(b.day, b.units) for b in plan.batches] == [
        (MONDAY, 12),
        (MONDAY + timedelta(days=1), 12),
    ]


def test_a_forecast_already_in_whole_units_is_not_rounded_up_further() -> None:
    plan = schedule([a_product()], [a_recipe()], a_forecast("baguette", 24.0))

    assert plan.batches[0].batches == 2


def test_closed_days_get_no_batch_even_if_the_forecast_has_a_line() -> None:
    tuesday = MONDAY + timedelta(days=1)
    calendar = Calendar(closed_dates=(tuesday,))

    plan = schedule([a_product()], [a_recipe()], a_forecast("baguette", 5, 5, 5), calendar)

    assert [b.day for b in plan.batches] == [MONDAY, MONDAY + timedelta(days=2)]


def test_requirements_are_recipe_lines_times_batches_summed_per_ingredient_and_day() -> None:
    recipes = [
        a_recipe("baguette", yield_units=10, lines=(("flour", 2.5), ("salt", 0.1))),
        a_recipe("roll", yield_units=20, lines=(("flour", 1.2), ("salt", 0.1), ("yeast", 0.05))),
    ]
    forecast = a_forecast("baguette", 25, 0, 5) + a_forecast("roll", 20, 20)

    plan = schedule([a_product("baguette"), a_product("roll")], recipes, forecast)

    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    assert [(r.day, r.ingredient_id, r.quantity) for r in plan.requirements] == [
        (MONDAY, "flour", 8.7),  # 3 × 2.5 + 1 × 1.2
        (MONDAY, "salt", 0.4),  # 3 × 0.1 + 1 × 0.1, float noise rounded away
        (MONDAY, "yeast", 0.05),
        (tuesday, "flour", 1.2),
        (tuesday, "salt", 0.1),
        (tuesday, "yeast", 0.05),
        (wednesday, "flour", 2.5),
        (wednesday, "salt", 0.1),
    ]
    assert [(b.day, b.product_id) for b in plan.batches] == [
        (MONDAY, "baguette"),
        (MONDAY, "roll"),
        (tuesday, "roll"),
        (wednesday, "baguette"),
    ]


def test_a_product_with_demand_but_no_recipe_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match=r"'croissant'.*add a recipe"):
        schedule([a_product("croissant")], [], a_forecast("croissant", 3))


def test_a_product_with_zero_forecast_needs_no_recipe() -> None:
    plan = schedule([a_product("croissant")], [], a_forecast("croissant", 0, 0))

    assert plan == ProductionPlan(batches=(), requirements=())


def test_a_forecast_for_an_unknown_product_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="unknown product 'ghost'"):
        schedule([a_product()], [a_recipe()], a_forecast("ghost", 3))


def test_two_forecast_lines_for_one_product_and_day_are_a_planning_error() -> None:
    forecast = a_forecast("baguette", 3) + a_forecast("baguette", 4)

    with pytest.raises(PlanningError, match="two forecast lines"):
        schedule([a_product()], [a_recipe()], forecast)


def test_batch_ids_are_deterministic_per_saga_product_and_day() -> None:
    inputs = ([a_product(), a_product("roll")], [a_recipe(), a_recipe("roll")])
    forecast = a_forecast("baguette", 5, 7) + a_forecast("roll", 9)

    first = schedule(*inputs, forecast)
    again = schedule(*inputs, list(reversed(forecast)))
    other_saga = schedule(*inputs, forecast, saga_id=uuid5(SAGA, "other"))

    assert first == again
    assert first.batches[0].batch_id == str(uuid5(SAGA, "batch:baguette:2024-05-13"))
    assert {b.batch_id for b in first.batches}.isdisjoint(b.batch_id for b in other_saga.batches)


@given(
    forecast_units=st.lists(st.integers(0, 10_000).map(lambda hundredths: hundredths / 100), min_size=1, max_size=14),
    stock=st.integers(0, 300),
    yield_units=st.integers(1, 50),
)
def test_each_batch_covers_its_net_demand_with_less_than_one_batch_to_spare(
    forecast_units: list[float], stock: int, yield_units: int
) -> None:
    product = a_product(stock=stock, shelf_life_days=len(forecast_units))
    plan = schedule([product], [a_recipe(yield_units=yield_units)], a_forecast("baguette", *forecast_units))

    units_by_day = {batch.day: batch.units for batch in plan.batches}
    demand_before = 0
    for offset, units in enumerate(forecast_units):
        demand = math.ceil(units)
        stock_left = max(0, stock - demand_before)
        net = max(0, demand - stock_left)
        produced = units_by_day.get(MONDAY + timedelta(days=offset), 0)
        if net == 0:
            assert produced == 0
        else:
            assert net <= produced < net + yield_units
        demand_before += demand


@given(
    batches_by_day=st.lists(st.integers(0, 20), min_size=1, max_size=10),
    flour_per_batch=st.integers(1, 5000).map(lambda grams: grams / 1000),
)
def test_requirements_add_up_to_the_recipe_times_the_batches(batches_by_day: list[int], flour_per_batch: float) -> None:
    recipe = a_recipe(yield_units=10, lines=(("flour", flour_per_batch),))
    forecast = a_forecast("baguette", *(10 * batches for batches in batches_by_day))

    plan = schedule([a_product()], [recipe], forecast)

    assert sum(r.quantity for r in plan.requirements) == pytest.approx(
        sum(batches_by_day) * flour_per_batch, abs=0.0005 * len(batches_by_day)
    )
    assert [r.day for r in plan.requirements] == [b.day for b in plan.batches]
