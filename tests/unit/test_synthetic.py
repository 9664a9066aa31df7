"""Unit tests of the seeded synthetic tenant generator (sizes, determinism, consistency, realism)."""

import hashlib
import json
import math
from datetime import date, time, timedelta
from functools import cache
from statistics import mean

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from contracts.planning import PlanningSnapshot, Recipe
from lab.synthetic import (
    DOUGH_COMPONENT_ID,
    PROFILES,
    Profile,
    TenantData,
    busiest_weekday_oven_minutes,
    delay_sd_days,
    generate_tenant,
    product_with_recipe,
)

pytestmark = pytest.mark.unit

TODAY = date(2025, 3, 10)
ALL_PROFILES: tuple[Profile, ...] = ("small", "standard", "large")


@cache
def a_tenant(profile: Profile = "small", *, tenant_id: str = "bakery-1", seed: int = 1) -> TenantData:
    return generate_tenant(tenant_id, profile=profile, seed=seed, today=TODAY)


def all_models(tenant: TenantData) -> list[BaseModel]:
    return [
        *tenant.products,
        *tenant.recipes,
        *tenant.ingredients,
        *tenant.stock_lots,
        *tenant.suppliers,
        *tenant.sales,
        tenant.calendar,
    ]


def assert_consistent(tenant: TenantData) -> None:
    product_ids = [p.product_id for p in tenant.products]
    ingredient_ids = {i.ingredient_id for i in tenant.ingredients}
    offered = {item.ingredient_id for s in tenant.suppliers for item in s.items}
    used = {line.ingredient_id for r in tenant.recipes for line in r.lines}
    assert [r.product_id for r in tenant.recipes] == product_ids
    assert [s.product_id for s in tenant.sales] == product_ids
    assert used <= ingredient_ids
    assert used <= offered
    assert {lot.ingredient_id for lot in tenant.stock_lots} == used
    assert all(s.items for s in tenant.suppliers)


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_profile_sizes_are_exact(profile: Profile) -> None:
    tenant = a_tenant(profile)
    size = PROFILES[profile]

    assert len(tenant.products) == len(tenant.recipes) == len(tenant.sales) == size.products
    assert len(tenant.ingredients) == size.ingredients
    assert len(tenant.suppliers) == size.suppliers
    assert {len(s.daily_units) for s in tenant.sales} == {size.history_days}


def test_profile_table_matches_the_spec() -> None:
    assert {name: (s.products, s.ingredients, s.suppliers, s.history_days) for name, s in PROFILES.items()} == {
        "tiny": (1, 3, 1, 28),
        "small": (8, 30, 4, 182),
        "standard": (40, 150, 12, 365),
        "large": (300, 1000, 20, 730),
    }


def test_same_inputs_give_identical_tenants() -> None:
    first = generate_tenant("bakery-1", profile="standard", seed=42, today=TODAY)
    second = generate_tenant("bakery-1", profile="standard", seed=42, today=TODAY)

    assert first == second


@pytest.mark.parametrize(("tenant_id", "seed"), [("bakery-2", 42), ("bakery-1", 43)])
def test_another_tenant_or_seed_gives_another_tenant(tenant_id: str, seed: int) -> None:
    base = generate_tenant("bakery-1", profile="small", seed=42, today=TODAY)
    other = generate_tenant(tenant_id, profile="small", seed=seed, today=TODAY)

    assert other.sales != base.sales
    assert other.recipes != base.recipes


