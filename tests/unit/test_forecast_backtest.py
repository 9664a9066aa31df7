"""Rolling-origin backtest and the sales CSV parser."""

from datetime import date, timedelta

import numpy as np
import pytest

from contracts.planning import Calendar
from workers.forecasting.backtest import backtest, backtest_points, parse_sales_csv

pytestmark = pytest.mark.unit

START = date(2023, 1, 2)  # a Monday


def a_series(values: list[float | None], start: date = START) -> dict[date, float]:
    """Day → value from `start` on; `None` leaves the day out (closed)."""
    return {start + timedelta(days=offset): value for offset, value in enumerate(values) if value is not None}


def poisson_week(days: int, seed: int) -> list[float | None]:
    rng = np.random.default_rng(seed)
    means = (20, 25, 30, 30, 40, 60, 45)
    return [float(rng.poisson(means[offset % 7])) for offset in range(days)]


def test_parse_reads_float_quantities_per_product_and_day() -> None:
    text = "date,product,quantity\n2024-01-01,bread,12.5\n2024-01-01,rolls,3\n2024-01-02,bread,0\n"

    assert parse_sales_csv(text) == {
        "bread": {date(2024, 1, 1): 12.5, date(2024, 1, 2): 0.0},
        "rolls": {date(2024, 1, 1): 3.0},
    }


def test_parse_accepts_columns_in_any_order() -> None:
    assert parse_sales_csv("product,quantity,date\nbread,2,2024-01-01\n") == {"bread": {date(2024, 1, 1): 2.0}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,product\n2024-01-01,bread\n", r"line 1: .*quantity"),
        ("date,product,quantity\n2024-13-01,bread,1\n", r"line 2: bad date '2024-13-01'"),
        (
            "date,product,quantity\n2024-01-01,bread,1\n2024-01-02,bread,many\n",
            r"line 3: quantity 'many' is not a number",
        ),
        ("date,product,quantity\n2024-01-01,bread,-1\n", r"line 2: .*>= 0"),
        (
            "date,product,quantity\n2024-01-01,bread,1\n2024-01-01,bread,2\n",
            r"line 3: bread on 2024-01-01 appears twice",
        ),
        ("date,product,quantity\n2024-01-01,bread\n", r"line 2: 2 values for 3 columns"),
        ("", r"line 1: .*date, product, quantity"),
    ],
)
def test_parse_errors_name_the_line_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sales_csv(text)


def test_a_spike_after_the_origin_does_not_change_the_forecast() -> None:
    values = poisson_week(200, seed=1)
    origin = START + timedelta(days=150)
    spiked = [value if offset < 150 else 10_000.0 for offset, value in enumerate(values)]

    calm = backtest_points({"bread": a_series(values)}, start=origin, end=origin, horizon_days=7)
    wild = backtest_points({"bread": a_series(spiked)}, start=origin, end=origin, horizon_days=7)

    assert calm.forecast.tolist() == wild.forecast.tolist()
    assert calm.p90.tolist() == wild.p90.tolist()
    assert calm.actual.tolist() != wild.actual.tolist()


def test_quantiles_cover_about_80_percent_of_a_poisson_series() -> None:
    sales = {f"p{seed}": a_series(poisson_week(260, seed)) for seed in range(3)}

    report = backtest(
        sales, start=START + timedelta(days=182), end=START + timedelta(days=252), horizon_days=7, step_days=3
    )

    assert 0.72 <= report.coverage_80 <= 0.9
    assert report.relative_mae < 0.9  # smoothing beats last week's value on pure noise
    assert abs(report.bias) < 0.05


def test_the_report_matches_its_points_and_skips_closed_days() -> None:
    values = poisson_week(120, seed=5)
    values[100] = None  # closed: not scored
    sales = {"bread": a_series(values)}
    kwargs = {"start": START + timedelta(days=98), "end": START + timedelta(days=104), "horizon_days": 3}

    report = backtest(sales, **kwargs)  # type: ignore[arg-type]
    points = backtest_points(sales, **kwargs)  # type: ignore[arg-type]

    closed = START + timedelta(days=100)
    assert closed not in points.day
    assert report.forecasts == points.actual.size == 7 * 3 - 3  # day 100 is in 3 origins' horizons
    assert report.wape == pytest.approx(np.abs(points.forecast - points.actual).sum() / points.actual.sum())
    assert report.baseline_wape == pytest.approx(np.abs(points.baseline - points.actual).sum() / points.actual.sum())
    assert report.relative_mae == pytest.approx(report.wape / report.baseline_wape)
    assert sum(report.models.values()) == 7
    assert report.series == 1


def test_the_baseline_is_the_latest_same_weekday_value_before_the_origin() -> None:
    values: list[float | None] = [float(offset) for offset in range(70)]
    values[63] = None  # the last same weekday before the origin is closed: the one before counts
    origin = START + timedelta(days=64)

    points = backtest_points({"bread": a_series(values)}, start=origin, end=origin, horizon_days=7)

    assert points.baseline.tolist() == [57.0, 58.0, 59.0, 60.0, 61.0, 62.0]  # day 63+7 = 70 has no actual
    assert points.actual.tolist() == [64.0, 65.0, 66.0, 67.0, 68.0, 69.0]


def test_a_calendar_closed_weekday_is_not_scored() -> None:
    sales = {"bread": a_series(poisson_week(120, seed=2))}

    points = backtest_points(
        sales, start=START + timedelta(days=98), end=START + timedelta(days=98), calendar=Calendar(closed_weekdays=(6,))
    )

    assert all(day.weekday() != 6 for day in points.day)
    assert len(points.day) == 6


def test_a_meaningless_range_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        backtest({"bread": a_series([1.0] * 30)}, start=START, end=START, horizon_days=0)
