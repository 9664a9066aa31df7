"""Unit tests of the capacity cut: its documented priority, its visibility, and that it never overbooks."""

import math
from datetime import date, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.planning import Calendar, Capacity, Component, ComponentLine, ForecastLine, Product, Recipe, RecipeLine
from workers.production.capacity import CapacityCut
from workers.production.scheduler import ProductionPlan, schedule_production

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e04")


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def a_product(product_id: str, *, price: float = 1.2, cost: float = 0.4) -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family="bread",
        unit_price=price,
        unit_cost=cost,
        shelf_life_days=1,
        finished_stock_units=0,
    )


def a_recipe(
    product_id: str,
    *,
    yield_units: int = 10,
    oven_minutes: int = 10,
    mixer_minutes: int = 0,
    dough_per_batch: float | None = None,
) -> Recipe:
    return Recipe(
        product_id=product_id,
        batch_yield_units=yield_units,
        oven_minutes_per_batch=oven_minutes,
        mixer_minutes_per_batch=mixer_minutes,
        lines=(RecipeLine(ingredient_id="salt", quantity_per_batch=0.1),),
        components=()
        if dough_per_batch is None
        else (ComponentLine(component_id="dough", quantity_per_batch=dough_per_batch),),
    )


def a_dough(*, batch_yield: float = 20.0, days_ahead: int = 1, mixer_minutes: int = 30) -> Component:
    return Component(
        component_id="dough",
        name="Dough",
        unit="kg",
        batch_yield=batch_yield,
        made_days_ahead=days_ahead,
        mixer_minutes_per_batch=mixer_minutes,
        lines=(RecipeLine(ingredient_id="flour", quantity_per_batch=12.0),),
    )


def uncertain(product_id: str, offset: int = 0) -> ForecastLine:
    """Mean and median 100, sd 15.6: at ratio 2/3 the target is 107 → 10 base batches of 10 + 1 extra."""
    return ForecastLine(product_id=product_id, day=day(offset), units=100, p10=80, p50=100, p90=120)


def certain(product_id: str, offset: int, units: float) -> ForecastLine:
    return ForecastLine(product_id=product_id, day=day(offset), units=units, p10=units, p50=units, p90=units)


RICH = a_product("rich", price=3.0, cost=1.0)  # 2 × 10 pieces / 10 min = 2.0 a minute, ratio 2/3
LEAN = a_product("lean")  # 0.8 × 10 / 10 = 0.8 a minute, ratio 2/3


def schedule(
    products: list[Product],
    recipes: list[Recipe],
    forecast: list[ForecastLine],
    capacity: Capacity,
    components: list[Component] | None = None,
) -> ProductionPlan:
    return schedule_production(
        SAGA,
        products,
        recipes,
        forecast,
        Calendar(),
        business_date=MONDAY,
        components=components or (),
        capacity=capacity,
    )


def granted(plan: ProductionPlan) -> dict[str, int]:
    return {batch.product_id: batch.batches for batch in plan.batches}


def rich_and_lean(oven_minutes_per_day: int) -> ProductionPlan:
    return schedule(
        [RICH, LEAN],
        [a_recipe("rich"), a_recipe("lean")],
        [uncertain("rich"), uncertain("lean")],
        Capacity(oven_minutes_per_day=oven_minutes_per_day),
    )


def test_without_a_binding_capacity_every_wanted_batch_is_baked() -> None:
    assert granted(rich_and_lean(220)) == {"rich": 11, "lean": 11}
    assert rich_and_lean(220).capacity_cuts == ()


def test_every_product_s_median_batches_come_before_any_newsvendor_extra() -> None:
    # margin first alone would give rich 11 and lean 9
    plan = rich_and_lean(200)

    assert granted(plan) == {"rich": 10, "lean": 10}


def test_the_extra_goes_to_the_best_margin_per_oven_minute_first() -> None:
    plan = rich_and_lean(210)

    assert granted(plan) == {"rich": 11, "lean": 10}
    assert plan.capacity_cuts == (
        CapacityCut(product_id="lean", day=MONDAY, batches_wanted=11, batches_granted=10, binding="oven"),
    )


def test_when_even_the_medians_do_not_fit_the_best_margin_is_secured_first() -> None:
    assert granted(rich_and_lean(150)) == {"rich": 10, "lean": 5}


def test_the_cut_is_visible_in_the_batch_reasoning() -> None:
    lean = next(b for b in rich_and_lean(210).batches if b.product_id == "lean")

    assert lean.reasoning is not None
    facts = lean.reasoning.facts
    assert (facts["batches_wanted"], facts["batches_base"], facts["batches"]) == (11, 10, 10)
    assert (facts["capacity_cut"], facts["capacity_binding"]) == (1, "oven")
    assert lean.reason.endswith(", oven cut 1 of 11")


def test_a_product_day_cut_to_nothing_has_no_batch_but_is_listed_in_the_cuts() -> None:
    plan = rich_and_lean(100)

    assert granted(plan) == {"rich": 10}
    assert [(c.product_id, c.batches_wanted, c.batches_granted) for c in plan.capacity_cuts] == [
        ("lean", 11, 0),
        ("rich", 11, 10),
    ]


def test_a_recipe_that_needs_no_oven_comes_first() -> None:
    plan = schedule(
        [RICH, LEAN],
        [a_recipe("rich", mixer_minutes=10), a_recipe("lean", oven_minutes=0, mixer_minutes=10)],
        [certain("rich", 0, 50), certain("lean", 0, 50)],
        Capacity(mixer_minutes_per_day=70),
    )

    assert granted(plan) == {"lean": 5, "rich": 2}
    assert {c.product_id: c.binding for c in plan.capacity_cuts} == {"rich": "mixer"}