def test_unknown_profile_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'huge'.*large"):
        generate_tenant("bakery-1", profile="huge", seed=1, today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_every_recipe_ingredient_has_a_supplier_and_stock(profile: Profile) -> None:
    assert_consistent(a_tenant(profile))


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_all_models_validate_and_form_a_snapshot(profile: Profile) -> None:
    tenant = a_tenant(profile)

    for model in all_models(tenant):
        assert type(model).model_validate_json(model.model_dump_json()) == model
    snapshot = tenant.planning_snapshot(business_date=TODAY, horizon_days=14)
    assert PlanningSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    assert (snapshot.components, snapshot.capacity) == (tenant.components, tenant.capacity)


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_sales_end_yesterday_and_are_none_exactly_on_closed_days(profile: Profile) -> None:
    tenant = a_tenant(profile)
    days = PROFILES[profile].history_days

    for history in tenant.sales:
        assert history.start_date == TODAY - timedelta(days=days)
        assert history.start_date + timedelta(days=len(history.daily_units) - 1) == TODAY - timedelta(days=1)
        for offset, units in enumerate(history.daily_units):
            day = history.start_date + timedelta(days=offset)
            assert (units is None) == (not tenant.calendar.is_open(day)), (history.product_id, day)
            assert units is None or units >= 0


def test_christmas_and_new_year_are_closed_in_every_year_of_history_and_horizon() -> None:
    closed = set(a_tenant("large").calendar.closed_dates)

    for year in (2023, 2024, 2025):
        assert {date(year, 12, 25), date(year, 12, 26), date(year, 1, 1)} <= closed
    assert date(2026, 1, 1) in closed


def test_some_seeds_give_sunday_closed_tenants_and_some_open_every_day() -> None:
    weekdays = {a_tenant(seed=seed).calendar.closed_weekdays for seed in range(20)}

    assert weekdays == {(), (6,)}


def test_saturday_sells_more_than_tuesday() -> None:
    tenant = a_tenant("standard")
    start = tenant.sales[0].start_date

    def mean_on(weekday: int) -> float:
        return mean(
            sum(s.daily_units[n] or 0 for s in tenant.sales)
            for n in range(len(tenant.sales[0].daily_units))
            if (start + timedelta(days=n)).weekday() == weekday and tenant.calendar.is_open(start + timedelta(days=n))
        )

    assert mean_on(5) > 1.3 * mean_on(1)


def test_seasonal_products_barely_sell_out_of_season() -> None:
    tenant = a_tenant("large")
    seasonal = [(p, s) for p, s in zip(tenant.products, tenant.sales, strict=True) if p.name.startswith("Stollen")]
    summer = (date(2024, 6, 1) - tenant.sales[0].start_date).days

    assert seasonal
    for _, history in seasonal:
        assert sum(units or 0 for units in history.daily_units[summer : summer + 60]) <= 2


@given(seed=st.integers(min_value=0, max_value=2**32), tenant_id=st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True))
@settings(max_examples=25, deadline=None)
def test_small_tenants_are_realistic_for_any_seed(seed: int, tenant_id: str) -> None:
    tenant = generate_tenant(tenant_id, profile="small", seed=seed, today=TODAY)

    assert_consistent(tenant)
    assert [p.product_id for p in tenant.products] == [f"P{n:04d}" for n in range(1, 9)]
    assert [i.category for i in tenant.ingredients[:7]] == ["flour", "dairy", "yeast", "salt", "fats", "sugar", "eggs"]
    for product in tenant.products:
        assert 0.5 <= product.unit_price <= 30
        assert 0.3 * product.unit_price - 0.01 <= product.unit_cost <= 0.5 * product.unit_price + 0.01
        assert 1 <= product.shelf_life_days <= 5
        assert 0 <= product.finished_stock_units <= 10
    for recipe in tenant.recipes:
        assert 6 <= recipe.batch_yield_units <= 60
        assert 10 <= recipe.oven_minutes_per_batch <= 60
        assert 3 <= len(recipe.lines) <= 10
        assert len({line.ingredient_id for line in recipe.lines}) == len(recipe.lines)
    for supplier in tenant.suppliers:
        for item in supplier.items:
            assert 1 <= item.lead_time_days <= 7
            assert item.moq % item.pack_size == 0
    shelf_life = {i.ingredient_id: i.shelf_life_days for i in tenant.ingredients}
    for lot in tenant.stock_lots:
        life = shelf_life[lot.ingredient_id]
        if life is None:
            assert lot.expires_on is None
        else:
            assert lot.expires_on is not None
            assert TODAY - timedelta(days=2) <= lot.expires_on <= TODAY + timedelta(days=life)


# --- Attributes added for the simulation: drawn from their own stream, so the older ones stay put. ---

OLDER_ATTRIBUTES_SMALL_SEED_1 = "88345f652fea89f2a2b173ef208a4007351ff3766fc435dd861a73ed918bcc80"


def older_attributes_digest(tenant: TenantData) -> str:
    """Sales, recipe lines, product prices and lots: what the generator made before the terms were added."""
    older = [
        [s.daily_units for s in tenant.sales],
        [[(line.ingredient_id, line.quantity_per_batch) for line in r.lines] for r in tenant.recipes],
        [(p.name, p.unit_price, p.unit_cost) for p in tenant.products],
        [(lot.quantity, str(lot.expires_on)) for lot in tenant.stock_lots],
    ]
    return hashlib.sha256(json.dumps(older).encode()).hexdigest()


def test_older_attributes_are_unchanged_for_an_existing_seed() -> None:
    assert older_attributes_digest(a_tenant()) == OLDER_ATTRIBUTES_SMALL_SEED_1


@given(seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=15, deadline=None)
def test_supplier_terms_are_valid_for_any_seed(seed: int) -> None:
    tenant = generate_tenant("bakery-1", profile="small", seed=seed, today=TODAY)

    for supplier in tenant.suppliers:
        weekdays = supplier.delivery_weekdays
        assert weekdays == (0, 1, 2, 3, 4, 5) or (2 <= len(weekdays) <= 3 and set(weekdays) <= {0, 1, 2, 3, 4})
        assert supplier.order_cutoff is not None
        assert time(10) <= supplier.order_cutoff <= time(18)
        assert supplier.min_order_value in (0, 50, 100, 150, 250)
        assert 15 <= supplier.order_cost <= 40
        assert 0.85 <= supplier.on_time_rate <= 0.99
        assert 0.7 <= supplier.quality_score <= 1
        for item in supplier.items:
            assert 0 <= item.lead_time_sd_days <= 1
            assert item.max_quantity is None or item.max_quantity >= max(item.moq, 50 * item.pack_size)
            prices = [item.unit_price] + [tier.unit_price for tier in item.price_tiers]
            assert prices == sorted(prices, reverse=True)
            assert [t.min_quantity for t in item.price_tiers] == sorted(t.min_quantity for t in item.price_tiers)


