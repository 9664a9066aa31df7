"""Demand and sales history of synthetic products.

A product's mean sales per day come from its weekday profile, its season (a yearly wave, or a bell
around a seasonal product's peak), holiday eves and a yearly trend; the units sold are Poisson draws
around that mean times one shock per day shared by every product. Pure: the random stream is a
parameter, and the same stream gives the same history.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.planning import Calendar, Product, Recipe, SalesHistory
from lab.catalogue import EVE_FACTORS


@dataclass(frozen=True)
class DayFeatures:
    """Calendar features of consecutive days, computed once and shared by every product."""

    day_of_year: tuple[int, ...]
    weekday: tuple[int, ...]
    years_from_today: tuple[float, ...]  # negative in the past
    eve_factor: tuple[float, ...]

    @classmethod
    def starting(cls, start: date, count: int, *, today: date) -> "DayFeatures":
        days = [start + timedelta(days=n) for n in range(count)]
        return cls(
            day_of_year=tuple(day.timetuple().tm_yday for day in days),
            weekday=tuple(day.weekday() for day in days),
            years_from_today=tuple((day - today).days / 365.25 for day in days),
            eve_factor=tuple(EVE_FACTORS.get((day.month, day.day), 1.0) for day in days),
        )


@dataclass(frozen=True)
class ProductDemand:
    """How one product sells: a base level shaped by weekday, season, holiday eves and a yearly trend."""

    base_units: float
    weekday: tuple[float, ...]
    trend_per_year: float
    season_peak_day: int | None  # None: sells all year, with a mild yearly wave
    season_width_days: float
    yearly_amplitude: float
    yearly_peak_day: int

    def means(self, days: DayFeatures) -> list[float]:
        """Mean units sold on each day, before noise."""
        peak = self.season_peak_day
        if peak is None:
            step = 2 * math.pi / 365.25
            yearly = [
                1 + self.yearly_amplitude * math.cos(step * (doy - self.yearly_peak_day)) for doy in days.day_of_year
            ]
        else:  # a bell around the peak, wrapping over New Year; near zero out of season
            gaps = (abs(doy - peak) for doy in days.day_of_year)
            yearly = [math.exp(-((min(gap, 365 - gap) / self.season_width_days) ** 2)) for gap in gaps]
        return [
            self.base_units * self.weekday[weekday] * season * eve * (1 + self.trend_per_year * years)
            for weekday, season, eve, years in zip(
                days.weekday, yearly, days.eve_factor, days.years_from_today, strict=True
            )
        ]


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: exact (Knuth) for small means, normal approximation above, never negative."""
    if mean < 12:
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    draw = mean + math.sqrt(mean) * rng.gauss()
    return int(draw + 0.5) if draw > 0 else 0


def sales_history(
    rng: random.Random,
    products: Sequence[Product],
    demands: Sequence[ProductDemand],
    calendar: Calendar,
    *,
    start: date,
    total_days: int,
    today: date,
) -> list[SalesHistory]:
    """Units sold of each product on `total_days` days from `start`; None on the days `calendar` closes.

    `demands` pairs with `products` in order; `today` anchors the trend (the history normally ends the
    day before it).
    """
    days = DayFeatures.starting(start, total_days, today=today)
    is_open = [calendar.is_open(start + timedelta(days=n)) for n in range(total_days)]
    # One shock per day shared by all products (weather, local events), on top of per-product noise.
    day_shock = [rng.lognormvariate(-0.005, 0.1) for _ in is_open]
    sales = []
    for product, demand in zip(products, demands, strict=True):
        units: list[int | None] = [
            _poisson(rng, mean * shock) if open_ else None
            for mean, shock, open_ in zip(demand.means(days), day_shock, is_open, strict=True)
        ]
        sales.append(SalesHistory(product_id=product.product_id, start_date=start, daily_units=tuple(units)))
    return sales


def busiest_weekday_oven_minutes(recipes: Sequence[Recipe], sales: Sequence[SalesHistory]) -> float:
    """Oven minutes the mean units sold on the busiest weekday need (known days only, fractional batches)."""
    by_product = {recipe.product_id: recipe for recipe in recipes}
    minutes_by_weekday = [0.0] * 7
    for history in sales:
        recipe = by_product.get(history.product_id)
        if recipe is None:
            continue
        first_weekday = history.start_date.weekday()
        for weekday in range(7):
            known = [
                units
                for offset, units in enumerate(history.daily_units)
                if units is not None and (first_weekday + offset) % 7 == weekday
            ]
            if known:
                mean_units = sum(known) / len(known)
                minutes_by_weekday[weekday] += mean_units / recipe.batch_yield_units * recipe.oven_minutes_per_batch
    return max(minutes_by_weekday)
