"""Unit tests of `forecast_demand`: the contract (lines, days, order, errors) and what it learns."""

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import PlanningError
from contracts.planning import Calendar, ForecastLine, Product, Regressor, SalesHistory
from workers.forecasting.planner import forecast_demand

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
OPEN_EVERY_DAY = Calendar()
WEEKLY = (10, 20, 30, 40, 50, 60, 70)  # Monday … Sunday


def a_product(product_id: str = "baguette", family: str = "bread") -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family=family,
        unit_price=1.2,
        unit_cost=0.4,
        shelf_life_days=1,
        finished_stock_units=0,
    )


def a_history(
    product_id: str = "baguette", *, days_back: int = 70, units: Callable[[date], int | None] = lambda day: 5
) -> SalesHistory:
    """`days_back` days up to the day before MONDAY; `units(day)` gives each day's sales."""
    start = MONDAY - timedelta(days=days_back)
    days = [start + timedelta(days=offset) for offset in range(days_back)]
    return SalesHistory(product_id=product_id, start_date=start, daily_units=tuple(units(day) for day in days))


def weekly(day: date) -> int:
    return WEEKLY[day.weekday()]


def units_by_day(lines: Sequence[ForecastLine], product_id: str = "baguette") -> dict[date, float]:
    return {line.day: line.units for line in lines if line.product_id == product_id}


def test_a_pure_weekly_pattern_is_recovered() -> None:
    lines = forecast_demand(
        [a_product()], [a_history(units=weekly)], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=14
    )

    assert [round(line.units) for line in lines] == list(WEEKLY) * 2
    assert all(line.model for line in lines)


def test_a_closed_day_is_missing_data_not_zero_demand() -> None:
    def closed_on_wednesdays(zero: int | None) -> Callable[[date], int | None]:
        return lambda day: zero if day.weekday() == 2 else 40

    closed = forecast_demand(
        [a_product()], [a_history(units=closed_on_wednesdays(None))], OPEN_EVERY_DAY,
        business_date=MONDAY, horizon_days=7,
    )  # fmt: skip
    zero = forecast_demand(
        [a_product()], [a_history(units=closed_on_wednesdays(0))], OPEN_EVERY_DAY,
        business_date=MONDAY, horizon_days=7,
    )  # fmt: skip

    assert units_by_day(closed)[MONDAY] == pytest.approx(40, abs=0.5)
    assert units_by_day(closed)[MONDAY + timedelta(days=2)] == pytest.approx(40, abs=0.5)
    assert units_by_day(zero)[MONDAY + timedelta(days=2)] < 5


def test_nothing_from_business_date_on_is_used() -> None:
    history = a_history(units=weekly)
    leaked = SalesHistory(product_id="baguette", start_date=MONDAY, daily_units=(999,) * 7)

    with_leak = forecast_demand([a_product()], [history, leaked], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=7)
    without = forecast_demand([a_product()], [history], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=7)

    assert with_leak == without


def test_closed_weekdays_and_dates_get_no_line() -> None:
    holiday = MONDAY + timedelta(days=2)
    calendar = Calendar(closed_weekdays=(6,), closed_dates=(holiday,))

    lines = forecast_demand([a_product()], [a_history()], calendar, business_date=MONDAY, horizon_days=7)

    assert [line.day for line in lines] == [MONDAY + timedelta(days=offset) for offset in (0, 1, 3, 4, 5)]


def test_a_cold_start_product_gets_its_family_pattern_scaled_to_the_family_level() -> None:
    products = [
        a_product("rye", "bread"),
        a_product("spelt", "bread"),
        a_product("new", "bread"),
        a_product("tart", "cake"),
    ]
    sales = [
        a_history("rye", units=weekly),
        a_history("spelt", units=lambda day: 3 * weekly(day)),
        a_history("tart", units=lambda day: 100 if day.weekday() == 0 else 1),
    ]

    lines = forecast_demand(products, sales, OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=7)

    new = [line for line in lines if line.product_id == "new"]
    family_level = np.median([40.0, 120.0])  # the members' mean daily sales
    assert [line.units for line in new] == pytest.approx([family_level * units / 40 for units in WEEKLY], rel=0.02)
    assert {line.model for line in new} == {"cold-start:family"}
    assert all(line.p10 is not None and line.p10 <= line.units <= line.p90 for line in new if line.p90 is not None)


def test_a_product_alone_without_history_forecasts_zero() -> None:
    lines = forecast_demand([a_product("croissant")], [], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=3)

    assert [(line.units, line.p10, line.p90, line.model) for line in lines] == [(0.0, 0.0, 0.0, "cold-start:none")] * 3


def test_an_intermittent_product_gets_an_intermittent_method() -> None:
    rng = np.random.default_rng(7)
    sparse = [int(rng.integers(1, 4)) if rng.random() < 0.2 else 0 for _ in range(200)]

    lines = forecast_demand(
        [a_product()], [a_history(days_back=200, units=lambda day: sparse[(MONDAY - day).days - 1])],
        OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=7,
    )  # fmt: skip

    assert {line.model for line in lines} <= {"sba", "tsb"}
    assert all(0 < line.units < 1.5 for line in lines)