def test_reliable_suppliers_have_a_small_lead_time_spread() -> None:
    assert delay_sd_days(1.0) == 0
    assert delay_sd_days(0.9) == pytest.approx(math.sqrt(0.1 * 14 / 3 - 0.2**2))
    assert delay_sd_days(0.85) > delay_sd_days(0.95)


def test_some_items_have_price_tiers_and_some_a_maximum() -> None:
    items = [item for supplier in a_tenant("standard").suppliers for item in supplier.items]

    assert 0.15 < sum(bool(item.price_tiers) for item in items) / len(items) < 0.45
    assert 0.08 < sum(item.max_quantity is not None for item in items) / len(items) < 0.35


def test_salvage_is_a_small_share_of_the_price_and_highest_for_bread() -> None:
    for product in a_tenant("standard").products:
        share = product.salvage_value / product.unit_price
        if product.family in ("bread", "rolls"):
            assert 0.09 <= share <= 0.21, product
        else:
            assert share <= 0.11, product
        assert product.salvage_value <= product.unit_cost


def test_open_holidays_are_open_days_in_every_year() -> None:
    calendar = a_tenant().calendar

    assert calendar.holidays
    assert all(calendar.is_open(day) for day in calendar.holidays)
    assert len({(day.month, day.day) for day in calendar.holidays}) == 3
    assert {day.year for day in calendar.holidays} == {2024, 2025, 2026}


def test_capacity_is_1_3_times_the_busiest_weekday() -> None:
    tenant = a_tenant("standard")

    busiest = busiest_weekday_oven_minutes(tenant.recipes, tenant.sales)
    assert tenant.capacity.oven_minutes_per_day == round(1.3 * busiest)
    # Saturdays sell about 1.45 times the mean day: the busiest weekday is well above the mean.
    by_product = {recipe.product_id: recipe for recipe in tenant.recipes}
    mean_day = sum(
        sum(known)
        / len(known)
        / by_product[history.product_id].batch_yield_units
        * by_product[history.product_id].oven_minutes_per_batch
        for history in tenant.sales
        if (known := [units for units in history.daily_units if units is not None])
    )
    assert busiest > 1.2 * mean_day


def test_components_move_part_of_the_bread_dough_and_nothing_else() -> None:
    plain = a_tenant("standard")
    with_dough = generate_tenant("bakery-1", profile="standard", seed=1, today=TODAY, components=True)

    assert (with_dough.products, with_dough.sales, with_dough.stock_lots) == (
        plain.products,
        plain.sales,
        plain.stock_lots,
    )
    assert plain.components == ()
    (dough,) = with_dough.components
    assert (dough.component_id, dough.made_days_ahead) == (DOUGH_COMPONENT_ID, 1)
    flour = dough.lines[0].ingredient_id
    families = {p.product_id: p.family for p in plain.products}
    changed = 0
    for before, after in zip(plain.recipes, with_dough.recipes, strict=True):
        if not after.components:
            assert after == before
            continue
        changed += 1
        assert families[after.product_id] == "bread"
        dough_kg = after.components[0].quantity_per_batch

        def flour_in(recipe: Recipe) -> float:
            return sum(line.quantity_per_batch for line in recipe.lines if line.ingredient_id == flour)

        assert flour_in(after) + dough_kg * 0.6 == pytest.approx(flour_in(before), abs=0.002)
    assert changed >= 3


def test_history_days_overrides_the_profile_length() -> None:
    tenant = generate_tenant("bakery-1", profile="small", seed=1, today=TODAY, history_days=400)

    assert {len(s.daily_units) for s in tenant.sales} == {400}
    assert tenant.sales[0].start_date == TODAY - timedelta(days=400)
    with pytest.raises(ValueError, match="history_days must be at least 1"):
        generate_tenant("bakery-1", profile="small", seed=1, today=TODAY, history_days=0)


def test_a_product_for_outside_demand_gets_a_recipe_of_its_family() -> None:
    ingredients = a_tenant().ingredients

    product, recipe = product_with_recipe("rolls", "Rolls", "rolls", ingredients, seed=4)

    assert (product.product_id, product.name, product.family) == ("rolls", "Rolls", "rolls")
    assert recipe.product_id == "rolls"
    assert {line.ingredient_id for line in recipe.lines} <= {i.ingredient_id for i in ingredients}
    assert product_with_recipe("rolls", "Rolls", "rolls", ingredients, seed=4) == (product, recipe)
    with pytest.raises(ValueError, match="unknown product family 'pies'"):
        product_with_recipe("x", "x", "pies", ingredients, seed=4)
