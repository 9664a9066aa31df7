"""The console's chart geometry (bakeplan/console/charts.py) and its users' grants (bakeplan/console/users.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bakeplan.console import charts
from bakeplan.console.users import Role, User, check_password, parse_tenants

pytestmark = pytest.mark.unit
T0 = datetime(2026, 12, 5, 4, 30, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def entry(ms: float, kind: str, step: str | None) -> dict[str, object]:
    return {"at": at(ms), "kind": kind, "step": step, "detail": ""}


def test_a_gantt_bar_runs_from_each_command_to_its_reply_and_compensations_get_their_own() -> None:
    timeline = [
        entry(0, "started", None),
        entry(0, "RunStep", "forecasting"),
        entry(400, "step_done", "forecasting"),
        entry(400, "RunStep", "production"),
        entry(1000, "step_failed", "production"),
        entry(1000, "CompensateStep", "forecasting"),
        entry(1300, "step_compensated", "forecasting"),
        entry(1300, "FinishSaga", None),
    ]
    chart = charts.gantt(timeline, started=T0, ended=at(1300))
    assert [(b.label, b.kind, b.outcome, b.start_ms, b.end_ms) for b in chart.bars] == [
        ("forecasting", "step", "done", 0, 400),
        ("production", "step", "failed", 400, 1000),
        ("undo forecasting", "compensation", "compensated", 1000, 1300),
    ]
    # bars never overlap the labels, never leave the chart and stack one row each
    for bar in chart.bars:
        assert bar.x >= charts.GANTT_LABEL_WIDTH
        assert bar.x + bar.width <= charts.GANTT_WIDTH
    assert [b.y for b in chart.bars] == sorted({b.y for b in chart.bars})
    # widths are proportional to durations: production took 1.5 times forecasting
    assert chart.bars[1].width == pytest.approx(1.5 * chart.bars[0].width)


def test_a_step_still_running_is_an_open_bar_up_to_now() -> None:
    chart = charts.gantt([entry(0, "RunStep", "forecasting")], started=T0, ended=at(2500))
    assert [(b.outcome, b.end_ms) for b in chart.bars] == [("open", 2500)]
    assert [label for _, label in chart.ticks] == ["0 ms", "500 ms", "1 s", "1.5 s", "2 s", "2.5 s"]


def test_the_forecast_band_holds_p90_forward_then_p10_back_on_one_scale_with_the_history() -> None:
    history = [(date(2026, 12, 1) + timedelta(days=i), float(10 + i)) for i in range(4)]
    forecast = [
        {"day": date(2026, 12, 5), "units": 20.0, "p10": 15.0, "p90": 40.0},
        {"day": date(2026, 12, 6), "units": 18.0, "p10": None, "p90": None},  # quantiles missing: drawn at the point
    ]
    chart = charts.forecast_chart(history, forecast)
    band = [tuple(map(float, p.split(","))) for p in chart.band.split()]
    assert len(band) == 4
    top_y = band[0][1]
    assert top_y == min(y for _, y in band)  # p90 = 40 is the highest value: the top of the plot
    assert band[1][1] == band[2][1]  # the second day's p90 and p10 both fall back to its point forecast
    assert band[0][0] == band[3][0] == chart.split_x  # the band starts where the history ends
    history_x = [float(p.split(",")[0]) for p in chart.history.split()]
    assert history_x == sorted(history_x)
    assert max(history_x) < chart.split_x


def test_a_user_sees_only_the_tenants_granted_and_star_grants_all() -> None:
    assert parse_tenants("a, b,") == (frozenset({"a", "b"}), False)
    assert parse_tenants("*") == (frozenset(), True)
    with pytest.raises(ValueError, match="--tenants"):
        parse_tenants(" , ")
    viewer = User("v", Role.VIEWER, frozenset({"a"}), all_tenants=False)
    assert viewer.visible(["a", "b"]) == ["a"]
    assert not viewer.may_see(None)
    assert not viewer.is_operator
    assert User("o", Role.OPERATOR, frozenset(), all_tenants=True).may_see("anything")
    with pytest.raises(ValueError, match="at least 10"):
        check_password("short")
