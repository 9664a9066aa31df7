"""Forecasts read straight off the history: the seasonal naive and the yearly ratio.

Both work on a batch of aligned daily series (S × T, NaN = missing). Pure.
"""

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

WEEK = 7
YEAR_DAYS = 364
"""52 weeks: a lag that keeps the weekday, so last year's window has the same weekly mix."""
YEARS_BACK = 3
YEARLY_RATIO_BOUNDS = (0.25, 4.0)
YEARLY_WEIGHT = 0.5
"""Past years' change is half trusted (a square root of the ratio): the yearly course repeats
only roughly (weather, school holidays and moving feasts shift), and a shrunk estimate of a
noisy ratio errs less than the raw one."""
REFERENCE_DAYS = 14
"""The level a ratio is applied to remembers about two weeks, so the reference window spans two weeks."""


def latest_same_weekday(values: Floats) -> Floats:
    """`filled[s, t]`: the latest known value of series s on a day ≤ t with t's weekday (NaN if none)."""
    filled = np.full(values.shape, np.nan)
    days = values.shape[1]
    for residue in range(min(WEEK, days)):
        sub = values[:, residue::WEEK]
        known = ~np.isnan(sub)
        index = np.where(known, np.arange(sub.shape[1]), -1)
        index = np.maximum.accumulate(index, axis=1)
        taken = np.take_along_axis(sub, np.maximum(index, 0), axis=1)
        filled[:, residue::WEEK] = np.where(index >= 0, taken, np.nan)
    return filled


def seasonal_naive(filled: Floats, origins: Ints, steps: int) -> Floats:
    """Seasonal naive forecasts, shape (S, O, steps), from `latest_same_weekday` output.

    The forecast of origin o, step h (day o + h - 1) is the latest known value on the same weekday
    strictly before o: the day 7·⌈h/7⌉ earlier, or the last known one before it.
    """
    ahead = np.arange(1, steps + 1)
    source = origins[:, None] + ahead - 1 - WEEK * ((ahead - 1) // WEEK + 1)
    inside = source >= 0
    taken = filled[:, np.maximum(source, 0)]
    return np.where(inside, taken, np.nan)


def yearly_ratio(values: Floats, origins: Ints, steps: int) -> Floats:
    """Expected change of the level from origin to each target day, from past years; (S, O, steps).

    For each year back k (52·k weeks, up to `YEARS_BACK`): the mean of the 7 days centered on the
    target day, over the mean of the `REFERENCE_DAYS` days before the origin, both k years earlier;
    each mean needs 4 known days. The ratios of all usable years are averaged geometrically,
    raised to `YEARLY_WEIGHT` and bounded; 1.0 where no year is usable (less than a year of history).
    """
    series, days = values.shape
    known = ~np.isnan(values)
    running_sum = np.concatenate([np.zeros((series, 1)), np.cumsum(np.where(known, values, 0.0), axis=1)], axis=1)
    running_count = np.concatenate([np.zeros((series, 1)), np.cumsum(known, axis=1)], axis=1)

    def window_mean(start: Ints, stop: Ints) -> tuple[Floats, NDArray[np.bool_]]:
        usable = start >= 0
        first, last = np.clip(start, 0, days), np.clip(stop, 0, days)
        total = running_sum[:, last] - running_sum[:, first]
        count = running_count[:, last] - running_count[:, first]
        ok = usable & (count >= 4)
        return np.where(ok, total / np.maximum(count, 1), np.nan), ok

    ahead = np.arange(1, steps + 1)
    target = origins[:, None] + ahead - 1
    log_sum = np.zeros((series, origins.size, steps))
    years = np.zeros((series, origins.size, steps))
    for back in range(1, YEARS_BACK + 1):
        lag = YEAR_DAYS * back
        reference, ref_ok = window_mean(origins - lag - REFERENCE_DAYS, origins - lag)
        around, around_ok = window_mean(target - lag - 3, target - lag + 4)
        ok = ref_ok[:, :, None] & around_ok & (reference[:, :, None] > 0) & (around > 0)
        ratio = np.where(ok, around / np.where(ok, reference[:, :, None], 1.0), 1.0)
        log_sum += np.where(ok, np.log(np.where(ok, ratio, 1.0)), 0.0)
        years += ok
    low, high = YEARLY_RATIO_BOUNDS
    return np.clip(np.exp(YEARLY_WEIGHT * log_sum / np.maximum(years, 1)), low, high)
