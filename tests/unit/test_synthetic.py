"""Unit tests of the seeded synthetic tenant generator (sizes, determinism, consistency, realism)."""

from datetime import date, timedelta
from functools import cache
from statistics import mean

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bakeplan.synthetic import PROFILES, Profile, TenantData, generate_tenant
from contracts.planning import PlanningSnapshot

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
    PlanningSnapshot(
        tenant_id=tenant.tenant_id,
        business_date=TODAY,
        horizon_days=14,
        products=tenant.products,
        recipes=tenant.recipes,
        ingredients=tenant.ingredients,
        stock_lots=tenant.stock_lots,
        suppliers=tenant.suppliers,
        sales=tenant.sales,
        calendar=tenant.calendar,
    )


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
