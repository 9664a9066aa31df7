"""Rolling-origin backtest of the forecasting core on float daily series (units or revenue).

At each origin the core sees only the days before it — the same `engine.forecast_series` that
`forecast_demand` runs, on the same three years of history at most — and forecasts the origin
and the `horizon_days - 1` days after. A point is scored when its day has an actual value (a
missing day is a closed day), the calendar has it open, and the seasonal-naive baseline exists.
Pure: the CSV arrives as text.
"""

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from contracts.planning import Calendar, Regressor
from workers.forecasting.day_grid import regressor_matrix
from workers.forecasting.engine import forecast_series
from workers.forecasting.planner import MAX_HISTORY_DAYS
from workers.forecasting.seasonal import latest_same_weekday, seasonal_naive

Floats = NDArray[np.float64]
COLUMNS = ("date", "product", "quantity")


def parse_sales_csv(text: str) -> dict[str, dict[date, float]]:
    """product → day → quantity from CSV text with a header naming `date,product,quantity`.

    Columns may come in any order; extra columns are ignored. Dates are ISO (YYYY-MM-DD);
    quantities are non-negative numbers. Raises `ValueError` naming the line (1 = header) and the
    fault: a missing column, a bad date, a non-numeric or negative quantity, a repeated
    product+date.
    """
    rows = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(rows, [])]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ValueError(f"line 1: the header lacks column(s) {', '.join(missing)}; need {','.join(COLUMNS)}")
    at = {name: header.index(name) for name in COLUMNS}
    sales: dict[str, dict[date, float]] = {}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ValueError(f"line {line}: {len(row)} values for {len(header)} columns")
        raw_date, product, raw_quantity = (row[at[name]].strip() for name in COLUMNS)
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise ValueError(f"line {line}: bad date {raw_date!r}, expected YYYY-MM-DD") from None
        try:
            quantity = float(raw_quantity)
        except ValueError:
            raise ValueError(f"line {line}: quantity {raw_quantity!r} is not a number") from None
        if not np.isfinite(quantity) or quantity < 0:
            raise ValueError(f"line {line}: quantity {raw_quantity!r} must be a finite number >= 0")
        if not product:
            raise ValueError(f"line {line}: empty product")
        days = sales.setdefault(product, {})
        if day in days:
            raise ValueError(f"line {line}: {product} on {day} appears twice")
        days[day] = quantity
    return sales


@dataclass(frozen=True)
class BacktestReport:
    """Scores over all scored points (see module doc).

    relative_mae = Σ|error| / Σ|baseline error|; wape = Σ|error| / Σ actual (baseline_wape
    likewise for the baseline); bias = Σ(forecast - actual) / Σ actual; coverage_80 = share of
    actuals within [p10, p90]. `forecasts` counts scored points; `models` counts the chosen model
    of each (series, origin).
    """

    relative_mae: float
    wape: float
    baseline_wape: float
    bias: float
    coverage_80: float
    series: int
    forecasts: int
    models: dict[str, int]


@dataclass(frozen=True)
class BacktestPoints:
    """Every scored point: series name, origin, day, actual, our mean/p10/p90 and the baseline."""

    series: tuple[str, ...]
    origin: tuple[date, ...]
    day: tuple[date, ...]
    actual: Floats
    forecast: Floats
    p10: Floats
    p90: Floats
    baseline: Floats
    models: dict[str, int]


