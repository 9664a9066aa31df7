"""Slow movers: Syntetos–Boylan demand classes and the SBA and TSB forecasts.

Only known days count (NaN = closed, skipped entirely): an interval between demands is measured
in open days, and a closed day neither lowers a demand probability nor lengthens an interval.
All functions work on a batch of series (rows, NaN = missing) at once. Pure.
"""

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

ADI_BOUNDARY = 1.32
"""Average inter-demand interval (open days per demand) above which demand is intermittent."""
CV2_BOUNDARY = 0.49
"""Squared coefficient of variation of the non-zero sizes above which demand is erratic/lumpy."""

SBA_ALPHA = 0.1
TSB_ALPHA = 0.1
TSB_BETA = 0.1


class DemandClass(Enum):
    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"

    @property
    def sporadic(self) -> bool:
        """Intermittent or lumpy: demand is absent on many open days."""
        return self in (DemandClass.INTERMITTENT, DemandClass.LUMPY)


def demand_class(adi: float, cv2: float) -> DemandClass:
    """Syntetos–Boylan class; a value exactly on a boundary belongs to the lower side."""
    if adi > ADI_BOUNDARY:
        return DemandClass.LUMPY if cv2 > CV2_BOUNDARY else DemandClass.INTERMITTENT
    return DemandClass.ERRATIC if cv2 > CV2_BOUNDARY else DemandClass.SMOOTH


@dataclass(frozen=True)
class DemandShape:
    """Per series: `adi` (open days per demand; inf without any demand) and `cv2` of demand sizes."""

    adi: Floats
    cv2: Floats

    def classes(self) -> list[DemandClass]:
        return [demand_class(float(adi), float(cv2)) for adi, cv2 in zip(self.adi, self.cv2, strict=True)]


def demand_shape(values: Floats) -> DemandShape:
    """ADI and CV² of each row of `values` (S × T, NaN = missing), over its known days."""
    known = ~np.isnan(values)
    positive = known & (np.nan_to_num(values) > 0)
    known_days = known.sum(axis=1)
    demands = positive.sum(axis=1)
    adi = np.where(demands > 0, known_days / np.maximum(demands, 1), np.inf)
    sizes = np.where(positive, values, 0.0)
    mean = sizes.sum(axis=1) / np.maximum(demands, 1)
    variance = np.where(positive, (sizes - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(demands, 1)
    cv2 = np.where(mean > 0, variance / np.where(mean > 0, mean, 1.0) ** 2, 0.0)
    return DemandShape(adi=adi, cv2=cv2)


def _by_day(values: Floats) -> tuple[NDArray[np.bool_], Floats, NDArray[np.bool_]]:
    """Day-major views of (S, T) values: known (not NaN), the value (NaN as 0), and demand (> 0)."""
    observed = np.nan_to_num(values).T
    return ~np.isnan(values).T, observed, observed > 0


def sba_path(values: Floats, *, alpha: float = SBA_ALPHA) -> Floats:
    """SBA forecast after each day: shape (S, T + 1); column t uses days < t.

    Croston's method with the Syntetos–Boylan bias correction: size `z` and interval `p` (open
    days) are initialized by the first demand and its interval, then smoothed with `alpha` at each
    demand; the forecast is (1 - alpha/2) · z / p, and 0 before the first demand.
    """
    series, days = values.shape
    size = np.zeros(series)
    interval = np.ones(series)
    since = np.zeros(series)
    started = np.zeros(series, dtype=bool)
    path = np.zeros((series, days + 1))
    known_days, observed_days, demand_days = _by_day(values)
    for day in range(days):
        observed, known, demand = observed_days[day], known_days[day], demand_days[day]
        since += known
        first = demand & ~started
        update = demand & started
        size = np.where(first, observed, np.where(update, size + alpha * (observed - size), size))
        interval = np.where(first, since, np.where(update, interval + alpha * (since - interval), interval))
        since = np.where(demand, 0.0, since)
        started |= demand
        path[:, day + 1] = np.where(started, (1.0 - alpha / 2.0) * size / interval, 0.0)
    return path


def tsb_path(values: Floats, *, alpha: float = TSB_ALPHA, beta: float = TSB_BETA) -> Floats:
    """TSB forecast after each day: shape (S, T + 1); column t uses days < t.

    Teunter–Syntetos–Babai: demand probability `d` and size `z` are initialized at the first
    demand (d = 1 / its interval in open days, z = its size); afterwards every open day moves
    `d` towards 1 (demand) or 0 (none) by `beta`, and each demand moves `z` by `alpha`. The
    forecast d · z decays through a run of zeros, unlike Croston's; 0 before the first demand.
    """
    series, days = values.shape
    size = np.zeros(series)
    probability = np.zeros(series)
    since = np.zeros(series)
    started = np.zeros(series, dtype=bool)
    path = np.zeros((series, days + 1))
    known_days, observed_days, demand_days = _by_day(values)
    for day in range(days):
        observed, known, demand = observed_days[day], known_days[day], demand_days[day]
        since += known
        first = demand & ~started
        update = known & started
        probability = np.where(
            first,
            1.0 / np.maximum(since, 1.0),
            np.where(update, probability + beta * (demand - probability), probability),
        )
        size = np.where(first, observed, np.where(update & demand, size + alpha * (observed - size), size))
        started |= demand
        path[:, day + 1] = np.where(started, probability * size, 0.0)
    return path
