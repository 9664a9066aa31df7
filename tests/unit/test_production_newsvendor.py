"""Unit tests of the newsvendor rule (critical ratio, normal quantile, sd of a forecast line)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.production.newsvendor import critical_ratio, demand_sd, newsvendor_quantity

pytestmark = pytest.mark.unit


def test_the_known_answer_for_mean_100_sd_20_price_1_2_cost_0_4() -> None:
    # ratio 0.8 / 1.2 = 2/3, z(2/3) ≈ 0.43073, 100 + 20 × 0.43073 ≈ 108.61
    assert round(newsvendor_quantity(100, 20, price=1.2, cost=0.4), 2) == 108.61


def test_a_salvage_value_raises_the_quantity() -> None:
    without = newsvendor_quantity(100, 20, price=1.2, cost=0.4)
    with_salvage = newsvendor_quantity(100, 20, price=1.2, cost=0.4, salvage=0.2)

    assert critical_ratio(price=1.2, cost=0.4, salvage=0.2) == pytest.approx(0.8)
    assert with_salvage > without
    assert with_salvage == pytest.approx(100 + 20 * 0.8416212335729143)


def test_a_critical_ratio_below_one_half_stocks_below_the_mean() -> None:
    # margin 0.3 against a loss of 0.7 per unsold piece: ratio 0.3, z ≈ -0.5244
    assert newsvendor_quantity(100, 20, price=1.0, cost=0.7) == pytest.approx(100 - 20 * 0.5244005127080407)


def test_certain_demand_is_stocked_exactly() -> None:
    assert newsvendor_quantity(42.5, 0, price=1.2, cost=0.4) == 42.5


def test_the_quantity_is_clamped_at_zero() -> None:
    assert newsvendor_quantity(1, 10, price=1.0, cost=0.9) == 0.0


@pytest.mark.parametrize(
    ("price", "cost", "salvage", "fix"),
    [
        (1.0, 0.4, 1.0, "lower salvage_value or raise unit_price"),
        (1.0, 0.4, 1.5, "lower salvage_value or raise unit_price"),
        (1.0, 1.2, 0.0, "fix unit_cost or unit_price"),
        (1.0, 1.0, 0.0, "fix unit_cost or unit_price"),
        (1.0, 0.2, 0.2, "lower salvage_value below unit_cost"),
        (1.0, 0.0, 0.0, "lower salvage_value below unit_cost"),
        (1.0, -0.1, 0.0, "must not be negative"),
    ],
)
def test_economics_without_a_ratio_strictly_between_0_and_1_are_rejected(
    price: float, cost: float, salvage: float, fix: str
) -> None:
    with pytest.raises(ValueError, match=fix):
        newsvendor_quantity(100, 20, price=price, cost=cost, salvage=salvage)


def test_a_negative_mean_or_sd_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be numbers ≥ 0"):
        newsvendor_quantity(100, -1, price=1.2, cost=0.4)


def test_the_sd_of_a_line_comes_from_its_80_percent_interval() -> None:
    sd, from_quantiles = demand_sd(100, 80, 120)

    assert from_quantiles
    assert sd == pytest.approx(40 / (2 * 1.2815515655446004))


def test_without_quantiles_the_sd_is_poisson_like() -> None:
    assert demand_sd(49, None, 60) == (7.0, False)
    assert demand_sd(49, 40, None) == (7.0, False)


def test_quantiles_in_the_wrong_order_are_rejected() -> None:
    with pytest.raises(ValueError, match="p90 10 is below p10 20"):
        demand_sd(15, 20, 10)


@given(
    mean=st.floats(0, 1000),
    sd=st.floats(0, 200),
    price=st.floats(0.5, 20),
    cost_share=st.floats(0.05, 0.95),
    salvage_share=st.floats(0, 0.9),
)
def test_more_salvage_or_more_sd_at_a_high_ratio_never_lowers_the_quantity(
    mean: float, sd: float, price: float, cost_share: float, salvage_share: float
) -> None:
    cost = price * cost_share
    salvage = cost * salvage_share
    quantity = newsvendor_quantity(mean, sd, price=price, cost=cost, salvage=salvage)

    assert quantity >= 0
    assert newsvendor_quantity(mean, sd, price=price, cost=cost, salvage=(salvage + cost) / 2) >= quantity - 1e-9
    if critical_ratio(price=price, cost=cost, salvage=salvage) >= 0.5:
        assert quantity >= mean - 1e-9
        assert newsvendor_quantity(mean, sd + 1, price=price, cost=cost, salvage=salvage) >= quantity - 1e-9
    else:
        assert quantity <= mean + 1e-9 or math.isclose(quantity, mean)
