"""Unit tests of the production schedule (newsvendor targets, stock netting, batch rounding, requirements)."""

import math
from datetime import date, timedelta
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import PlanningError
from contracts.planning import Calendar, ForecastLine, Product, Recipe, RecipeLine
from workers.production.scheduler import ProductionPlan, batch_id, schedule_production

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e01")
OPEN_EVERY_DAY = Calendar()
Z_P90 = 1.2815515655446004


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def a_product(
    product_id: str = "baguette",
    *,
    stock: int = 0,
    shelf_life_days: int = 1,
    price: float = 1.2,
    cost: float = 0.4,
    salvage: float = 0.0,
) -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family="bread",
        unit_price=price,
        unit_cost=cost,
        shelf_life_days=shelf_life_days,
        finished_stock_units=stock,
        salvage_value=salvage,
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


def certain(product_id: str = "baguette", *units_by_day: float) -> list[ForecastLine]:
    """One line per consecutive day from MONDAY, p10 = p50 = p90 = units: sd 0, the target is the mean."""
    return [
        ForecastLine(product_id=product_id, day=day(offset), units=units, p10=units, p50=units, p90=units)
        for offset, units in enumerate(units_by_day)
    ]


def a_line(
    product_id: str = "baguette",
    offset: int = 0,
    *,
    units: float,
    spread: float | None = None,
    model: str = "ets",
) -> ForecastLine:
    """A line whose p10 and p90 lie `spread` either side of `units` (None: no quantiles)."""
    if spread is None:
        return ForecastLine(product_id=product_id, day=day(offset), units=units, model=model)
    return ForecastLine(
        product_id=product_id,
        day=day(offset),
        units=units,
        p10=units - spread,
        p50=units,
        p90=units + spread,
        model=model,
    )


def schedule(
    products: list[Product],
    recipes: list[Recipe],
    forecast: list[ForecastLine],
    calendar: Calendar = OPEN_EVERY_DAY,
    saga_id: UUID = SAGA,
) -> ProductionPlan:
    return schedule_production(saga_id, products, recipes, forecast, calendar, business_date=MONDAY)


def test_the_target_is_the_newsvendor_quantity_rounded_up_to_whole_pieces_and_batches() -> None:
    # sd 40 / 2.563 = 15.61; ratio 2/3, z 0.4307: 100 + 6.72 = 106.72 → 107 pieces → 9 × 12
    plan = schedule([a_product()], [a_recipe()], [a_line(units=100, spread=20)])

    (batch,) = plan.batches
    assert (batch.batches, batch.units, batch.oven_minutes) == (9, 108, 270)
    assert batch.reasoning is not None
    facts = batch.reasoning.facts
    assert facts["forecast_sd"] == round(40 / (2 * Z_P90), 3)
    assert facts["critical_ratio"] == 0.6667
    assert facts["newsvendor_units"] == round(100 + 0.4307272992954576 * 40 / (2 * Z_P90), 3)
    assert (facts["target_units"], facts["net_units"], facts["batches_wanted"], facts["batches"]) == (107, 107, 9, 9)
    assert "capacity_cut" not in facts


def test_without_quantiles_the_sd_is_the_square_root_of_the_mean() -> None:
    # sd 10, 100 + 4.307 = 104.3 → 105 pieces → 9 × 12
    plan = schedule([a_product()], [a_recipe()], [a_line(units=100)])

    assert plan.batches[0].reasoning is not None
    assert plan.batches[0].reasoning.facts["sd_source"] == "poisson"
    assert plan.batches[0].reasoning.facts["target_units"] == 105


def test_a_higher_salvage_value_bakes_more() -> None:
    forecast = [a_line(units=100, spread=40)]

    plain = schedule([a_product()], [a_recipe(yield_units=1)], forecast)
    salvaged = schedule([a_product(salvage=0.3)], [a_recipe(yield_units=1)], forecast)

    assert salvaged.batches[0].units > plain.batches[0].units


def test_a_thin_margin_bakes_below_the_mean() -> None:
    plan = schedule([a_product(price=1.0, cost=0.8)], [a_recipe(yield_units=1)], [a_line(units=100, spread=20)])

    assert plan.batches[0].units < 100


def test_net_demand_is_rounded_up_to_whole_batches() -> None:
    plan = schedule([a_product(stock=10, shelf_life_days=3)], [a_recipe()], certain("baguette", 37.5))

    (batch,) = plan.batches
    assert (batch.day, batch.batches, batch.units, batch.oven_minutes) == (MONDAY, 3, 36, 90)
    assert batch.reason == "newsvendor 38 (mean 37.5, CR 0.67) − stock 10 = 28 → 3 × 12"


def test_finished_stock_covers_the_earliest_days_first() -> None:
    plan = schedule([a_product(stock=30, shelf_life_days=5)], [a_recipe()], certain("baguette", 20, 20, 20))

    assert [(b.day, b.units) for b in plan.batches] == [
        (day(1), 12),  # 20 - 10 left = 10
        (day(2), 24),  # 20, stock used up
    ]
    assert plan.batches[0].reasoning is not None
    assert plan.batches[0].reasoning.facts["stock_used"] == 10


