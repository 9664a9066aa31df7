"""Per-series model choice by a short rolling-origin backtest.

Every candidate forecasts from each recent origin; its score is its mean error over the scored
(origin, step) pairs. Regular sellers are scored by absolute error (the forecast that tracks
demand best day to day); slow movers by squared error, because absolute error would reward
forecasting 0 on every day of a series that is mostly zeros. Ties go to the earlier candidate in
the fixed order, so the choice is deterministic. Pure.
"""

from enum import Enum

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


class Loss(Enum):
    ABSOLUTE = "absolute"
    SQUARED = "squared"


def choose_candidates(candidates: Floats, actual: Floats, loss: Loss) -> NDArray[np.int64]:
    """Index of the best candidate per series.

    `candidates` is C × S × P (forecasts of each pair), `actual` S × P with NaN for pairs that
    are not scored. A series without any scored pair gets candidate 0.
    """
    scored = ~np.isnan(actual)
    error = np.where(scored[None], candidates - np.where(scored, actual, 0.0)[None], 0.0)
    penalty = np.abs(error) if loss is Loss.ABSOLUTE else error**2
    penalty = np.where(np.isnan(penalty), np.inf, penalty)
    score = penalty.sum(axis=2)
    chosen: NDArray[np.int64] = np.argmin(score, axis=0).astype(np.int64)
    return np.where(scored.any(axis=1), chosen, 0).astype(np.int64)