def test_the_mixer_time_of_a_dough_binds_on_the_day_it_is_made() -> None:
    # Tuesday: 6 batches × 10 kg = 60 kg dough = 3 dough batches × 30 min on Monday; only 2 fit
    plan = schedule(
        [LEAN],
        [a_recipe("lean", dough_per_batch=10.0)],
        [certain("lean", 1, 60)],
        Capacity(mixer_minutes_per_day=60),
        [a_dough()],
    )

    assert [(b.day, b.batches) for b in plan.batches] == [(day(1), 4)]
    assert [(c.day, c.batches, c.mixer_minutes) for c in plan.component_batches] == [(MONDAY, 2, 60)]
    assert plan.capacity_cuts[0].binding == "mixer"
    assert (plan.requirements[0].day, plan.requirements[0].ingredient_id, plan.requirements[0].quantity) == (
        MONDAY,
        "flour",
        24.0,
    )


def test_dough_made_before_the_business_date_uses_no_mixer_time() -> None:
    plan = schedule(
        [LEAN],
        [a_recipe("lean", dough_per_batch=10.0)],
        [certain("lean", 0, 60)],
        Capacity(mixer_minutes_per_day=0),
        [a_dough()],
    )

    assert [(b.day, b.batches) for b in plan.batches] == [(MONDAY, 6)]


@st.composite
def bakehouses(draw: st.DrawFn) -> tuple[list[Product], list[Recipe], list[ForecastLine], Capacity, list[Component]]:
    dough = a_dough(
        batch_yield=draw(st.integers(5, 30)),
        days_ahead=draw(st.integers(0, 2)),
        mixer_minutes=draw(st.integers(0, 40)),
    )
    products, recipes, forecast = [], [], []
    for index in range(draw(st.integers(1, 4))):
        product_id = f"p{index}"
        price = draw(st.integers(50, 500)) / 100
        products.append(a_product(product_id, price=price, cost=round(price * draw(st.floats(0.1, 0.9)), 2)))
        recipes.append(
            a_recipe(
                product_id,
                yield_units=draw(st.integers(1, 20)),
                oven_minutes=draw(st.integers(0, 60)),
                mixer_minutes=draw(st.integers(0, 30)),
                dough_per_batch=draw(st.none() | st.integers(1, 40).map(lambda tenths: tenths / 10)),
            )
        )
        for offset in range(draw(st.integers(1, 4))):
            units = draw(st.integers(0, 200))
            spread = draw(st.integers(0, 50))
            forecast.append(
                ForecastLine(
                    product_id=product_id,
                    day=day(offset),
                    units=units,
                    p10=max(0, units - spread),
                    p50=units,
                    p90=units + spread,
                )
            )
    capacity = Capacity(
        oven_minutes_per_day=draw(st.none() | st.integers(0, 600)),
        mixer_minutes_per_day=draw(st.none() | st.integers(0, 300)),
    )
    return products, recipes, forecast, capacity, [dough]


@settings(max_examples=100, deadline=None)
@given(bakehouse=bakehouses())
def test_the_plan_never_exceeds_capacity_and_never_bakes_more_than_wanted(
    bakehouse: tuple[list[Product], list[Recipe], list[ForecastLine], Capacity, list[Component]],
) -> None:
    products, recipes, forecast, capacity, components = bakehouse
    recipe_of = {recipe.product_id: recipe for recipe in recipes}

    plan = schedule(products, recipes, forecast, capacity, components)
    unlimited = schedule(products, recipes, forecast, Capacity(), components)

    oven: dict[date, int] = {}
    mixer: dict[date, int] = {}
    for batch in plan.batches:
        oven[batch.day] = oven.get(batch.day, 0) + batch.oven_minutes
        mixer[batch.day] = mixer.get(batch.day, 0) + batch.batches * recipe_of[batch.product_id].mixer_minutes_per_batch
    for made in plan.component_batches:
        mixer[made.day] = mixer.get(made.day, 0) + made.mixer_minutes
    if capacity.oven_minutes_per_day is not None:
        assert all(minutes <= capacity.oven_minutes_per_day for minutes in oven.values())
    if capacity.mixer_minutes_per_day is not None:
        assert all(minutes <= capacity.mixer_minutes_per_day for minutes in mixer.values())

    wanted = {(b.product_id, b.day): b.batches for b in unlimited.batches}
    got = {(b.product_id, b.day): b.batches for b in plan.batches}
    assert all(count <= wanted[key] for key, count in got.items())
    assert {(c.product_id, c.day): (c.batches_wanted, c.batches_granted) for c in plan.capacity_cuts} == {
        key: (count, got.get(key, 0)) for key, count in wanted.items() if got.get(key, 0) < count
    }

    dough = components[0]
    need: dict[date, float] = {}
    for batch in plan.batches:
        line = next(iter(recipe_of[batch.product_id].components), None)
        make_day = batch.day - timedelta(days=dough.made_days_ahead)
        if line is not None and make_day >= MONDAY:
            need[make_day] = need.get(make_day, 0.0) + line.quantity_per_batch * batch.batches
    assert {c.day: c.batches for c in plan.component_batches} == {
        make_day: math.ceil(kg / dough.batch_yield - 1e-9) for make_day, kg in need.items()
    }
