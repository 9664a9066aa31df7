"""Multiplicative effects on top of a chosen model: holidays and external regressors.

Both are estimated from the model's one-step residuals on the history, on the log scale where a
ratio is defined, and shrunk towards "no effect" so that a handful of days cannot swing a
forecast. Pure.
"""

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

HOLIDAY_PRIOR_DAYS = 1.0
"""Pseudo-days of "no effect" mixed into a holiday estimate: one past holiday counts half."""
RIDGE_SHARE = 0.1
"""Ridge penalty per observation on standardized regressors (shrinks every coefficient ~10 %)."""
MIN_REGRESSION_DAYS = 56
"""Usable history days a series needs before its regressor effects are estimated."""
MAX_LOG_EFFECT = 0.7
"""A regressor moves a forecast by at most ×2 or ×½."""


def holiday_factor(values: Floats, one_step: Floats, holidays: NDArray[np.bool_]) -> Floats:
    """Per series: mean of actual / one-step prediction over past holidays, shrunk towards 1.

    `values` and `one_step` are S × T (NaN = missing), `holidays` marks the T days. The factor
    is (Σ ratio + HOLIDAY_PRIOR_DAYS) / (n + HOLIDAY_PRIOR_DAYS) over the n holidays with a
    known value and a positive prediction, so a series without past holidays gets exactly 1.0 —
    the documented fallback: a holiday is forecast like the same weekday of an ordinary week.
    """
    usable = holidays[None, :] & ~np.isnan(values) & (np.nan_to_num(one_step) > 0)
    ratio = np.where(usable, np.nan_to_num(values) / np.where(usable, one_step, 1.0), 0.0)
    n = usable.sum(axis=1)
    factor: Floats = (ratio.sum(axis=1) + HOLIDAY_PRIOR_DAYS) / (n + HOLIDAY_PRIOR_DAYS)
    return factor


def regressor_factors(
    values: Floats, one_step: Floats, excluded: NDArray[np.bool_], regressors: Floats, *, horizon_days: int
) -> Floats:
    """Per series and horizon day: exp(x · β), shape (S, horizon_days).

    `regressors` is R × (T + horizon_days) (NaN = unknown). β is a ridge regression of
    log(actual / one-step prediction) on the standardized regressors over the known, positive,
    not `excluded` history days; an unknown regressor value counts as its mean (no effect).
    """
    series, days = values.shape
    if regressors.shape[0] == 0:
        return np.ones((series, horizon_days))
    history = regressors[:, :days]
    known_x = ~np.isnan(history)
    counts = known_x.sum(axis=1)
    centre = np.where(known_x, history, 0.0).sum(axis=1) / np.maximum(counts, 1)
    spread = np.sqrt(np.where(known_x, (history - centre[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(counts, 1))
    spread = np.where(spread > 0, spread, 1.0)
    standardized = np.nan_to_num((regressors - centre[:, None]) / spread[:, None]).T  # (T + H) × R
    future = standardized[days:]
    past = standardized[:days]
    factors = np.ones((series, horizon_days))
    usable = ~excluded[None, :] & (np.nan_to_num(values) > 0) & (np.nan_to_num(one_step) > 0)
    for row in range(series):
        rows = usable[row]
        n = int(rows.sum())
        if n < MIN_REGRESSION_DAYS:
            continue
        x = past[rows]
        residual = np.log(values[row, rows] / one_step[row, rows])
        penalty = RIDGE_SHARE * n * np.eye(x.shape[1])
        beta = np.linalg.solve(x.T @ x + penalty, x.T @ residual)
        factors[row] = np.exp(np.clip(future @ beta, -MAX_LOG_EFFECT, MAX_LOG_EFFECT))
    return factors
