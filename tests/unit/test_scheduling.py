"""The per-tenant schedule with a fake clock: daylight-saving days, missed runs before and after
the cut-off, closed days, pause."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.scheduling import Outcome, ScheduleDecision, TenantSchedule, decide_due

pytestmark = pytest.mark.unit


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def run_clock(schedule: TenantSchedule, ticks: Iterable[datetime]) -> list[ScheduleDecision]:
    """What a scheduler that keeps the last decided date (as the store does) records over `ticks`."""
    last: date | None = None
    decided: list[ScheduleDecision] = []
    for now in ticks:
        new = decide_due(schedule, last_decided=last, now=now)
        decided += new
        if new:
            last = new[-1].business_date
    return decided


def every(start: datetime, end: datetime, step: timedelta) -> Iterable[datetime]:
    while start <= end:
        yield start
        start += step


MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("zone", "day", "run_at", "expected_utc"),
    [
        # spring forward: 02:00 → 03:00; 02:30 does not exist and runs at 03:30 local
        ("Europe/Madrid", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 30)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
        # fall back: 03:00 → 02:00 in Madrid and 02:00 → 01:00 in New York; the first occurrence runs
        ("Europe/Madrid", date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        # an ordinary day either side of the change
        ("Europe/Madrid", date(2026, 3, 28), time(4, 30), utc(2026, 3, 28, 3, 30)),
        ("Europe/Madrid", date(2026, 3, 30), time(4, 30), utc(2026, 3, 30, 2, 30)),
    ],
)
def test_a_daylight_saving_day_runs_exactly_once_at_the_stated_instant(
    zone: str, day: date, run_at: time, expected_utc: datetime
) -> None:
    schedule = TenantSchedule("t", zone, run_at=run_at, cutoff=time(9, 0))
    start = datetime.combine(day - timedelta(days=1), time(12), tzinfo=UTC)
    decided = run_clock(schedule, every(start, start + timedelta(days=2), MINUTE))
    on_day = [d for d in decided if d.business_date == day]
    assert [(d.outcome, d.due_at) for d in on_day] == [(Outcome.FIRED, expected_utc)]
    assert sorted({d.business_date for d in decided}) == [d.business_date for d in decided]  # one per date


def test_a_missed_run_still_starts_before_the_cutoff() -> None:
    schedule = TenantSchedule("t", "Europe/Madrid", run_at=time(4, 30), cutoff=time(9, 0))
    # down from before 04:30 until 08:00 local (07:00Z in winter)
    decided = decide_due(schedule, last_decided=date(2026, 11, 27), now=utc(2026, 11, 28, 7, 0))
    assert [(d.business_date, d.outcome) for d in decided] == [(date(2026, 11, 28), Outcome.FIRED)]
    assert "caught up 210 min late" in decided[0].reason


def test_a_run_missed_past_its_cutoff_is_skipped_and_the_next_day_runs() -> None:
    schedule = TenantSchedule("t", "America/New_York", run_at=time(4, 30), cutoff=time(9, 0))
    # down for three days; back at 06:00 local on Dec 1 (11:00Z)
    decided = decide_due(schedule, last_decided=date(2026, 11, 27), now=utc(2026, 12, 1, 11, 0))
    assert [(d.business_date, d.outcome) for d in decided] == [
        (date(2026, 11, 28), Outcome.SKIPPED_PAST_CUTOFF),
        (date(2026, 11, 29), Outcome.SKIPPED_PAST_CUTOFF),
        (date(2026, 11, 30), Outcome.SKIPPED_PAST_CUTOFF),
        (date(2026, 12, 1), Outcome.FIRED),
    ]
    assert "past the 09:00 local cut-off" in decided[0].reason
    late = decide_due(schedule, last_decided=date(2026, 11, 30), now=utc(2026, 12, 1, 14, 1))  # 09:01 local
    assert [d.outcome for d in late] == [Outcome.SKIPPED_PAST_CUTOFF]


def test_closed_days_and_a_paused_tenant_are_recorded_as_skipped() -> None:
    sunday_closed = TenantSchedule(
        "t", "Europe/Madrid", closed_weekdays=frozenset({6}), closed_dates=frozenset({date(2026, 12, 25)})
    )
    week = run_clock(sunday_closed, every(utc(2026, 12, 21, 0, 0), utc(2026, 12, 28, 23, 0), timedelta(hours=1)))
    outcomes = {d.business_date: d.outcome for d in week}
    assert outcomes[date(2026, 12, 25)] is Outcome.SKIPPED_CLOSED  # Christmas, a Friday
    assert outcomes[date(2026, 12, 27)] is Outcome.SKIPPED_CLOSED  # Sunday
    assert [d for d, o in outcomes.items() if o is Outcome.FIRED] == [
        date(2026, 12, 21),
        date(2026, 12, 22),
        date(2026, 12, 23),
        date(2026, 12, 24),
        date(2026, 12, 26),
        date(2026, 12, 28),
    ]
    paused = TenantSchedule("t", "Europe/Madrid", paused=True)
    assert [d.outcome for d in decide_due(paused, last_decided=None, now=utc(2026, 12, 21, 4, 0))] == [
        Outcome.SKIPPED_PAUSED
    ]


def test_before_the_run_time_nothing_is_due_and_a_new_tenant_starts_today() -> None:
    schedule = TenantSchedule("t", "Europe/Madrid", run_at=time(4, 30))
    assert decide_due(schedule, last_decided=None, now=utc(2026, 11, 28, 3, 29)) == []  # 04:29 local
    (first,) = decide_due(schedule, last_decided=None, now=utc(2026, 11, 28, 3, 30))
    assert first.business_date == date(2026, 11, 28)
    assert decide_due(schedule, last_decided=first.business_date, now=utc(2026, 11, 28, 23, 0)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"time_zone": "Europe/Madrid", "run_at": time(9), "cutoff": time(8)}, "must be after the run time"),
        ({"time_zone": "Europe/Madrid", "closed_weekdays": frozenset({7})}, "closed weekdays"),
    ],
)
def test_a_bad_schedule_says_what_to_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TenantSchedule("bakery-7", **kwargs)  # type: ignore[arg-type]


ZONES = ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Santiago"]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    run_minute=st.integers(0, 23 * 60 - 1),
    cutoff_after=st.integers(1, 60 * 8),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1)),
    gaps=st.lists(st.integers(1, 60 * 60), min_size=20, max_size=80),
)
def test_every_date_is_decided_once_in_order_and_nothing_fires_after_its_cutoff(
    zone: str, run_minute: int, cutoff_after: int, start: datetime, gaps: list[int]
) -> None:
    run_at = time(run_minute // 60, run_minute % 60)
    cutoff_minute = min(run_minute + cutoff_after, 24 * 60 - 1)
    if cutoff_minute <= run_minute:
        return
    schedule = TenantSchedule("t", zone, run_at=run_at, cutoff=time(cutoff_minute // 60, cutoff_minute % 60))
    ticks = [start.replace(tzinfo=UTC)]
    for minutes in gaps:  # a scheduler that wakes irregularly, with outages of up to ~2.5 days
        ticks.append(ticks[-1] + timedelta(minutes=minutes * 3 if minutes % 7 == 0 else minutes // 10 + 1))
    decided = run_clock(schedule, ticks)
    dates = [d.business_date for d in decided]
    assert dates == sorted(set(dates))  # once per date, in order
    if dates:  # no gaps: every date from the first decided one on has a decision
        assert dates == [dates[0] + timedelta(days=i) for i in range(len(dates))]
    for decision in decided:
        assert decision.due_at <= ticks[-1]
        decided_at = next(t for t in ticks if t >= decision.due_at)  # the tick that decided it
        if decision.outcome is Outcome.FIRED:
            assert decided_at <= schedule.cutoff_at(decision.business_date)
        else:
            assert decided_at > schedule.cutoff_at(decision.business_date)
