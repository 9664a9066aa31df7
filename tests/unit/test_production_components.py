"""Unit tests of multi-level recipes: components made days ahead, their batches, ingredients and errors."""

import math
from datetime import date, timedelta
from uuid import UUID

import pytest

from contracts.errors import PlanningError
from contracts.planning import Calendar, Component, ComponentLine, ForecastLine, Product, Recipe, RecipeLine
from workers.production.explosion import ComponentBatch
from workers.production.scheduler import ProductionPlan, schedule_production

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e03")
Z_P90 = 1.2815515655446004


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def a_product(product_id: str = "baguette") -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family="bread",
        unit_price=1.2,
        unit_cost=0.4,
        shelf_life_days=1,
        finished_stock_units=0,
    )


def a_recipe(
    product_id: str = "baguette",
    *,
    yield_units: int = 10,
    lines: tuple[tuple[str, float], ...] = (("salt", 0.2),),
    components: tuple[tuple[str, float], ...] = (("dough", 5.0),),
) -> Recipe:
    return Recipe(
        product_id=product_id,
        batch_yield_units=yield_units,
        oven_minutes_per_batch=30,
        lines=tuple(RecipeLine(ingredient_id=i, quantity_per_batch=q) for i, q in lines),
        components=tuple(ComponentLine(component_id=c, quantity_per_batch=q) for c, q in components),
    )


def a_component(
    component_id: str = "dough",
    *,
    batch_yield: float = 20.0,
    days_ahead: int = 1,
    lines: tuple[tuple[str, float], ...] = (("flour", 12.0), ("water", 8.0)),
    components: tuple[tuple[str, float], ...] = (),
) -> Component:
    return Component(
        component_id=component_id,
        name=component_id.title(),
        unit="kg",
        batch_yield=batch_yield,
        made_days_ahead=days_ahead,
        lines=tuple(RecipeLine(ingredient_id=i, quantity_per_batch=q) for i, q in lines),
        components=tuple(ComponentLine(component_id=c, quantity_per_batch=q) for c, q in components),
    )


def certain(product_id: str, offset: int, units: float) -> ForecastLine:
    return ForecastLine(product_id=product_id, day=day(offset), units=units, p10=units, p50=units, p90=units)


def schedule(
    recipes: list[Recipe], components: list[Component], forecast: list[ForecastLine], products: list[str] | None = None
) -> ProductionPlan:
    return schedule_production(
        SAGA,
        [a_product(p) for p in products or ["baguette"]],
        recipes,
        forecast,
        Calendar(),
        business_date=MONDAY,
        components=components,
    )


def needs(plan: ProductionPlan) -> list[tuple[date, str, float]]:
    return [(r.day, r.ingredient_id, r.quantity) for r in plan.requirements]


def test_a_dough_made_one_day_ahead_puts_its_flour_on_the_day_before_the_bake() -> None:
    # Tuesday: 3 batches × 5 kg dough = 15 kg → one 20 kg dough batch on Monday
    plan = schedule([a_recipe()], [a_component()], [certain("baguette", 1, 30)])

    assert needs(plan) == [(MONDAY, "flour", 12.0), (MONDAY, "water", 8.0), (day(1), "salt", 0.6)]
    assert plan.component_batches == (
        ComponentBatch(component_id="dough", day=MONDAY, batches=1, quantity=20.0, mixer_minutes=0),
    )


def test_a_nested_levain_is_made_further_back() -> None:
    dough = a_component(days_ahead=1, lines=(("flour", 12.0),), components=(("levain", 2.0),))
    levain = a_component("levain", batch_yield=3.0, days_ahead=2, lines=(("rye", 1.5), ("water", 1.5)))

    # Thursday bake → dough on Wednesday → levain on Monday
    plan = schedule([a_recipe()], [dough, levain], [certain("baguette", 3, 50)])

    # 5 batches × 5 kg = 25 kg dough → 2 dough batches → 4 kg levain → 2 levain batches. Monday is a
    # firm day (whole batches); Wednesday is planned: the expected use, 25 kg dough × 12 kg flour per
    # 20 kg dough batch = 15 kg, not two whole dough batches' 24 kg.
    assert needs(plan) == [
        (MONDAY, "rye", 3.0),
        (MONDAY, "water", 3.0),
        (day(2), "flour", 15.0),
        (day(3), "salt", 1.0),
    ]
    assert [(c.component_id, c.day, c.batches) for c in plan.component_batches] == [
        ("levain", MONDAY, 2),
        ("dough", day(2), 2),
    ]


def test_component_work_before_the_business_date_is_already_done_and_needs_nothing() -> None:
    dough = a_component(days_ahead=1, components=(("levain", 2.0),))
    levain = a_component("levain", batch_yield=3.0, days_ahead=1, lines=(("rye", 1.5),))

    # Monday bake: dough Sunday, levain Saturday (both done). Tuesday bake: dough Monday, levain Sunday (done).
    plan = schedule([a_recipe()], [dough, levain], [certain("baguette", 0, 10), certain("baguette", 1, 10)])

    assert needs(plan) == [
        (MONDAY, "flour", 12.0),
        (MONDAY, "salt", 0.2),
        (MONDAY, "water", 8.0),
        (day(1), "salt", 0.2),
    ]
    assert [(c.component_id, c.day) for c in plan.component_batches] == [("dough", MONDAY)]


