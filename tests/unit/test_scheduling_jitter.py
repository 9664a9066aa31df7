"""Jitter spreads the tenants that share a local run time over a window: bounded, the same in every
process, never past the cut-off, never a different business date, and every tenant still decided
exactly once per date."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.scheduling import Outcome, TenantSchedule, decide_due, jitter_offset

pytestmark = pytest.mark.unit

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
tenant_ids = st.text(min_size=1, max_size=64)


@given(tenant=tenant_ids, max_s=st.floats(0, 3600, allow_nan=False))
def test_the_offset_is_bounded_and_deterministic(tenant: str, max_s: float) -> None:
    window = timedelta(seconds=max_s)
    offset = jitter_offset(tenant, window)
    assert offset == jitter_offset(tenant, window)  # what another replica or a restart computes
    assert timedelta(0) <= offset
    assert offset < window or offset == window == timedelta(0)


def test_offsets_of_a_chain_spread_over_the_window() -> None:
    window = timedelta(seconds=20)
    seconds = Counter(int(jitter_offset(f"chain-store-{i:05d}", window).total_seconds()) for i in range(10_000))
    assert sorted(seconds) == list(range(20))  # every second of the window is used ...
    assert max(seconds.values()) < 2 * 10_000 / 20  # ... and none gets twice its share
    assert jitter_offset("chain-store-00001", timedelta(0)) == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(
    tenant=tenant_ids,
    zone=st.sampled_from(ZONES),
    run_minute=st.integers(0, 23 * 60 - 2),
    window_minutes=st.integers(1, 8 * 60),
    jitter_s=st.floats(0, 4 * 3600, allow_nan=False),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
)
def test_a_jittered_run_fires_after_its_run_time_and_before_its_cutoff_on_the_same_date(
    tenant: str, zone: str, run_minute: int, window_minutes: int, jitter_s: float, day: date
) -> None:
    cutoff_minute = min(run_minute + window_minutes, 24 * 60 - 1)
    schedule = TenantSchedule(
        tenant,
        zone,
        run_at=time(run_minute // 60, run_minute % 60),
        cutoff=time(cutoff_minute // 60, cutoff_minute % 60),
        jitter=jitter_offset(tenant, timedelta(seconds=jitter_s)),
    )
    fires = schedule.fires_at(day)
    assert schedule.due_at(day) <= fires < schedule.cutoff_at(day)
    assert fires - schedule.due_at(day) <= schedule.jitter
    # a scheduler that wakes right then records the run as fired, for that date, with the unjittered due time
    (decision,) = decide_due(schedule, last_decided=day - timedelta(days=1), now=fires)
    assert (decision.business_date, decision.outcome, decision.due_at) == (day, Outcome.FIRED, schedule.due_at(day))
    assert decide_due(schedule, last_decided=day - timedelta(days=1), now=fires - timedelta(microseconds=1)) == []


@settings(max_examples=40, deadline=None)
@given(
    prefix=st.text(min_size=1, max_size=8),
    tenants=st.integers(1, 60),
    zone=st.sampled_from(ZONES),
    scan_s=st.integers(5, 120),
    jitter_s=st.integers(0, 600),
)
def test_every_tenant_fires_once_per_date_however_often_the_scheduler_wakes(
    prefix: str, tenants: int, zone: str, scan_s: int, jitter_s: int
) -> None:
    """Every tenant with the same local run time fires exactly once on the day, within jitter plus
    one scan interval of its run time: none is skipped or starved."""
    day = date(2026, 3, 29)  # spring forward in Europe
    schedules = [
        TenantSchedule(
            f"{prefix}-{i}",
            zone,
            run_at=time(4, 30),
            cutoff=time(9, 0),
            jitter=jitter_offset(f"{prefix}-{i}", timedelta(seconds=jitter_s)),
        )
        for i in range(tenants)
    ]
    last: dict[str, date | None] = {s.tenant_id: day - timedelta(days=1) for s in schedules}
    fired: dict[str, list[datetime]] = {s.tenant_id: [] for s in schedules}
    now = schedules[0].due_at(day) - timedelta(minutes=1)
    end = schedules[0].due_at(day) + timedelta(seconds=jitter_s + 2 * scan_s)
    while now <= end:
        for s in schedules:
            for d in decide_due(s, last_decided=last[s.tenant_id], now=now):
                last[s.tenant_id] = d.business_date
                assert (d.business_date, d.outcome) == (day, Outcome.FIRED)
                fired[s.tenant_id].append(now)
        now += timedelta(seconds=scan_s)
    due = schedules[0].due_at(day)
    assert all(len(at) == 1 for at in fired.values())
    after_cutoff = schedules[0].cutoff_at(day) + timedelta(minutes=1)
    assert all(decide_due(s, last_decided=last[s.tenant_id], now=after_cutoff) == [] for s in schedules)
    assert max(at[0] for at in fired.values()) < due + timedelta(seconds=jitter_s + scan_s)


def test_a_negative_jitter_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        TenantSchedule("t", "UTC", jitter=timedelta(seconds=-1))


def test_the_reason_counts_lateness_from_the_jittered_instant() -> None:
    schedule = TenantSchedule("t", "UTC", run_at=time(4, 30), jitter=timedelta(seconds=15))
    (on_time,) = decide_due(schedule, last_decided=None, now=datetime(2026, 11, 28, 4, 30, 40, tzinfo=UTC))
    assert on_time.reason == "on time"
    (late,) = decide_due(schedule, last_decided=None, now=datetime(2026, 11, 28, 4, 40, 15, tzinfo=UTC))
    assert late.reason == "caught up 10 min late"
