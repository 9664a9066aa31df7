"""Demand forecast per product and open day: the contract-facing wrapper around the series core.

Turns the snapshot's sales histories, calendar and regressors into aligned daily arrays, runs
`engine.forecast_series` (model choice, quantiles, cold start) and returns `ForecastLine`s.
Pure: no I/O, no clock. "Today" is the `business_date` parameter; the output order is fixed.
"""

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from contracts.messages import ForecastDemand
from contracts.planning import Calendar, ForecastLine, Product, Regressor, SalesHistory
from workers.forecasting.day_grid import place, regressor_matrix
from workers.forecasting.engine import forecast_series
from workers.forecasting.seasonal import YEAR_DAYS, YEARS_BACK

MAX_HISTORY_DAYS = YEARS_BACK * YEAR_DAYS + 14
"""Older history is not used: the yearly ratio looks back at most three years (+ its windows)."""


def forecast_for_command(command: ForecastDemand) -> tuple[ForecastLine, ...]:
    """The forecast for one `ForecastDemand`, exactly as the worker makes it (the offline chain and
    replay call this too)."""
    return forecast_demand(
        command.products,
        command.sales,
        command.calendar,
        business_date=command.business_date,
        horizon_days=command.horizon_days,
        regressors=command.regressors,
    )


def forecast_demand(
    products: Sequence[Product],
    sales: Sequence[SalesHistory],
    calendar: Calendar,
    *,
    business_date: date,
    horizon_days: int,
    regressors: Sequence[Regressor] = (),
) -> tuple[ForecastLine, ...]:
    """Forecast units (pieces) of each product for each open day of the horizon.

    The horizon is the days `business_date`, …, `business_date + horizon_days - 1`; a day the
    calendar says is closed gets no line at all. Only history strictly before `business_date` is
    used. A `None` sales value, and any day the calendar says is closed, is missing data — never
    zero demand. Several histories of one product are merged; where they overlap the later one
    wins. Days in `calendar.holidays` are open days with their own demand level (see `effects`).

    Each line carries the point forecast (`units`, a mean), p10 ≤ p50 ≤ p90 (all ≥ 0) and the
    chosen model's name (see `engine` for the candidates and rules). Floats are rounded to 2
    decimals; lines are sorted by (product_id, day); a product listed twice gets one set of lines
    (the family of its first listing counts).

    Raises `ValueError` for a negative `horizon_days` (a caller bug) and `PlanningError` when two
    regressors share a name.
    """
    if horizon_days < 0:
        raise ValueError(f"need horizon_days >= 0, got {horizon_days=}")
    families: dict[str, str] = {}
    for product in products:
        families.setdefault(product.product_id, product.family)
    product_ids = sorted(families)
    row_of = {product_id: row for row, product_id in enumerate(product_ids)}
    relevant = [history for history in sales if history.product_id in row_of]
    earliest = min((history.start_date for history in relevant), default=business_date)
    first_day = max(earliest, business_date - timedelta(days=MAX_HISTORY_DAYS))
    days = (business_date - first_day).days
    history = np.full((len(product_ids), days), np.nan)
    for record in relevant:
        place(history[row_of[record.product_id]], record.daily_units, start=record.start_date, grid_start=first_day)
    every_day = [first_day + timedelta(days=offset) for offset in range(days + horizon_days)]
    closed = np.array([not calendar.is_open(day) for day in every_day[:days]], dtype=bool)
    history[:, closed] = np.nan
    holiday_dates = set(calendar.holidays)
    holidays = np.array([day in holiday_dates for day in every_day], dtype=bool)
    forecast = forecast_series(
        history,
        first_weekday=first_day.weekday(),
        horizon_days=horizon_days,
        families=[families[product_id] for product_id in product_ids],
        holidays=holidays,
        regressors=regressor_matrix(regressors, grid_start=first_day, days=days + horizon_days),
    )
    open_steps = [step for step, day in enumerate(every_day[days:]) if calendar.is_open(day)]
    # One vectorized rounding per array; `tolist` gives plain floats for the contract.
    units, p10, p50, p90 = (
        np.round(values[:, open_steps], 2).tolist()
        for values in (forecast.mean, forecast.p10, forecast.p50, forecast.p90)
    )
    open_days = [every_day[days + step] for step in open_steps]
    return tuple(
        ForecastLine(
            product_id=product_id,
            day=day,
            units=units[row][column],
            p10=p10[row][column],
            p50=p50[row][column],
            p90=p90[row][column],
            model=forecast.models[row],
        )
        for row, product_id in enumerate(product_ids)
        for column, day in enumerate(open_days)
    )