def backtest(
    sales: Mapping[str, Mapping[date, float]],
    *,
    start: date,
    end: date,
    horizon_days: int = 7,
    step_days: int = 1,
    calendar: Calendar = Calendar(),
    regressors: Sequence[Regressor] = (),
) -> BacktestReport:
    """Score the core at origins `start`, `start + step_days`, … ≤ `end` (see `BacktestReport`).

    Raises `ValueError` for `horizon_days` or `step_days` < 1, `end` before `start`, or no scored point.
    """
    points = backtest_points(
        sales, start=start, end=end, horizon_days=horizon_days, step_days=step_days, calendar=calendar,
        regressors=regressors,
    )  # fmt: skip
    actual_total = float(points.actual.sum())
    error = points.forecast - points.actual
    baseline_error = float(np.abs(points.baseline - points.actual).sum())
    inside = (points.actual >= points.p10) & (points.actual <= points.p90)
    return BacktestReport(
        relative_mae=float(np.abs(error).sum()) / baseline_error if baseline_error > 0 else float("inf"),
        wape=float(np.abs(error).sum()) / actual_total if actual_total > 0 else float("inf"),
        baseline_wape=baseline_error / actual_total if actual_total > 0 else float("inf"),
        bias=float(error.sum()) / actual_total if actual_total > 0 else float("inf"),
        coverage_80=float(inside.mean()),
        series=len(set(points.series)),
        forecasts=int(points.actual.size),
        models=points.models,
    )


def backtest_points(
    sales: Mapping[str, Mapping[date, float]],
    *,
    start: date,
    end: date,
    horizon_days: int = 7,
    step_days: int = 1,
    calendar: Calendar = Calendar(),
    regressors: Sequence[Regressor] = (),
) -> BacktestPoints:
    """The scored points behind `backtest` (same arguments, same errors), for other comparisons."""
    if horizon_days < 1 or step_days < 1 or end < start:
        raise ValueError(f"need horizon_days >= 1, step_days >= 1, end >= start; got {horizon_days=} {step_days=}")
    names = sorted(sales)
    known_days = [day for name in names for day in sales[name]]
    if not known_days:
        raise ValueError("no sales to backtest")
    grid_start = min(known_days)
    days = (max(max(known_days), end) - grid_start).days + horizon_days
    values = np.full((len(names), days), np.nan)
    for row, name in enumerate(names):
        for day, quantity in sales[name].items():
            values[row, (day - grid_start).days] = quantity
    every_day = [grid_start + timedelta(days=offset) for offset in range(days)]
    values[:, [not calendar.is_open(day) for day in every_day]] = np.nan
    holiday_dates = set(calendar.holidays)
    holidays = np.array([day in holiday_dates for day in every_day], dtype=bool)
    external = regressor_matrix(regressors, grid_start=grid_start, days=days)
    latest = latest_same_weekday(values)
    collected: dict[str, list[float]] = {key: [] for key in ("actual", "forecast", "p10", "p90", "baseline")}
    series_names: list[str] = []
    origin_days: list[date] = []
    target_days: list[date] = []
    models: Counter[str] = Counter()
    origin = (max(start, grid_start) - grid_start).days
    last = (end - grid_start).days
    while origin <= last:
        first = max(0, origin - MAX_HISTORY_DAYS)
        outlook = forecast_series(
            values[:, first:origin], first_weekday=every_day[first].weekday(), horizon_days=horizon_days,
            families=["all"] * len(names), holidays=holidays[first : origin + horizon_days],
            regressors=external[:, first : origin + horizon_days],
        )  # fmt: skip
        models.update(outlook.models)
        baseline = seasonal_naive(latest, np.array([origin], dtype=np.int64), horizon_days)[:, 0]
        actual = values[:, origin : origin + horizon_days]
        scored = ~np.isnan(actual) & ~np.isnan(baseline)
        for row, step in zip(*np.nonzero(scored), strict=True):
            series_names.append(names[row])
            origin_days.append(every_day[origin])
            target_days.append(every_day[origin + step])
            for key, source in (
                ("actual", actual), ("forecast", outlook.mean), ("p10", outlook.p10), ("p90", outlook.p90),
                ("baseline", baseline),
            ):  # fmt: skip
                collected[key].append(float(source[row, step]))
        origin += step_days
    if not collected["actual"]:
        raise ValueError(f"no scored point between {start} and {end}: no actual values in that range")
    return BacktestPoints(
        series=tuple(series_names),
        origin=tuple(origin_days),
        day=tuple(target_days),
        actual=np.array(collected["actual"]),
        forecast=np.array(collected["forecast"]),
        p10=np.array(collected["p10"]),
        p90=np.array(collected["p90"]),
        baseline=np.array(collected["baseline"]),
        models=dict(sorted(models.items())),
    )
