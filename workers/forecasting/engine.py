"""The series-level forecasting core: float daily series in, mean and quantiles per day out.

Used by `forecast_demand` (units per product) and by the backtest (any float series, e.g. revenue).
For each series, from its history alone:
1. Too few known days (< `MIN_KNOWN_DAYS`) → cold start from the family (see `cold_start`).
2. Otherwise the Syntetos–Boylan class of the last `FIT_WINDOW_DAYS` decides the candidates:
   regular sellers (smooth, erratic) choose among "ets-weekly", "ets-weekly-yearly",
   "ets-weekly-damped" and "seasonal-naive"; slow movers (intermittent, lumpy) between "sba" and
   "tsb". The smoothing parameters come from the in-sample absolute error of forecasts 1–7 days ahead
   on a fixed grid (`smoothing`); the candidate from a rolling-origin backtest over the last
   `SELECTION_ORIGINS` days (`selection`). "ets-weekly-yearly" is "ets-weekly" times the change
   the same weeks showed in past years (`seasonal.yearly_ratio`, 1.0 with less than a year).
3. Regular sellers then get the holiday factor and the regressor factors (`effects`); their
   quantiles are the chosen model's empirical error factors. Slow movers get count quantiles.
Holidays never update the smoothing state and are not scored in the selection: they are special
demand, estimated on their own. Pure: no I/O, no clock; same input, same output.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from workers.forecasting.cold_start import cold_start
from workers.forecasting.effects import holiday_factor, regressor_factors
from workers.forecasting.intermittent import demand_shape, sba_path, tsb_path
from workers.forecasting.quantiles import FALLBACK_FACTORS, count_dispersion, count_quantiles, ratio_factors
from workers.forecasting.seasonal import latest_same_weekday, seasonal_naive, yearly_ratio
from workers.forecasting.selection import Loss, choose_candidates
from workers.forecasting.smoothing import WARMUP_DAYS, fit_smoothing, forecast_from_states, weekly_grid

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]

MIN_KNOWN_DAYS = 28
FIT_WINDOW_DAYS = 392
"""56 weeks: enough for the smoothing to settle, short enough to stay fast."""
SELECTION_ORIGINS = 42
"""Rolling origins (the last 6 weeks) for the model choice."""
QUANTILE_ORIGINS = 91
"""Rolling origins (the last 13 weeks) whose errors give the quantiles: a quarter of varied days."""
INTERMITTENT_DAYS = 182
"""SBA and TSB run over the last half year: with smoothing 0.1 older demands weigh next to nothing."""
REGULAR_MODELS = ("ets-weekly", "ets-weekly-yearly", "ets-weekly-damped", "seasonal-naive")
SPORADIC_MODELS = ("sba", "tsb")


@dataclass(frozen=True)
class SeriesForecast:
    """Per series (rows) and horizon day (columns): mean, p10 ≤ p50 ≤ p90 (all ≥ 0); chosen model names."""

    mean: Floats
    p10: Floats
    p50: Floats
    p90: Floats
    models: tuple[str, ...]


@dataclass(frozen=True)
class _Chosen:
    mean: Floats
    factors: Floats
    models: list[str]


def forecast_series(
    history: Floats,
    *,
    first_weekday: int,
    horizon_days: int,
    families: Sequence[str],
    holidays: Bools,
    regressors: Floats,
) -> SeriesForecast:
    """Forecast the `horizon_days` days after `history` (S series × T days, NaN = missing).

    Column 0 of `history` is on `first_weekday` (0 = Monday). `families` names each series'
    family (cold start). `holidays` (T + horizon_days) marks holiday days; `regressors`
    (R × (T + horizon_days), NaN = unknown) are external daily signals. Raises `ValueError` when
    the shapes disagree (a caller bug).
    """
    series, days = history.shape
    if holidays.shape != (days + horizon_days,) or regressors.shape[1:] != (days + horizon_days,):
        raise ValueError(f"holidays/regressors must cover {days + horizon_days} days (history + horizon)")
    if len(families) != series:
        raise ValueError(f"need one family per series: {len(families)} for {series} series")
    mean = np.zeros((series, horizon_days))
    factors = np.zeros((series, 3))
    models = [""] * series
    known_days = (~np.isnan(history)).sum(axis=1)
    warm = known_days >= MIN_KNOWN_DAYS
    if horizon_days == 0:
        return SeriesForecast(mean, mean, mean, mean, tuple("" for _ in range(series)))
    start = max(0, days - FIT_WINDOW_DAYS)
    window = history[:, start:]
    window_holidays = holidays[start:days]
    ordinary = np.where(window_holidays[None, :], np.nan, window)
    window_weekday = (first_weekday + start) % 7
    sporadic = np.array([kind.sporadic for kind in demand_shape(ordinary).classes()], dtype=bool)
    window_days = window.shape[1]
    origins = np.arange(max(window_days - QUANTILE_ORIGINS, WARMUP_DAYS), window_days + 1, dtype=np.int64)
    for rows, forecaster in ((warm & ~sporadic, _regular), (warm & sporadic, _sporadic)):
        if not rows.any():
            continue
        actual = _scored_actuals(ordinary[rows], origins[:-1], horizon_days)
        chosen = forecaster(
            history[rows], window[rows], ordinary[rows], actual, origins,
            start=start, first_weekday=window_weekday, holidays=holidays, regressors=regressors,
        )  # fmt: skip
        mean[rows], factors[rows] = chosen.mean, chosen.factors
        for row, model in zip(np.flatnonzero(rows), chosen.models, strict=True):
            models[row] = model
    counted = _count_bands(mean, factors, warm & sporadic)
    if not warm.all():
        cold = cold_start(
            history, first_weekday=first_weekday, horizon_days=horizon_days, families=families, warm=warm,
            warm_factors=factors,
        )  # fmt: skip
        mean[~warm], factors[~warm] = cold.mean, cold.factors
        for row, model in zip(np.flatnonzero(~warm), cold.models, strict=True):
            models[row] = model
    return _with_quantiles(mean, factors, counted, models)


def _regular(
    history: Floats,
    window: Floats,
    ordinary: Floats,
    actual: Floats,
    origins: Ints,
    *,
    start: int,
    first_weekday: int,
    holidays: Bools,
    regressors: Floats,
) -> _Chosen:
    """Choose among the regular candidates and apply holiday and regressor factors."""
    series, window_days = ordinary.shape
    horizon_days = holidays.size - start - window_days
    grid = weekly_grid()
    fit = fit_smoothing(ordinary, first_weekday=first_weekday, grid=grid, origins=origins)
    rows = np.arange(series)
    origin_weekdays = (first_weekday + origins) % 7
    forecasts: list[Floats] = []
    bests: list[Ints] = []
    for damped in (False, True):
        columns = np.flatnonzero(grid.damped == damped)
        best = columns[np.argmin(fit.lead_error[:, columns], axis=1)]
        bests.append(best)
        path = forecast_from_states(
            fit.level[:, rows, best], fit.trend[:, rows, best], fit.season[:, rows, best], grid.phi[best],
            first_weekdays=origin_weekdays, steps=horizon_days,
        )  # fmt: skip
        forecasts.append(np.transpose(path, (1, 0, 2)))
    plain, damped_trend = forecasts
    yearly = plain * yearly_ratio(history, origins + start, horizon_days)
    naive = seasonal_naive(latest_same_weekday(ordinary), origins, horizon_days)
    naive = np.where(np.isnan(naive), plain, naive)
    candidates = np.stack([plain, yearly, damped_trend, naive])
    scored = actual.reshape(series, -1)
    chosen = choose_candidates(
        candidates[:, :, :-1].reshape(len(REGULAR_MODELS), series, -1), _recent(actual, origins), Loss.ABSOLUTE
    )
    picked = candidates[chosen, rows]
    factors = ratio_factors(scored, picked[:, :-1].reshape(series, -1))
    one_step = fit.one_step[:, rows, bests[0]].T
    window_holidays = holidays[start : start + window_days]
    final = picked[:, -1] * regressor_factors(
        window, one_step, window_holidays, regressors[:, start:], horizon_days=horizon_days
    )
    holiday_days = holidays[start + window_days :]
    final = np.where(holiday_days[None, :], final * holiday_factor(window, one_step, window_holidays)[:, None], final)
    return _Chosen(mean=final, factors=factors, models=[REGULAR_MODELS[index] for index in chosen])


def _sporadic(
    history: Floats,
    window: Floats,
    ordinary: Floats,
    actual: Floats,
    origins: Ints,
    *,
    start: int,
    first_weekday: int,
    holidays: Bools,
    regressors: Floats,
) -> _Chosen:
    """Choose between SBA and TSB; flat forecasts; factors column 0 carries the dispersion."""
    series = ordinary.shape[0]
    horizon_days = actual.shape[2]
    recent = ordinary[:, -INTERMITTENT_DAYS:]
    shift = ordinary.shape[1] - recent.shape[1]
    candidates = np.stack([sba_path(recent)[:, origins - shift], tsb_path(recent)[:, origins - shift]])
    candidates = np.repeat(candidates[..., None], horizon_days, axis=3)
    scored = actual.reshape(series, -1)
    chosen = choose_candidates(
        candidates[:, :, :-1].reshape(len(SPORADIC_MODELS), series, -1), _recent(actual, origins), Loss.SQUARED
    )
    picked = candidates[chosen, np.arange(series)]
    dispersion = count_dispersion(scored, picked[:, :-1].reshape(series, -1))
    factors = np.stack([dispersion, np.zeros(series), np.zeros(series)], axis=1)
    return _Chosen(mean=picked[:, -1], factors=factors, models=[SPORADIC_MODELS[index] for index in chosen])


def _recent(actual: Floats, origins: Ints) -> Floats:
    """`actual` (S × O × H) flattened to S × (O·H), with pairs older than `SELECTION_ORIGINS` days unscored."""
    old = origins[:-1] < origins[-1] - SELECTION_ORIGINS
    return np.where(old[None, :, None], np.nan, actual).reshape(actual.shape[0], -1)


def _scored_actuals(ordinary: Floats, origins: Ints, horizon_days: int) -> Floats:
    """Actual of each (series, origin, step) pair inside the history; NaN beyond it or unknown."""
    target = origins[:, None] + np.arange(horizon_days)
    inside = target < ordinary.shape[1]
    values = ordinary[:, np.minimum(target, ordinary.shape[1] - 1)]
    return np.where(inside[None], values, np.nan)


def _count_bands(mean: Floats, factors: Floats, rows: Bools) -> dict[int, tuple[float, float, float]]:
    """Count quantiles of the slow movers (flat over the horizon); their factors become quantile / mean.

    On entry a slow mover's factors hold its dispersion in column 0; on exit they hold the band
    as factors too, so cold-start products of the family can borrow it.
    """
    bands: dict[int, tuple[float, float, float]] = {}
    for row in np.flatnonzero(rows):
        level = float(mean[row, 0])
        bands[int(row)] = count_quantiles(level, float(factors[row, 0]))
        factors[row] = np.array(bands[int(row)]) / level if level > 0 else FALLBACK_FACTORS
    return bands


def _with_quantiles(
    mean: Floats, factors: Floats, counted: dict[int, tuple[float, float, float]], models: list[str]
) -> SeriesForecast:
    """Quantiles: factor × mean, except the slow movers' count quantiles."""
    mean = np.maximum(mean, 0.0)
    p10, p50, p90 = (mean * factors[:, level, None] for level in range(3))
    for row, (low, middle, high) in counted.items():
        p10[row], p50[row], p90[row] = low, middle, high
    p50 = np.maximum(p10, p50)
    p90 = np.maximum(p50, p90)
    return SeriesForecast(mean=mean, p10=p10, p50=p50, p90=p90, models=tuple(models))
