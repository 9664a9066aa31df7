"""Forecast quantiles p10/p50/p90 from the chosen model's own rolling-origin errors.

Two rules, chosen by demand class:
- Regular sellers: the empirical distribution of actual / forecast over the recent rolling-origin
  pairs of the chosen model (all horizon steps pooled), applied as factors to the point forecast.
  Multiplicative factors follow the level (summer and winter) and keep every quantile ≥ 0.
- Slow movers: a negative binomial count distribution with the point forecast as mean and the
  over-dispersion fitted to the same pairs (Poisson when they show no over-dispersion).
Pure; deterministic.
"""

import math

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

LEVELS = (0.1, 0.5, 0.9)
MIN_PAIRS = 20
"""Fewer rolling-origin pairs than this and a series borrows the pooled factors of all series."""
FALLBACK_FACTORS = (0.6, 1.0, 1.4)
"""Factors when no series has enough pairs: a wide band, not a claim of precision."""
MAX_FACTOR = 10.0
Z90 = 1.2815515655446004


def ratio_factors(actual: Floats, forecast: Floats) -> Floats:
    """Per series (S × P pairs, NaN = not scored): factors (S, 3) for p10, p50, p90.

    Pairs with a forecast ≤ 0 carry no ratio. Series with fewer than `MIN_PAIRS` ratios get the
    median factors of the series that have enough, or `FALLBACK_FACTORS`.
    """
    usable = ~np.isnan(actual) & ~np.isnan(forecast) & (forecast > 0)
    ratio = np.where(usable, actual / np.where(usable, forecast, 1.0), np.nan)
    counts = usable.sum(axis=1)
    enough = counts >= MIN_PAIRS
    factors = np.empty((actual.shape[0], len(LEVELS)))
    if enough.any():
        factors[enough] = _row_quantiles(ratio[enough], counts[enough])
        pooled = np.median(factors[enough], axis=0)
    else:
        pooled = np.array(FALLBACK_FACTORS)
    factors[~enough] = pooled
    factors = np.clip(factors, 0.0, MAX_FACTOR)
    return np.maximum.accumulate(factors, axis=1)


def count_dispersion(actual: Floats, forecast: Floats) -> Floats:
    """Negative binomial over-dispersion φ (variance = μ + φ·μ²) per series from its pairs; ≥ 0."""
    usable = ~np.isnan(actual) & ~np.isnan(forecast)
    n = np.maximum(usable.sum(axis=1), 1)
    squared_error = np.where(usable, (actual - forecast) ** 2, 0.0).sum(axis=1) / n
    mean = np.where(usable, forecast, 0.0).sum(axis=1) / n
    mean_square = np.where(usable, forecast**2, 0.0).sum(axis=1) / n
    excess = squared_error - mean
    return np.where((excess > 0) & (mean_square > 0), excess / np.where(mean_square > 0, mean_square, 1.0), 0.0)


def count_quantiles(mean: float, dispersion: float) -> tuple[float, float, float]:
    """p10, p50, p90 of a negative binomial (Poisson when `dispersion` is 0) with this mean.

    Each quantile is the smallest count whose cumulative probability reaches the level.
    """
    if mean <= 0:
        return (0.0, 0.0, 0.0)
    if dispersion <= 1e-9:
        probability = math.exp(-mean)

        def next_probability(k: int, p: float) -> float:
            return p * mean / (k + 1)
    else:
        shape = 1.0 / dispersion
        success = shape / (shape + mean)
        probability = success**shape
        failure = 1.0 - success

        def next_probability(k: int, p: float) -> float:
            return p * (k + shape) / (k + 1) * failure

    if probability < 1e-300:
        # So large a mean that the pmf underflows: the normal approximation is accurate there.
        sd = math.sqrt(mean + dispersion * mean * mean)
        return (max(mean - Z90 * sd, 0.0), mean, mean + Z90 * sd)
    found: list[float] = []
    cumulative = probability
    k = 0
    limit = int(mean * 20 + 1000)
    for level in LEVELS:
        while cumulative < level and k < limit:
            probability = next_probability(k, probability)
            k += 1
            cumulative += probability
        found.append(float(k))
    return (found[0], found[1], found[2])


def _row_quantiles(values: Floats, counts: NDArray[np.int64]) -> Floats:
    """The `LEVELS` quantiles of each row's first `counts` sorted values (NaN sort last); linear rule.

    Same result as `np.nanquantile(..., axis=1)` without its per-row Python loop.
    """
    ordered = np.sort(values, axis=1)
    position = np.array(LEVELS)[None, :] * (counts[:, None] - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, counts[:, None] - 1)
    weight = position - below
    low = np.take_along_axis(ordered, below, axis=1)
    high = np.take_along_axis(ordered, above, axis=1)
    result: Floats = low + weight * (high - low)
    return result