def test_finished_stock_past_its_shelf_life_is_not_sold() -> None:
    plan = schedule([a_product(stock=50, shelf_life_days=1)], [a_recipe()], certain("baguette", 10, 10))

    assert [(b.day, b.units) for b in plan.batches] == [(day(1), 12)]


def test_stock_fills_the_newsvendor_target_not_just_the_mean() -> None:
    # target 107 (see above); 100 pieces in stock still leave 7 to bake
    plan = schedule([a_product(stock=100)], [a_recipe(yield_units=1)], [a_line(units=100, spread=20)])

    assert [(b.units, b.reasoning.facts["stock_used"] if b.reasoning else None) for b in plan.batches] == [(7, 100)]


def test_the_surplus_of_a_batch_is_not_carried_to_the_next_day() -> None:
    plan = schedule([a_product(shelf_life_days=3)], [a_recipe()], certain("baguette", 1, 1))

    assert [(b.day, b.units) for b in plan.batches] == [(MONDAY, 12), (day(1), 12)]


def test_a_forecast_already_in_whole_units_is_not_rounded_up_further() -> None:
    plan = schedule([a_product()], [a_recipe()], certain("baguette", 24.0))

    assert plan.batches[0].batches == 2


def test_closed_days_get_no_batch_and_use_no_stock() -> None:
    calendar = Calendar(closed_dates=(day(1),))

    plan = schedule([a_product(stock=5, shelf_life_days=3)], [a_recipe()], certain("baguette", 0, 5, 5), calendar)

    assert [(b.day, b.units) for b in plan.batches] == []
    plan = schedule([a_product()], [a_recipe()], certain("baguette", 5, 5, 5), calendar)
    assert [b.day for b in plan.batches] == [MONDAY, day(2)]


def test_requirements_are_recipe_lines_times_batches_summed_per_ingredient_and_day() -> None:
    recipes = [
        a_recipe("baguette", yield_units=10, lines=(("flour", 2.5), ("salt", 0.1))),
        a_recipe("roll", yield_units=20, lines=(("flour", 1.2), ("salt", 0.1), ("yeast", 0.05))),
    ]
    forecast = certain("baguette", 25, 0, 5) + certain("roll", 20, 20)

    plan = schedule([a_product("baguette"), a_product("roll")], recipes, forecast)

    assert [(r.day, r.ingredient_id, r.quantity) for r in plan.requirements] == [
        (MONDAY, "flour", 8.7),  # 3 × 2.5 + 1 × 1.2
        (MONDAY, "salt", 0.4),  # 3 × 0.1 + 1 × 0.1, float noise rounded away
        (MONDAY, "yeast", 0.05),
        (day(1), "flour", 1.2),
        (day(1), "salt", 0.1),
        (day(1), "yeast", 0.05),
        (day(2), "flour", 1.25),  # a planned day: 5 expected pieces × 0.25 kg, not one whole batch
        (day(2), "salt", 0.05),
    ]
    assert [(b.day, b.product_id) for b in plan.batches] == [
        (MONDAY, "baguette"),
        (MONDAY, "roll"),
        (day(1), "roll"),
        (day(2), "baguette"),
    ]


def test_firm_days_need_the_scheduled_batches_and_later_days_the_expected_use() -> None:
    """Today and tomorrow bake the batches; later days are re-planned, so they need the mean's ingredients."""
    recipe = a_recipe("baguette", yield_units=10, lines=(("flour", 2.5),))
    uncertain = [
        ForecastLine(product_id="baguette", day=day(n), units=12.0, p10=8.0, p50=12.0, p90=16.0, model="ets-weekly")
        for n in (0, 1, 2, 3)
    ]

    plan = schedule([a_product("baguette")], [recipe], uncertain)

    assert [b.batches for b in plan.batches] == [2, 2, 2, 2]  # the newsvendor quantity, above 12, in batches
    assert [(r.day, r.quantity) for r in plan.requirements] == [
        (MONDAY, 5.0),  # 2 batches × 2.5 kg
        (day(1), 5.0),
        (day(2), 3.0),  # 12 expected pieces × 0.25 kg
        (day(3), 3.0),
    ]


def test_the_requirement_sd_combines_products_in_quadrature() -> None:
    recipes = [
        a_recipe("baguette", yield_units=10, lines=(("flour", 2.5),)),  # 0.25 kg a piece
        a_recipe("roll", yield_units=20, lines=(("flour", 1.2),)),  # 0.06 kg a piece
    ]
    forecast = [a_line("baguette", units=40, spread=10), a_line("roll", units=20, spread=5)]

    plan = schedule([a_product("baguette"), a_product("roll")], recipes, forecast)

    # sds 20 / 2.5631 = 7.80304 and 10 / 2.5631 = 3.90152; sqrt((0.25 × 7.80304)² + (0.06 × 3.90152)²)
    (flour,) = plan.requirements
    assert flour.quantity_sd == 1.965