def test_past_holidays_teach_the_holiday_effect() -> None:
    past = [MONDAY - timedelta(weeks=weeks) + timedelta(days=2) for weeks in (2, 4, 6, 8)]
    coming = MONDAY + timedelta(days=2)
    history = a_history(days_back=70, units=lambda day: 100 if day in past else 50)
    with_history = Calendar(holidays=(*past, coming))
    no_past = Calendar(holidays=(coming,))

    learned = units_by_day(
        forecast_demand([a_product()], [history], with_history, business_date=MONDAY, horizon_days=7)
    )
    fallback = units_by_day(
        forecast_demand([a_product()], [a_history(units=lambda day: 50)], no_past, business_date=MONDAY, horizon_days=7)
    )

    assert learned[coming] > 1.5 * learned[coming + timedelta(days=1)]
    assert fallback[coming] == pytest.approx(50, abs=0.5)  # no past holiday: an ordinary day


def test_a_regressor_moves_the_forecast_on_the_days_it_flags() -> None:
    start = MONDAY - timedelta(days=140)
    flagged = {start + timedelta(days=offset) for offset in range(3, 154, 9)}
    history = a_history(days_back=140, units=lambda day: 80 if day in flagged else 40)
    festival = Regressor(
        name="festival",
        start_date=start,
        values=tuple(1.0 if start + timedelta(days=offset) in flagged else 0.0 for offset in range(154)),
    )

    lines = forecast_demand(
        [a_product()], [history], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=14, regressors=[festival]
    )

    by_day = units_by_day(lines)
    on = [units for day, units in by_day.items() if day in flagged]
    off = [units for day, units in by_day.items() if day not in flagged]
    assert on
    assert min(on) > 1.3 * max(off)


def test_two_regressors_with_one_name_are_a_planning_error() -> None:
    twice = [Regressor(name="temperature", start_date=MONDAY, values=(1.0,))] * 2

    with pytest.raises(PlanningError, match="temperature"):
        forecast_demand(
            [a_product()], [a_history()], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=1, regressors=twice
        )


def test_lines_are_sorted_by_product_then_day_and_a_repeated_product_counts_once() -> None:
    products = [a_product("roll"), a_product("baguette"), a_product("roll")]

    lines = forecast_demand(products, [a_history("roll")], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=2)

    assert [(line.product_id, line.day) for line in lines] == [
        ("baguette", MONDAY),
        ("baguette", MONDAY + timedelta(days=1)),
        ("roll", MONDAY),
        ("roll", MONDAY + timedelta(days=1)),
    ]


def test_same_input_gives_the_same_forecast_whatever_the_product_order() -> None:
    rng = np.random.default_rng(3)
    noisy = [int(units) for units in rng.poisson(30, 120)]
    sales = [
        a_history(days_back=120, units=lambda day: noisy[(MONDAY - day).days - 1]),
        a_history("roll", units=weekly),
    ]

    def run(products: list[Product]) -> tuple[ForecastLine, ...]:
        return forecast_demand(products, sales, Calendar(closed_weekdays=(6,)), business_date=MONDAY, horizon_days=14)

    first = run([a_product("roll"), a_product()])
    assert first == run([a_product(), a_product("roll")])
    assert first == run([a_product("roll"), a_product()])


def test_a_negative_horizon_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_demand([a_product()], [], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=-1)


@settings(deadline=None, max_examples=60)
@given(
    daily_units=st.lists(st.one_of(st.none(), st.integers(0, 200)), min_size=0, max_size=120),
    closed_weekdays=st.sets(st.integers(0, 6), max_size=6),
    holidays=st.sets(st.integers(-120, 20), max_size=6),
    horizon_days=st.integers(0, 21),
)
def test_one_line_per_open_day_non_negative_with_ordered_quantiles(
    daily_units: list[int | None], closed_weekdays: set[int], holidays: set[int], horizon_days: int
) -> None:
    calendar = Calendar(
        closed_weekdays=tuple(sorted(closed_weekdays)),
        holidays=tuple(sorted(MONDAY + timedelta(days=offset) for offset in holidays)),
    )
    history = SalesHistory(
        product_id="baguette", start_date=MONDAY - timedelta(days=len(daily_units)), daily_units=tuple(daily_units)
    )

    lines = forecast_demand(
        [a_product(), a_product("new")], [history], calendar, business_date=MONDAY, horizon_days=horizon_days
    )

    horizon = [MONDAY + timedelta(days=offset) for offset in range(horizon_days)]
    open_days = [day for day in horizon if calendar.is_open(day)]
    assert [(line.product_id, line.day) for line in lines] == [
        (product, day) for product in ("baguette", "new") for day in open_days
    ]
    for line in lines:
        assert line.p10 is not None
        assert line.p50 is not None
        assert line.p90 is not None
        assert 0 <= line.p10 <= line.p50 <= line.p90
        assert line.units >= 0
        assert line.model
