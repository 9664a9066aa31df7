"""Benchmark: bakeplan's forecast core vs statsforecast's AutoETS on the Kiel bakery data.

Both forecast the same rolling origins and horizon and are scored on the same points (days with
an actual value and a seasonal-naive baseline). Not a test: it reads real data by path.

    uv run --group bench python bench/forecast_kiel.py --data /work/shared/data/kiel-bakery --out kiel.json

Options add the tenant calendar (German / Schleswig-Holstein holidays plus 24 and 31 December as
holiday-demand days) and the regressors (daily temperature and cloud cover, the Kiel Week flag).
The regressors' horizon values are the observed weather: an upper bound of what a weather
forecast can add. AutoETS sees the same history window as bakeplan (at most three years), with
missing days filled by the latest same-weekday value, since it needs a gap-free series.
"""

import argparse
import csv
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

# Run from anywhere: the repository root is the import root. (statsforecast >= 2 is compiled C++,
# no numba cache to configure.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.planning import Calendar, Regressor
from workers.forecasting.backtest import BacktestPoints, backtest_points, parse_sales_csv
from workers.forecasting.planner import MAX_HISTORY_DAYS

SALES_FILE = "sales_2013-07_2017-07.csv"


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month = (h + leap - 7 * m + 114) // 31
    day = (h + leap - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def holiday_calendar(first_year: int, last_year: int) -> Calendar:
    """Schleswig-Holstein public holidays plus Christmas Eve and New Year's Eve, as holiday-demand days."""
    days: list[date] = []
    for year in range(first_year, last_year + 1):
        easter = easter_sunday(year)
        days += [date(year, 1, 1), date(year, 5, 1), date(year, 10, 3), date(year, 12, 24)]
        days += [date(year, 12, 25), date(year, 12, 26), date(year, 12, 31)]
        days += [easter + timedelta(days=offset) for offset in (-2, 1, 39, 50)]
        if year == 2017:
            days.append(date(2017, 10, 31))  # Reformation Day, a one-off national holiday in 2017
    return Calendar(holidays=tuple(sorted(days)))


def read_regressors(folder: Path, first: date, last: date) -> list[Regressor]:
    """Temperature and cloud cover from weather.csv, and a 0/1 Kiel Week flag, over [first, last]."""
    days = (last - first).days + 1
    temperature: list[float | None] = [None] * days
    clouds: list[float | None] = [None] * days
    with (folder / "weather.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            offset = (date.fromisoformat(row["Datum"]) - first).days
            if 0 <= offset < days:
                temperature[offset] = float(row["Temperatur"]) if row["Temperatur"] else None
                clouds[offset] = float(row["Bewoelkung"]) if row["Bewoelkung"] else None
    festival: list[float | None] = [0.0] * days
    with (folder / "kiel_week.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            offset = (date.fromisoformat(row["Datum"]) - first).days
            if 0 <= offset < days:
                festival[offset] = float(row["KielerWoche"])
    return [
        Regressor(name="temperature", start_date=first, values=tuple(temperature)),
        Regressor(name="cloud_cover", start_date=first, values=tuple(clouds)),
        Regressor(name="kiel_week", start_date=first, values=tuple(festival)),
    ]


def autoets_forecasts(
    sales: dict[str, dict[date, float]], origins: list[date], horizon_days: int
) -> dict[tuple[str, date, date], float]:
    """AutoETS(season_length=7) mean forecast per (series, origin, day), refitted at every origin."""
    from statsforecast.models import AutoETS

    forecasts: dict[tuple[str, date, date], float] = {}
    for name, series in sorted(sales.items()):
        first = min(series)
        for origin in origins:
            start = max(first, origin - timedelta(days=MAX_HISTORY_DAYS))
            days = (origin - start).days
            if days < 14:
                continue
            history = np.array([series.get(start + timedelta(days=offset), np.nan) for offset in range(days)])
            for offset in range(days):  # gap-free input: the latest same-weekday value (or 0 before any)
                if np.isnan(history[offset]):
                    history[offset] = history[offset - 7] if offset >= 7 else 0.0
            mean = AutoETS(season_length=7).forecast(y=history, h=horizon_days)["mean"]
            for step in range(horizon_days):
                forecasts[(name, origin, origin + timedelta(days=step))] = float(mean[step])
    return forecasts


def scores(points: BacktestPoints, forecast: np.ndarray) -> dict[str, float]:
    error = forecast - points.actual
    total = float(points.actual.sum())
    return {
        "mae": float(np.abs(error).mean()),
        "relative_mae": float(np.abs(error).sum() / np.abs(points.baseline - points.actual).sum()),
        "wape": float(np.abs(error).sum() / total),
        "bias": float(error.sum() / total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with the Kiel bakery CSV files")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2016, 8, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2017, 7, 31))
    parser.add_argument("--horizon", type=int, default=7)
    parser.add_argument("--step", type=int, default=1, help="days between origins (AutoETS refits at each)")
    parser.add_argument("--holidays", action="store_true", help="pass the holiday calendar")
    parser.add_argument("--regressors", action="store_true", help="pass weather and Kiel Week regressors")
    parser.add_argument("--skip-autoets", action="store_true")
    args = parser.parse_args()

    sales = parse_sales_csv((args.data / SALES_FILE).read_text())
    first = min(day for series in sales.values() for day in series)
    last = args.end + timedelta(days=args.horizon)
    calendar = holiday_calendar(first.year, last.year) if args.holidays else Calendar()
    regressors = read_regressors(args.data, first, last) if args.regressors else []

    began = time.perf_counter()
    points = backtest_points(
        sales, start=args.start, end=args.end, horizon_days=args.horizon, step_days=args.step,
        calendar=calendar, regressors=regressors,
    )  # fmt: skip
    ours_seconds = time.perf_counter() - began
    results: dict[str, object] = {
        "setup": {
            "start": args.start.isoformat(),
            "end": args.end.isoformat(),
            "horizon_days": args.horizon,
            "step_days": args.step,
            "holidays": args.holidays,
            "regressors": args.regressors,
            "scored_points": int(points.actual.size),
        },
        "bakeplan": {
            **scores(points, points.forecast),
            "coverage_80": float(((points.actual >= points.p10) & (points.actual <= points.p90)).mean()),
            "seconds": round(ours_seconds, 1),
            "models": points.models,
        },
        "seasonal_naive": scores(points, points.baseline),
    }
    if not args.skip_autoets:
        origins = sorted(set(points.origin))
        began = time.perf_counter()
        ets = autoets_forecasts(sales, origins, args.horizon)
        keys = zip(points.series, points.origin, points.day, strict=True)
        ets_forecast = np.array([ets.get(key, np.nan) for key in keys])
        usable = ~np.isnan(ets_forecast)
        results["autoets"] = {
            **scores(points, np.where(usable, ets_forecast, points.baseline)),
            "seconds": round(time.perf_counter() - began, 1),
        }
        results["autoets"]["missing_points"] = int((~usable).sum())  # type: ignore[index]

    print(f"{'model':<16}{'MAE':>10}{'rel. MAE':>10}{'WAPE':>8}{'bias':>8}{'cov80':>8}")
    for name in ("bakeplan", "autoets", "seasonal_naive"):
        row = results.get(name)
        if isinstance(row, dict):
            coverage = f"{row['coverage_80']:.3f}" if "coverage_80" in row else "-"
            print(
                f"{name:<16}{row['mae']:>10.2f}{row['relative_mae']:>10.3f}{row['wape']:>8.3f}{row['bias']:>8.3f}{coverage:>8}"
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
