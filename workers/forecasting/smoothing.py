"""Exponential smoothing with a multiplicative weekly season and an optional damped trend.

One pass over a batch of aligned daily series (rows of a 2-D array, NaN = missing) runs every
parameter set of a small grid at once (Holt–Winters recursions, vectorized over series × grid).
A missing day — closed, or a holiday the caller wants kept out of the pattern — does not update
the state: it is replaced by its own one-step prediction, which leaves level, trend and season as
they were (the trend still decays by `phi`). Pure: no I/O, no randomness.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

WEEK = 7
WARMUP_DAYS = 28
"""Days used to initialize level and season, and not scored by the in-sample error."""

LEAD_DAYS = 7
"""Parameters are chosen for forecasts up to a week ahead, the horizon that drives a bakery's plan."""
SCORED_DAYS = 182
"""The last half year of history scores the parameter sets."""

SEASON_BOUNDS = (0.05, 20.0)
"""A weekday factor stays in these bounds so a run of zeros cannot make the level explode."""


@dataclass(frozen=True)
class SmoothingGrid:
    """Parameter sets, one column each: smoothing of level (`alpha`), trend (`beta`), season (`gamma`)."""

    alpha: Floats
    beta: Floats
    gamma: Floats
    phi: Floats
    damped: NDArray[np.bool_]


def weekly_grid() -> SmoothingGrid:
    """The fixed grid: eight no-trend sets and six damped-trend sets (`phi` = 0.9).

    A grid instead of a numerical optimizer keeps the cost fixed and the result deterministic;
    the sets span slow to fast level adaptation, which is what matters for daily bakery sales.
    """
    rows: list[tuple[float, float, float, float, bool]] = [
        (alpha, 0.0, gamma, 1.0, False) for alpha in (0.05, 0.1, 0.2, 0.35) for gamma in (0.05, 0.15)
    ]
    rows += [(alpha, beta, 0.1, 0.9, True) for alpha in (0.1, 0.2, 0.35) for beta in (0.02, 0.1)]
    columns = list(zip(*rows, strict=True))
    return SmoothingGrid(
        alpha=np.array(columns[0]),
        beta=np.array(columns[1]),
        gamma=np.array(columns[2]),
        phi=np.array(columns[3]),
        damped=np.array(columns[4], dtype=bool),
    )


@dataclass(frozen=True)
class SmoothingFit:
    """Result of one pass.

    `one_step[t, s, k]` is the prediction of day t made after day t-1; `lead_error[s, k]` is the
    mean absolute error of the forecasts 1 to `LEAD_DAYS` days ahead from every day of the last
    `SCORED_DAYS` (known targets after the warm-up only); `level`, `trend` (shape (O, S, K)) and
    `season` (shape (O, S, K, 7), indexed by weekday 0 = Monday) are the states just before each
    requested origin day.
    """

    one_step: Floats
    lead_error: Floats
    level: Floats
    trend: Floats
    season: Floats


def fit_smoothing(
    values: Floats, *, first_weekday: int, grid: SmoothingGrid, origins: NDArray[np.int64]
) -> SmoothingFit:
    """Run every grid column over `values` (S series × T days, NaN = missing).

    `first_weekday` is the weekday of column 0. `origins` are sorted day indices in [0, T]; the
    state before each is kept (T: after the last day). Each series is initialized from the
    `WARMUP_DAYS` days after its first known value: level = their mean, weekday factor = that
    weekday's mean over it (1 where unknown). A series that is all NaN keeps level 0.
    """
    series, days = values.shape
    k = grid.alpha.size
    level, season = _initial_state(values, first_weekday)
    level = np.repeat(level[:, None], k, axis=1)
    season = np.repeat(season[:, None, :], k, axis=1)
    trend = np.zeros((series, k))
    alpha, beta, gamma, phi = grid.alpha, grid.beta, grid.gamma, grid.phi
    one_step = np.empty((days, series, k))
    level_before = np.empty((days, series, k))
    trend_before = np.empty((days, series, k))
    season_after = np.empty((days, series, k))
    kept_level = np.empty((origins.size, series, k))
    kept_trend = np.empty((origins.size, series, k))
    kept_season = np.empty((origins.size, series, k, WEEK))
    origin_at = {int(day): slot for slot, day in enumerate(origins)}
    known = ~np.isnan(values)
    any_known = np.asarray(known.any(axis=0), dtype=np.bool_)
    observed = np.where(known, values, 0.0).T[:, :, None]
    known_by_day = known.T[:, :, None]
    keep_level, keep_season = 1.0 - alpha, 1.0 - gamma
    keep_trend = (1.0 - beta) * phi
    low, high = SEASON_BOUNDS
    # The loop body is the hot path of the whole planner: every operation is on (S, K) arrays.
    for day in range(days):
        slot = origin_at.get(day)
        if slot is not None:
            kept_level[slot], kept_trend[slot], kept_season[slot] = level, trend, season
        weekday = (first_weekday + day) % WEEK
        factor = season[:, :, weekday]
        level_before[day], trend_before[day] = level, trend
        damped_level = level + phi * trend
        predicted = damped_level * factor
        one_step[day] = predicted
        if not any_known[day]:
            season_after[day] = factor
            level, trend = damped_level, phi * trend
            continue
        actual = np.where(known_by_day[day], observed[day], predicted)
        new_level = alpha * (actual / factor) + keep_level * damped_level
        np.maximum(new_level, 0.0, out=new_level)
        trend = beta * (new_level - level) + keep_trend * trend
        ratio = np.divide(actual, new_level, out=factor.copy(), where=new_level > 0)
        updated = gamma * ratio + keep_season * factor
        season[:, :, weekday] = np.minimum(np.maximum(updated, low, out=updated), high, out=updated)
        season_after[day] = updated
        level = new_level
    slot = origin_at.get(days)
    if slot is not None:
        kept_level[slot], kept_trend[slot], kept_season[slot] = level, trend, season
    lead_error = _lead_error(values, level_before, trend_before, season_after, phi)
    return SmoothingFit(
        one_step=one_step, lead_error=lead_error, level=kept_level, trend=kept_trend, season=kept_season
    )