@pytest.mark.parametrize(
    "roll_line",
    [a_line("roll", units=20), a_line("roll", units=20, spread=5, model="cold-start:family-mean")],
)
def test_the_requirement_sd_is_unknown_when_any_contributing_line_is_a_guess(roll_line: ForecastLine) -> None:
    recipes = [a_recipe("baguette", lines=(("flour", 2.5),)), a_recipe("roll", lines=(("flour", 1.2), ("seeds", 1)))]

    plan = schedule([a_product("baguette"), a_product("roll")], recipes, [a_line(units=40, spread=10), roll_line])

    assert [(r.ingredient_id, r.quantity_sd) for r in plan.requirements] == [("flour", None), ("seeds", None)]


def test_a_product_with_demand_but_no_recipe_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match=r"'croissant'.*add a recipe"):
        schedule([a_product("croissant")], [], certain("croissant", 3))


def test_a_product_with_zero_forecast_needs_no_recipe() -> None:
    plan = schedule([a_product("croissant")], [], certain("croissant", 0, 0))

    assert plan == ProductionPlan(batches=(), requirements=())


def test_a_forecast_for_an_unknown_product_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="unknown product 'ghost'"):
        schedule([a_product()], [a_recipe()], certain("ghost", 3))


def test_two_forecast_lines_for_one_product_and_day_are_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="two forecast lines"):
        schedule([a_product()], [a_recipe()], certain("baguette", 3) + certain("baguette", 4))


def test_two_recipes_for_one_product_are_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="'baguette' has two recipes"):
        schedule([a_product()], [a_recipe(), a_recipe()], certain("baguette", 3))


def test_a_product_that_costs_its_price_is_a_planning_error_naming_the_fix() -> None:
    with pytest.raises(PlanningError, match=rf"saga {SAGA}: product 'baguette'.*fix unit_cost or unit_price"):
        schedule([a_product(price=1.0, cost=1.0)], [a_recipe()], certain("baguette", 3))


def test_quantiles_in_the_wrong_order_are_a_planning_error() -> None:
    line = ForecastLine(product_id="baguette", day=MONDAY, units=10, p10=12, p90=8)

    with pytest.raises(PlanningError, match=r"'baguette' for 2024-05-13: p90 8.0 is below p10 12.0"):
        schedule([a_product()], [a_recipe()], [line])


def test_batch_ids_are_deterministic_per_saga_product_and_day() -> None:
    inputs = ([a_product(), a_product("roll")], [a_recipe(), a_recipe("roll")])
    forecast = [a_line(units=5, spread=2), a_line(offset=1, units=7), a_line("roll", units=9, spread=3)]

    first = schedule(*inputs, forecast)
    again = schedule(*inputs, list(reversed(forecast)))
    other_saga = schedule(*inputs, forecast, saga_id=uuid5(SAGA, "other"))

    assert first == again
    assert repr(first) == repr(again)
    assert first.batches[0].batch_id == str(uuid5(SAGA, "batch:baguette:2024-05-13"))
    assert {b.batch_id for b in first.batches}.isdisjoint(b.batch_id for b in other_saga.batches)


@given(saga_id=st.uuids(), product_id=st.text(min_size=1, max_size=40), day_=st.dates())
def test_batch_id_is_exactly_uuid5_of_the_saga_product_and_day(saga_id: UUID, product_id: str, day_: date) -> None:
    assert batch_id(saga_id, product_id, day_) == str(uuid5(saga_id, f"batch:{product_id}:{day_.isoformat()}"))


@given(
    forecast_units=st.lists(st.integers(0, 10_000).map(lambda hundredths: hundredths / 100), min_size=1, max_size=14),
    stock=st.integers(0, 300),
    yield_units=st.integers(1, 50),
)
def test_with_certain_demand_each_batch_covers_its_net_demand_with_less_than_one_batch_to_spare(
    forecast_units: list[float], stock: int, yield_units: int
) -> None:
    product = a_product(stock=stock, shelf_life_days=len(forecast_units))
    plan = schedule([product], [a_recipe(yield_units=yield_units)], certain("baguette", *forecast_units))

    units_by_day = {batch.day: batch.units for batch in plan.batches}
    demand_before = 0
    for offset, units in enumerate(forecast_units):
        demand = math.ceil(units)
        stock_left = max(0, stock - demand_before)
        net = max(0, demand - stock_left)
        produced = units_by_day.get(day(offset), 0)
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
    forecast = certain("baguette", *(10 * batches for batches in batches_by_day))

    plan = schedule([a_product()], [recipe], forecast)

    assert sum(r.quantity for r in plan.requirements) == pytest.approx(
        sum(batches_by_day) * flour_per_batch, abs=0.0005 * len(batches_by_day)
    )
    assert [r.day for r in plan.requirements] == [b.day for b in plan.batches]
    assert all(r.quantity_sd == 0.0 for r in plan.requirements)  # certain demand: no uncertainty
