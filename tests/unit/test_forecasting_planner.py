"""Unit tests of the demand forecast (same-weekday mean, closed days, fallbacks)."""

from collections.abc import Mapping
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.planning import Calendar, ForecastLine, Product, SalesHistory
from workers.forecasting.planner import forecast_demand

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
OPEN_EVERY_DAY = Calendar()


def a_product(product_id: str = "baguette") -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        family="bread",
        unit_price=1.2,
        unit_cost=0.4,
        shelf_life_days=1,
        finished_stock_units=0,
    )


def a_history(
    product_id: str = "baguette",
    *,
    days_back: int = 28,
    units: int | None = 5,
    overrides: Mapping[date, int | None] | None = None,
) -> SalesHistory:
    """`days_back` days of `units` a day up to the day before MONDAY, with some days overridden."""
    start = MONDAY - timedelta(days=days_back)
    days = [start + timedelta(days=offset) for offset in range(days_back)]
    chosen = overrides or {}
    return SalesHistory(
        product_id=product_id,
        start_date=start,
        daily_units=tuple(chosen.get(day, units) for day in days),
    )


def units_on(lines: tuple[ForecastLine, ...], product_id: str, day: date) -> float:
    (line,) = [line for line in lines if line.product_id == product_id and line.day == day]
    return line.units


def test_forecast_is_the_mean_of_the_same_weekday_skipping_closed_days() -> None:
    weeks_back_to_units = {1: 10, 2: None, 3: 20, 4: 30}
    mondays = {MONDAY - timedelta(weeks=weeks): units for weeks, units in weeks_back_to_units.items()}

    lines = forecast_demand(
        [a_product()],
        [a_history(overrides=mondays)],
        OPEN_EVERY_DAY,
        business_date=MONDAY,
        horizon_days=8,
    )

    assert units_on(lines, "baguette", MONDAY) == 20.0  # (10 + 20 + 30) / 3, not / 4
    assert units_on(lines, "baguette", MONDAY + timedelta(days=1)) == 5.0
    assert units_on(lines, "baguette", MONDAY + timedelta(days=7)) == 20.0


def test_only_the_most_recent_weeks_count_and_nothing_from_business_date_on() -> None:
    old_mondays = {MONDAY - timedelta(weeks=week): 1000 for week in (5, 6, 7, 8)}
    history = a_history(days_back=56, units=10, overrides=old_mondays)
    leaked = SalesHistory(product_id="baguette", start_date=MONDAY, daily_units=(999,))

    recent = forecast_demand([a_product()], [history, leaked], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=1)
    eight_weeks = forecast_demand(
        [a_product()], [history], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=1, weeks=8
    )

    assert recent[0].units == 10.0
    assert eight_weeks[0].units == 505.0


def test_closed_weekdays_and_dates_get_no_line() -> None:
    holiday = MONDAY + timedelta(days=2)
    calendar = Calendar(closed_weekdays=(6,), closed_dates=(holiday,))

    lines = forecast_demand([a_product()], [a_history()], calendar, business_date=MONDAY, horizon_days=7)

    assert [line.day for line in lines] == [
        MONDAY,
        MONDAY + timedelta(days=1),
        MONDAY + timedelta(days=3),
        MONDAY + timedelta(days=4),
        MONDAY + timedelta(days=5),
    ]


def test_without_a_same_weekday_observation_falls_back_to_the_28_day_mean() -> None:
    # Mondays all closed; the other days alternate 4 and 8 → mean of the 24 known days.
    start = MONDAY - timedelta(days=28)
    overrides: dict[date, int | None] = {}
    for offset in range(28):
        day = start + timedelta(days=offset)
        overrides[day] = None if day.weekday() == 0 else (4 if offset % 2 else 8)
    known = [units for units in overrides.values() if units is not None]

    lines = forecast_demand(
        [a_product()],
        [a_history(overrides=overrides)],
        OPEN_EVERY_DAY,
        business_date=MONDAY,
        horizon_days=2,
        weeks=1,
    )

    assert units_on(lines, "baguette", MONDAY) == round(sum(known) / len(known), 2)
    assert units_on(lines, "baguette", MONDAY + timedelta(days=1)) == 8.0  # last Tuesday


def test_a_product_without_history_forecasts_zero_on_every_open_day() -> None:
    lines = forecast_demand([a_product("croissant")], [], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=3)

    assert [(line.day, line.units) for line in lines] == [(MONDAY + timedelta(days=offset), 0.0) for offset in range(3)]


def test_units_are_rounded_to_two_decimals() -> None:
    mondays: dict[date, int | None] = {MONDAY - timedelta(weeks=week): 1 for week in (1, 2)}
    mondays[MONDAY - timedelta(weeks=3)] = 2
    mondays[MONDAY - timedelta(weeks=4)] = None

    lines = forecast_demand(
        [a_product()],
        [a_history(overrides=mondays)],
        OPEN_EVERY_DAY,
        business_date=MONDAY,
        horizon_days=1,
    )

    assert lines[0].units == 1.33


def test_lines_are_sorted_by_product_then_day_and_a_repeated_product_counts_once() -> None:
    products = [a_product("roll"), a_product("baguette"), a_product("roll")]

    lines = forecast_demand(products, [a_history("roll")], OPEN_EVERY_DAY, business_date=MONDAY, horizon_days=2)

    assert [(line.product_id, line.day) for line in lines] == [
        ("baguette", MONDAY),
        ("baguette", MONDAY + timedelta(days=1)),
        ("roll", MONDAY),
        ("roll", MONDAY + timedelta(days=1)),
    ]


def test_same_input_gives_the_same_forecast() -> None:
    def run() -> tuple[ForecastLine, ...]:
        return forecast_demand(
            [a_product("roll"), a_product()],
            [a_history(), a_history("roll", units=3)],
            Calendar(closed_weekdays=(6,)),
            business_date=MONDAY,
            horizon_days=14,
        )

    assert run() == run()


@pytest.mark.parametrize(("horizon_days", "weeks"), [(-1, 4), (7, 0)])
def test_a_meaningless_horizon_or_window_is_a_caller_bug(horizon_days: int, weeks: int) -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_demand(
            [a_product()],
            [],
            OPEN_EVERY_DAY,
            business_date=MONDAY,
            horizon_days=horizon_days,
            weeks=weeks,
        )


@given(
    daily_units=st.lists(st.one_of(st.none(), st.integers(0, 200)), min_size=0, max_size=70),
    closed_weekdays=st.sets(st.integers(0, 6), max_size=6),
    horizon_days=st.integers(1, 21),
    weeks=st.integers(1, 8),
)
def test_one_line_per_open_day_within_the_range_of_history(
    daily_units: list[int | None], closed_weekdays: set[int], horizon_days: int, weeks: int
) -> None:
    calendar = Calendar(closed_weekdays=tuple(sorted(closed_weekdays)))
    history = SalesHistory(
        product_id="baguette",
        start_date=MONDAY - timedelta(days=len(daily_units)),
        daily_units=tuple(daily_units),
    )

    lines = forecast_demand(
        [a_product()],
        [history],
        calendar,
        business_date=MONDAY,
        horizon_days=horizon_days,
        weeks=weeks,
    )

    horizon = [MONDAY + timedelta(days=offset) for offset in range(horizon_days)]
    assert [line.day for line in lines] == [day for day in horizon if calendar.is_open(day)]
    known = [units for units in daily_units if units is not None]
    highest = max(known, default=0)
    assert all(0 <= line.units <= highest for line in lines)