def forecast_from_states(
    level: Floats, trend: Floats, season: Floats, phi: Floats, *, first_weekdays: NDArray[np.int64], steps: int
) -> Floats:
    """Forecasts of steps 1..`steps` from states of shape (..., S) and season (..., S, 7).

    `phi` broadcasts against `level`; `first_weekdays` (shape of the leading axes, or scalar) is
    the weekday of step 1 for each state. Returns shape (..., S, steps), never negative.
    """
    ahead = np.arange(1, steps + 1)
    phi_powers = phi[..., None] ** ahead
    damping = np.cumsum(phi_powers, axis=-1)
    weekdays = (np.asarray(first_weekdays)[..., None] + ahead - 1) % WEEK
    weekdays = np.broadcast_to(weekdays[..., None, :], (*level.shape, steps))
    factors = np.take_along_axis(season, weekdays, axis=-1)
    return np.maximum((level[..., None] + trend[..., None] * damping) * factors, 0.0)


def _lead_error(values: Floats, level: Floats, trend: Floats, season_after: Floats, phi: Floats) -> Floats:
    """Mean absolute error (S, K) of the 1..`LEAD_DAYS`-day-ahead forecasts over the last `SCORED_DAYS`.

    A forecast h ≤ 7 days ahead uses the weekday factor as last updated a week before its target
    day, so the stored per-day states suffice: no second pass is needed.
    """
    days = values.shape[1]
    known = ~np.isnan(values)
    scored = (known & (np.arange(days)[None, :] >= (_first_known(values) + WARMUP_DAYS)[:, None])).T[:, :, None]
    actual = np.where(known, values, 0.0).T[:, :, None]
    weight = scored.astype(np.float64)
    total = np.zeros(level.shape[1:])
    count = np.zeros(level.shape[1:])
    first_origin = max(WEEK, days - SCORED_DAYS)
    damping = np.zeros_like(phi)
    # Slices, not index arrays: every lead reads views of the stored states (the hot path).
    for ahead in range(1, LEAD_DAYS + 1):
        damping = damping + phi**ahead
        last_origin = days - ahead + 1
        if last_origin <= first_origin:
            continue
        targets = slice(first_origin + ahead - 1, days)
        forecast = level[first_origin:last_origin] + trend[first_origin:last_origin] * damping
        forecast *= season_after[first_origin + ahead - 1 - WEEK : days - WEEK]
        np.subtract(actual[targets], forecast, out=forecast)
        np.abs(forecast, out=forecast)
        forecast *= weight[targets]
        total += forecast.sum(axis=0)
        count += weight[targets].sum(axis=0)
    error: Floats = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return error


def _first_known(values: Floats) -> NDArray[np.int64]:
    known = ~np.isnan(values)
    first = np.argmax(known, axis=1)
    result: NDArray[np.int64] = np.where(known.any(axis=1), first, values.shape[1]).astype(np.int64)
    return result


def _initial_state(values: Floats, first_weekday: int) -> tuple[Floats, Floats]:
    """Level (S,) and weekday factors (S, 7) from each series' first `WARMUP_DAYS` days with data."""
    series, days = values.shape
    first = np.minimum(_first_known(values), days)
    offsets = np.arange(WARMUP_DAYS)
    index = first[:, None] + offsets
    inside = index < days
    window = np.where(inside, values[np.arange(series)[:, None], np.minimum(index, days - 1)], np.nan)
    known = ~np.isnan(window)
    counts = known.sum(axis=1)
    level = np.where(counts > 0, np.where(known, window, 0.0).sum(axis=1) / np.maximum(counts, 1), 0.0)
    weekdays = (first_weekday + index) % WEEK
    season = np.ones((series, WEEK))
    for weekday in range(WEEK):
        on_day = known & (weekdays == weekday)
        n = on_day.sum(axis=1)
        mean = np.where(on_day, window, 0.0).sum(axis=1) / np.maximum(n, 1)
        usable = (n > 0) & (level > 0)
        season[:, weekday] = np.where(usable, mean / np.where(level > 0, level, 1.0), 1.0)
    low, high = SEASON_BOUNDS
    return level, np.clip(season, low, high)
