"""When each tenant's daily plan is due: local run time, IANA time zone, closed days, cut-off,
pause. Pure: the clock and the last decided business date are parameters; the store that keeps
one decision per (tenant, business date) lives in the adapter.

Semantics, per business date (the tenant's local calendar date of the run):
- The run is due at the local `run_at`. On a spring-forward day a `run_at` inside the gap does not
  exist; it runs as many minutes after the gap's start as it was after it (02:30 in a 02:00→03:00
  gap runs at 03:30 local), which is what `zoneinfo` gives with `fold=0`. On a fall-back day a time
  that happens twice runs at its first occurrence. Either way: one run.
- A due run that was missed (the scheduler was down) still fires if it is not past the local
  `cutoff` of that date; otherwise it is recorded as skipped and the next date runs normally. A
  long outage therefore never replays a backlog of stale plans.
- Closed dates and weekdays are recorded as skipped; so are dates while the tenant is paused, so
  resuming does not catch up on them.
- Jitter: a tenant's run fires a fixed offset after its run time (`jitter_offset`, a hash of the
  tenant id), so the thousands of stores of a chain that share a local run time reach Kafka and the
  workers spread over a window instead of in the same second. The offset never moves a run to or
  past its cut-off (it is capped at half the run-time → cut-off window) and never changes the
  business date or the recorded due time.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Outcome(StrEnum):
    FIRED = "FIRED"
    SKIPPED_CLOSED = "SKIPPED_CLOSED"
    SKIPPED_PAUSED = "SKIPPED_PAUSED"
    SKIPPED_PAST_CUTOFF = "SKIPPED_PAST_CUTOFF"


@dataclass(frozen=True)
class TenantSchedule:
    tenant_id: str
    time_zone: str
    run_at: time = time(4, 30)
    """Local time of the daily run (default: before the first bake)."""
    cutoff: time = time(10, 0)
    """Local time after which a missed run of that date is skipped instead of started late."""
    closed_weekdays: frozenset[int] = frozenset()
    """0 = Monday … 6 = Sunday."""
    closed_dates: frozenset[date] = frozenset()
    paused: bool = False
    jitter: timedelta = timedelta(0)
    """How long after the run time this tenant's run fires (see `jitter_offset`); ≥ 0."""
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.time_zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"tenant {self.tenant_id!r}: unknown time zone {self.time_zone!r}; use an IANA name "
                "such as 'Europe/Madrid' or 'America/New_York'"
            ) from exc
        if self.cutoff <= self.run_at:
            raise ValueError(
                f"tenant {self.tenant_id!r}: cut-off {self.cutoff:%H:%M} must be after the run time {self.run_at:%H:%M}"
            )
        if self.jitter < timedelta(0):
            raise ValueError(f"tenant {self.tenant_id!r}: jitter {self.jitter} must not be negative")
        if not all(0 <= d <= 6 for d in self.closed_weekdays):
            raise ValueError(f"tenant {self.tenant_id!r}: closed weekdays must be 0 (Monday) … 6 (Sunday)")

    def instant(self, business_date: date, local: time) -> datetime:
        """The UTC instant of local time `local` on `business_date` (see the module docstring for
        times that do not exist or happen twice)."""
        return datetime.combine(business_date, local, tzinfo=self.zone).astimezone(UTC)

    def due_at(self, business_date: date) -> datetime:
        return self.instant(business_date, self.run_at)

    def fires_at(self, business_date: date) -> datetime:
        """When the run of `business_date` fires: the run time plus the jitter, capped at half the
        way to the cut-off so jitter alone never makes a run miss it."""
        due = self.due_at(business_date)
        window = max(self.cutoff_at(business_date) - due, timedelta(0))
        return due + min(self.jitter, window / 2)

    def cutoff_at(self, business_date: date) -> datetime:
        return self.instant(business_date, self.cutoff)

    def local_date(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()


def jitter_offset(tenant_id: str, max_jitter: timedelta) -> timedelta:
    """A tenant's fixed offset in [0, max_jitter) (zero when `max_jitter` is zero): a hash of the
    tenant id, so every replica and every restart computes the same one, and tenant ids spread
    uniformly over the window."""
    span_us = max_jitter // timedelta(microseconds=1)
    if span_us <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(tenant_id.encode(), digest_size=8).digest()
    return timedelta(microseconds=int.from_bytes(digest) * span_us >> 64)


@dataclass(frozen=True)
class ScheduleDecision:
    tenant_id: str
    business_date: date
    outcome: Outcome
    due_at: datetime
    reason: str


def decide_due(schedule: TenantSchedule, *, last_decided: date | None, now: datetime) -> list[ScheduleDecision]:
    """Decisions for every business date after `last_decided` whose run has fired by `now`
    (`TenantSchedule.fires_at`: run time plus jitter), in date order. A tenant never decided before
    starts with today's local date. Idempotent: called again with the last returned date as
    `last_decided`, it returns nothing new until the next run is due. `now` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = schedule.local_date(now)
    day = last_decided + timedelta(days=1) if last_decided is not None else today
    decisions = []
    while day <= today and schedule.fires_at(day) <= now:
        decisions.append(_decide_one(schedule, day, now))
        day += timedelta(days=1)
    return decisions


def _decide_one(schedule: TenantSchedule, day: date, now: datetime) -> ScheduleDecision:
    due = schedule.due_at(day)

    def decision(outcome: Outcome, reason: str) -> ScheduleDecision:
        return ScheduleDecision(schedule.tenant_id, day, outcome, due, reason)

    if day in schedule.closed_dates:
        return decision(Outcome.SKIPPED_CLOSED, f"{day} is a closed date")
    if day.weekday() in schedule.closed_weekdays:
        return decision(Outcome.SKIPPED_CLOSED, f"closed on {day:%A}s")
    if schedule.paused:
        return decision(Outcome.SKIPPED_PAUSED, "the tenant's schedule is paused")
    cutoff = schedule.cutoff_at(day)
    if now > cutoff:
        late = now - due
        return decision(
            Outcome.SKIPPED_PAST_CUTOFF,
            f"missed: due {due:%Y-%m-%d %H:%M}Z, now {late.total_seconds() / 3600:.1f} h later, past the "
            f"{schedule.cutoff:%H:%M} local cut-off",
        )
    late_s = (now - schedule.fires_at(day)).total_seconds()
    return decision(Outcome.FIRED, "on time" if late_s < 60 else f"caught up {late_s / 60:.0f} min late")
