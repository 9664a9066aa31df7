"""Cold start: a product with too little history borrows its family's weekly profile.

Rule (documented contract):
- A warm series' weekly profile is its mean per weekday over the last `PROFILE_DAYS` days divided
  by the mean of those weekday means (so a profile averages 1.0); its level is the mean of its
  known days in that window.
- A family's profile is the mean of its warm members' profiles; its level is their median level.
- A cold series with some known days is scaled to them: scale = Σ own values / Σ profile of those
  days' weekdays. A cold series with no known day takes the family level as scale.
- No warm member in the family: all warm series of the batch stand in ("cold-start:global").
  No warm series at all: a flat mean of the series' own days ("cold-start:own"), or 0 with none
  ("cold-start:none").
- The quantile band is the family's median band, widened by `BAND_WIDENING` on the log scale,
  because the level itself is a guess.
Pure.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

WEEK = 7
PROFILE_DAYS = 56
BAND_WIDENING = 1.5


@dataclass(frozen=True)
class ColdStart:
    """Point forecasts (C × H), quantile factors (C × 3) and model names of the cold series."""

    mean: Floats
    factors: Floats
    models: tuple[str, ...]


def weekly_profiles(values: Floats, first_weekday: int) -> tuple[Floats, Floats]:
    """Profiles (S × 7, NaN for a weekday without data) and levels (S,) over the last `PROFILE_DAYS` days."""
    recent = values[:, -PROFILE_DAYS:]
    start_weekday = (first_weekday + values.shape[1] - recent.shape[1]) % WEEK
    weekdays = (start_weekday + np.arange(recent.shape[1])) % WEEK
    known = ~np.isnan(recent)
    means = np.full((values.shape[0], WEEK), np.nan)
    for weekday in range(WEEK):
        on_day = known & (weekdays == weekday)
        n = on_day.sum(axis=1)
        total = np.where(on_day, recent, 0.0).sum(axis=1)
        means[:, weekday] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    centre = _mean_ignoring_nan(means, axis=1)
    profiles = np.where(centre[:, None] > 0, means / np.where(centre[:, None] > 0, centre[:, None], 1.0), np.nan)
    count = known.sum(axis=1)
    levels = np.where(count > 0, np.where(known, recent, 0.0).sum(axis=1) / np.maximum(count, 1), 0.0)
    return profiles, levels


def cold_start(
    values: Floats,
    *,
    first_weekday: int,
    horizon_days: int,
    families: Sequence[str],
    warm: NDArray[np.bool_],
    warm_factors: Floats,
) -> ColdStart:
    """Forecasts for the series not `warm` (in row order), from the warm ones (see module rule).

    `values` is S × T (NaN = missing) with column 0 on `first_weekday`; `warm_factors` (S × 3)
    holds the quantile factors of the warm rows (other rows are ignored).
    """
    profiles, levels = weekly_profiles(values, first_weekday)
    cold_rows = np.flatnonzero(~warm)
    horizon_weekdays = (first_weekday + values.shape[1] + np.arange(horizon_days)) % WEEK
    history_weekdays = (first_weekday + np.arange(values.shape[1])) % WEEK
    mean = np.zeros((cold_rows.size, horizon_days))
    factors = np.zeros((cold_rows.size, 3))
    models: list[str] = []
    for slot, row in enumerate(cold_rows):
        peers = warm & (np.asarray(families) == families[int(row)])
        model = "cold-start:family"
        if not peers.any():
            peers, model = warm, "cold-start:global"
        own = values[row]
        known = ~np.isnan(own)
        if not peers.any():
            mean[slot] = float(own[known].mean()) if known.any() else 0.0
            factors[slot] = (0.0, 1.0, 2.0) if known.any() else (0.0, 0.0, 0.0)
            models.append("cold-start:own" if known.any() else "cold-start:none")
            continue
        profile = _mean_ignoring_nan(profiles[peers], axis=0, empty=1.0)
        if known.any():
            weight = profile[history_weekdays[known]].sum()
            scale = float(own[known].sum() / weight) if weight > 0 else float(own[known].mean())
        else:
            scale = float(np.median(levels[peers]))
        mean[slot] = scale * profile[horizon_weekdays]
        band = np.median(warm_factors[peers], axis=0)
        centre = max(float(band[1]), 1e-9)
        widened = centre * (np.maximum(band, 1e-9) / centre) ** BAND_WIDENING
        factors[slot] = np.maximum.accumulate(widened)
        models.append(model)
    return ColdStart(mean=np.maximum(mean, 0.0), factors=factors, models=tuple(models))


def _mean_ignoring_nan(values: Floats, *, axis: int, empty: float = 0.0) -> Floats:
    """Mean over `axis` of the non-NaN entries; `empty` where there is none (no warning)."""
    valid = ~np.isnan(values)
    count = valid.sum(axis=axis)
    total = np.where(valid, values, 0.0).sum(axis=axis)
    result: Floats = np.where(count > 0, total / np.maximum(count, 1), empty)
    return result
