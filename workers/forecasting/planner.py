"""Demand forecast: the same-weekday mean of recent sales, per product and open day.

Pure: no I/O, no clock. "Today" is the `business_date` parameter; the output order is fixed.
"""

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from statistics import fmean

from contracts.planning import Calendar, ForecastLine, Product, Regressor, SalesHistory

FALLBACK_WINDOW_DAYS = 28


def forecast_demand(
    products: Sequence[Product],
    sales: Sequence[SalesHistory],
    calendar: Calendar,
    *,
    business_date: date,
    horizon_days: int,
    weeks: int = 4,
    regressors: Sequence[Regressor] = (),
) -> tuple[ForecastLine, ...]:
    """Forecast units (pieces) of each product for each open day of the horizon.

    The horizon is the days `business_date`, …, `business_date + horizon_days - 1`; a day the
    calendar says is closed gets no line at all. A day's forecast is the mean of the units sold on
    the same weekday within the `weeks` weeks strictly before `business_date`. `None` sales (closed
    days) are missing data and are skipped, never counted as zero. With no such observation the
    forecast falls back to the mean of every known day in the 28 days before `business_date`, and
    to 0.0 without any (also for a product with no sales history). Several histories of one
    product are merged; where they overlap the later one wins.

    Units are rounded to 2 decimals. Lines are sorted by (product_id, day); a product listed
    twice gets one set of lines.

    Raises `ValueError` for a negative `horizon_days` or `weeks` < 1 (a caller bug).
    """
    if horizon_days < 0 or weeks < 1:
        raise ValueError(f"need horizon_days >= 0 and weeks >= 1, got {horizon_days=} {weeks=}")
    units_by_day = _units_sold_by_day(sales)
    open_days = [
        day
        for day in (business_date + timedelta(days=offset) for offset in range(horizon_days))
        if calendar.is_open(day)
    ]
    lines: list[ForecastLine] = []
    for product_id in sorted({product.product_id for product in products}):
        sold = units_by_day.get(product_id, {})
        fallback = _mean_or_zero(_known_units(sold, business_date, FALLBACK_WINDOW_DAYS))
        recent = _known_units_by_weekday(sold, business_date, weeks * 7)
        for day in open_days:
            same_weekday = recent.get(day.weekday(), [])
            units = fmean(same_weekday) if same_weekday else fallback
            lines.append(ForecastLine(product_id=product_id, day=day, units=round(units, 2)))
    return tuple(lines)


def _units_sold_by_day(sales: Sequence[SalesHistory]) -> dict[str, dict[date, int | None]]:
    """product_id → day → units sold (None = closed); a later history overrides an earlier one."""
    by_product: dict[str, dict[date, int | None]] = {}
    for history in sales:
        days = by_product.setdefault(history.product_id, {})
        for offset, units in enumerate(history.daily_units):
            days[history.start_date + timedelta(days=offset)] = units
    return by_product


def _known_units(sold: Mapping[date, int | None], before: date, window_days: int) -> list[int]:
    """Units of the days in [before - window_days, before) that have a value."""
    days = (before - timedelta(days=back) for back in range(1, window_days + 1))
    return [units for day in days if (units := sold.get(day)) is not None]


def _known_units_by_weekday(sold: Mapping[date, int | None], before: date, window_days: int) -> dict[int, list[int]]:
    """Weekday → units of the days in [before - window_days, before) that have a value."""
    by_weekday: dict[int, list[int]] = {}
    for back in range(1, window_days + 1):
        day = before - timedelta(days=back)
        units = sold.get(day)
        if units is not None:
            by_weekday.setdefault(day.weekday(), []).append(units)
    return by_weekday


def _mean_or_zero(values: Sequence[int]) -> float:
    return fmean(values) if values else 0.0