def test_a_day_s_component_need_is_summed_over_products_before_rounding_to_whole_batches() -> None:
    recipes = [a_recipe("baguette", components=(("dough", 0.1),)), a_recipe("roll", components=(("dough", 0.1),))]
    dough = a_component(batch_yield=0.3, days_ahead=0, lines=(("flour", 0.2),))

    # 2 + 1 batches × 0.1 kg = 0.3 kg: exactly one batch, float noise notwithstanding
    plan = schedule(recipes, [dough], [certain("baguette", 0, 20), certain("roll", 0, 10)], ["baguette", "roll"])

    assert [(c.day, c.batches) for c in plan.component_batches] == [(MONDAY, 1)]
    assert (MONDAY, "flour", 0.2) in needs(plan)


def test_component_surplus_is_not_carried_to_the_next_day() -> None:
    plan = schedule([a_recipe()], [a_component(days_ahead=0)], [certain("baguette", 0, 10), certain("baguette", 1, 10)])

    assert [(c.day, c.batches) for c in plan.component_batches] == [(MONDAY, 1), (day(1), 1)]


def test_the_requirement_sd_follows_the_component_path_to_its_make_day() -> None:
    dough = a_component(days_ahead=1, lines=(("flour", 12.0),))
    line = ForecastLine(product_id="baguette", day=day(1), units=40, p10=30, p50=40, p90=50)

    plan = schedule([a_recipe(lines=(("flour", 1.0),))], [dough], [line])

    # per piece: 5 kg dough / 10 pieces × 12 kg flour / 20 kg dough = 0.3 kg flour, made Monday;
    # 1 kg / 10 pieces = 0.1 kg flour on Tuesday. sd 20 / (2 × 1.28155) = 7.80304 pieces.
    sd = 20 / (2 * Z_P90)
    assert [(r.day, r.quantity_sd) for r in plan.requirements] == [
        (MONDAY, round(0.3 * sd, 3)),
        (day(1), round(0.1 * sd, 3)),
    ]
    assert [r.quantity_sd for r in plan.requirements] == [2.341, 0.78]


def test_one_product_s_paths_to_the_same_day_add_before_squaring() -> None:
    # the same forecast line's flour reaches Monday directly and through a same-day dough: fully correlated
    dough = a_component(days_ahead=0, lines=(("flour", 12.0),))
    line = ForecastLine(product_id="baguette", day=MONDAY, units=40, p10=30, p50=40, p90=50)

    plan = schedule([a_recipe(lines=(("flour", 1.0),))], [dough], [line])

    assert plan.requirements[0].quantity_sd == round(0.4 * 20 / (2 * Z_P90), 3)


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([a_component(components=(("levain", 1.0),)), a_component("levain", components=(("dough", 1.0),))], "cycle"),
        ([a_component(components=(("dough", 1.0),))], r"cycle \(dough → dough\)"),
        ([a_component(components=(("ghost", 1.0),))], "component 'dough' uses unknown component 'ghost'"),
        ([a_component(), a_component()], "'dough' is defined twice"),
    ],
)
def test_bad_component_graphs_are_planning_errors(components: list[Component], message: str) -> None:
    with pytest.raises(PlanningError, match=message):
        schedule([a_recipe()], components, [certain("baguette", 1, 10)])


def test_a_recipe_naming_an_unknown_component_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="recipe of product 'baguette' uses unknown component 'dough'"):
        schedule([a_recipe()], [], [certain("baguette", 1, 10)])


def test_component_batches_are_whole_and_cover_the_day_s_need() -> None:
    recipes = [a_recipe("baguette", components=(("dough", 3.7),)), a_recipe("roll", components=(("dough", 1.3),))]
    forecast = [certain("baguette", offset, 10 * (offset + 1)) for offset in range(4)]
    forecast += [certain("roll", offset, 5 * (offset + 2)) for offset in range(4)]

    plan = schedule(recipes, [a_component(batch_yield=7.5, days_ahead=2)], forecast, ["baguette", "roll"])

    per_batch = {"baguette": 3.7, "roll": 1.3}
    need_by_make_day: dict[date, float] = {}
    for batch in plan.batches:
        make_day = batch.day - timedelta(days=2)
        if make_day >= MONDAY:
            need_by_make_day[make_day] = (
                need_by_make_day.get(make_day, 0.0) + per_batch[batch.product_id] * batch.batches
            )
    assert {c.day: c.batches for c in plan.component_batches} == {
        make_day: math.ceil(need / 7.5 - 1e-9) for make_day, need in need_by_make_day.items()
    }
