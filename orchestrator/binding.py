"""The orchestrator's tenant-binding rules, pure (docs/security.md, "Tenant binding").

A reply acts on a saga only if it is that saga's: the same tenant, and an answer to a command the
saga sent (its `causation_id` is one of the ids `contracts.ids` derives for the saga, the step and an
attempt). A trigger names a business date near the tenant's local today and an id that is either the
day's own or random. Each rule returns the reason it refuses, or None.
"""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts import ids
from contracts.binding import trigger_id_problem
from contracts.envelope import Message
from contracts.errors import PermanentError, TenantBindingError
from orchestrator.engine import SagaDefinition, SagaState


@dataclass(frozen=True)
class TriggerWindow:
    """Business dates a trigger may name, relative to the tenant's local today (BAKEPLAN_TRIGGER_MAX_*)."""

    max_past_days: int = 1
    max_future_days: int = 7

    def problem(self, business_date: date, *, now: datetime, time_zone: str) -> str | None:
        local_today = now.astimezone(ZoneInfo(time_zone)).date()
        offset = (business_date - local_today).days
        if -self.max_past_days <= offset <= self.max_future_days:
            return None
        when = f"{-offset} days in the past" if offset < 0 else f"{offset} days ahead"
        return (
            f"business_date {business_date} is {when} of the tenant's local today {local_today} ({time_zone}); "
            f"a trigger may plan from {self.max_past_days} day(s) back to {self.max_future_days} day(s) ahead "
            "(BAKEPLAN_TRIGGER_MAX_PAST_DAYS, BAKEPLAN_TRIGGER_MAX_FUTURE_DAYS)"
        )


DEFAULT_TRIGGER_WINDOW = TriggerWindow()


def check_trigger_id(event_id: UUID, tenant_id: str, business_date: date) -> None:
    problem = trigger_id_problem(event_id, tenant_id, business_date)
    if problem is not None:
        raise TenantBindingError(problem, kind="trigger_id_not_derived")


def sent_command_ids(saga_id: UUID, step: str, *, compensation: bool, attempts: int) -> set[UUID]:
    """The ids of the commands the saga may have sent for `step`: attempts 1..`attempts`."""
    derive = ids.compensation_command_id if compensation else ids.step_command_id
    return {derive(saga_id, step, attempt) for attempt in range(1, attempts + 1)}


def check_reply(
    reply: Message,
    *,
    step: str,
    saga_id: UUID,
    saga_tenant: str,
    state: SagaState,
    definition: SagaDefinition,
) -> None:
    """Raise `TenantBindingError` unless `reply` is the saga's tenant's and answers a command it sent."""
    if reply.tenant_id != saga_tenant:
        raise TenantBindingError(
            f"{reply.event_type} {reply.event_id} names saga {saga_id}, which belongs to another tenant than "
            f"{reply.tenant_id!r}; refused (a reply acts only on its own tenant's saga)",
            kind="reply_tenant_mismatch",
        )
    try:
        step_state = state.step(step)
    except KeyError:
        raise PermanentError(f"{reply.event_type} {reply.event_id}: saga {saga_id} has no step {step!r}") from None
    # `attempts` counts the runs and, once compensating, the compensations; a late reply may answer
    # either, so both ranges are accepted up to the larger bound
    bound = max(step_state.attempts, 1) + definition.max_compensation_attempts
    compensation = reply.event_type == "planning.step_compensated"
    if reply.causation_id not in sent_command_ids(saga_id, step, compensation=compensation, attempts=bound):
        what = "compensation" if compensation else "run"
        raise TenantBindingError(
            f"{reply.event_type} {reply.event_id} of tenant {reply.tenant_id!r} for saga {saga_id}: its causation_id "
            f"{reply.causation_id} is no {what} command the saga sent for step {step!r}; refused",
            kind="not_caused_by_saga",
        )
