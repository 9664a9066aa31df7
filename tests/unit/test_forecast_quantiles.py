"""Quantile rules: empirical ratio factors and count distributions."""

import math

import numpy as np
import pytest

from workers.forecasting.quantiles import FALLBACK_FACTORS, count_dispersion, count_quantiles, ratio_factors

pytestmark = pytest.mark.unit


def test_poisson_quantiles_by_hand() -> None:
    # Poisson(1): P(0) = 0.368, P(≤1) = 0.736, P(≤2) = 0.920.
    assert count_quantiles(1.0, 0.0) == (0.0, 1.0, 2.0)


def test_negative_binomial_is_wider_than_poisson_with_the_same_mean() -> None:
    poisson = count_quantiles(5.0, 0.0)
    overdispersed = count_quantiles(5.0, 0.5)

    assert overdispersed[0] <= poisson[0]
    assert overdispersed[2] > poisson[2]


def test_a_huge_mean_falls_back_to_the_normal_approximation() -> None:
    low, middle, high = count_quantiles(2000.0, 0.0)

    assert middle == 2000.0
    assert high - middle == pytest.approx(1.2816 * math.sqrt(2000.0), rel=1e-3)
    assert low < middle < high


def test_zero_mean_gives_zero_quantiles() -> None:
    assert count_quantiles(0.0, 0.3) == (0.0, 0.0, 0.0)


def test_dispersion_is_zero_for_poisson_like_errors_and_positive_for_wild_ones() -> None:
    forecast = np.full((1, 4), 2.0)

    assert count_dispersion(np.array([[1.0, 3.0, 2.0, 2.0]]), forecast)[0] == 0.0
    assert count_dispersion(np.array([[0.0, 8.0, 0.0, 0.0]]), forecast)[0] > 0.5


def test_ratio_factors_are_the_empirical_quantiles_of_actual_over_forecast() -> None:
    actual = np.arange(1.0, 22.0)[None, :]  # ratios 0.1 … 2.1 against a forecast of 10
    factors = ratio_factors(actual, np.full_like(actual, 10.0))

    assert factors[0].tolist() == pytest.approx([0.3, 1.1, 1.9])


def test_too_few_pairs_borrow_the_pooled_factors_or_the_fallback() -> None:
    many = np.arange(1.0, 22.0)
    actual = np.vstack([many, np.r_[many[:3], np.full(18, np.nan)]])
    factors = ratio_factors(actual, np.full_like(actual, 10.0))

    assert factors[1].tolist() == factors[0].tolist()
    alone = ratio_factors(actual[1:], np.full((1, 21), 10.0))
    assert alone[0].tolist() == list(FALLBACK_FACTORS)
