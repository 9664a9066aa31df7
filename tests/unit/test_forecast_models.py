"""Known answers of the regular-seller pieces: smoothing, seasonal naive, yearly ratio, selection."""

import numpy as np
import pytest

from workers.forecasting.seasonal import YEAR_DAYS, latest_same_weekday, seasonal_naive, yearly_ratio
from workers.forecasting.selection import Loss, choose_candidates
from workers.forecasting.smoothing import SmoothingGrid, fit_smoothing, forecast_from_states

pytestmark = pytest.mark.unit

NAN = float("nan")


def one_set(alpha: float, gamma: float, *, beta: float = 0.0, phi: float = 1.0) -> SmoothingGrid:
    return SmoothingGrid(
        alpha=np.array([alpha]),
        beta=np.array([beta]),
        gamma=np.array([gamma]),
        phi=np.array([phi]),
        damped=np.array([beta > 0]),
    )


def test_smoothing_by_hand_after_a_flat_month() -> None:
    # 28 days of 10 start the level at 10 with factors 1; day 29 sells 20:
    # level = 0.5·20/1 + 0.5·10 = 15; that weekday's factor = 0.1·20/15 + 0.9·1 = 1.0333.
    values = np.array([[10.0] * 28 + [20.0]])
    fit = fit_smoothing(values, first_weekday=0, grid=one_set(0.5, 0.1), origins=np.array([29]))

    assert fit.level[0, 0, 0] == pytest.approx(15.0)
    assert fit.season[0, 0, 0, 0] == pytest.approx(0.1 * 20 / 15 + 0.9)
    assert fit.one_step[28, 0, 0] == pytest.approx(10.0)


def test_a_missing_day_leaves_the_state_alone() -> None:
    flat = np.array([[10.0] * 28 + [20.0]])
    gap = np.array([[10.0] * 28 + [NAN, NAN, 20.0]])
    grid = one_set(0.5, 0.1)

    without = fit_smoothing(flat, first_weekday=0, grid=grid, origins=np.array([29]))
    with_gap = fit_smoothing(gap, first_weekday=0, grid=grid, origins=np.array([31]))

    assert with_gap.level[0, 0, 0] == pytest.approx(without.level[0, 0, 0])


def test_a_damped_trend_adds_a_shrinking_increment_per_step() -> None:
    level, trend = np.array([[100.0]]), np.array([[10.0]])
    season = np.ones((1, 1, 7))

    path = forecast_from_states(level, trend, season, np.array([0.5]), first_weekdays=np.array(0), steps=3)

    assert path[0, 0].tolist() == pytest.approx([105.0, 107.5, 108.75])


def test_seasonal_naive_takes_the_latest_same_weekday_before_the_origin() -> None:
    values = np.array([[float(day) for day in range(14)]])
    values[0, 9] = NAN

    forecast = seasonal_naive(latest_same_weekday(values), np.array([14]), 8)

    # Day 16 (weekday of 9) falls back to day 2; day 21 (weekday of 14) has only day 7.
    assert forecast[0, 0].tolist() == [7.0, 8.0, 2.0, 10.0, 11.0, 12.0, 13.0, 7.0]


def test_yearly_ratio_reads_last_years_change_at_half_weight() -> None:
    # A year ago the level stepped from 10 to 40 right at the origin date: ratio 4, half weight → 2.
    days = YEAR_DAYS + 60
    values = np.full((1, days), 10.0)
    values[0, 40:] = 40.0
    origin = YEAR_DAYS + 40

    ratio = yearly_ratio(values, np.array([origin]), 7)

    assert ratio[0, 0, 4:].tolist() == pytest.approx([2.0] * 3)
    assert ratio[0, 0, 0] < ratio[0, 0, 4]  # the window around day 0 still holds last year's old days
    assert yearly_ratio(values[:, -100:], np.array([90]), 7)[0, 0].tolist() == [1.0] * 7  # no year back: 1


@pytest.mark.parametrize(("loss", "expected"), [(Loss.ABSOLUTE, 0), (Loss.SQUARED, 1)])
def test_selection_loss_decides_between_a_median_and_a_mean_forecast(loss: Loss, expected: int) -> None:
    actual = np.array([[0.0, 0.0, 0.0, 10.0]])
    zero, mean = np.zeros((1, 4)), np.full((1, 4), 2.5)

    assert choose_candidates(np.stack([zero, mean]), actual, loss).tolist() == [expected]


def test_selection_ignores_unscored_pairs_and_defaults_to_the_first_candidate() -> None:
    actual = np.array([[5.0, NAN], [NAN, NAN]])
    near, far = np.array([[5.0, 100.0], [0.0, 0.0]]), np.array([[9.0, 5.0], [1.0, 1.0]])

    assert choose_candidates(np.stack([far, near]), actual, Loss.ABSOLUTE).tolist() == [1, 0]
