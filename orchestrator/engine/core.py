"""Saga state and the pure transition function `decide(definition, state, event) -> Decision`.

Steps run forward one at a time. When a step fails or passes its deadline, every step that may have
made effects (completed ones, and the one that timed out) is compensated in reverse order; the saga
ends `COMPENSATED`. A compensation that does not answer before its deadline is re-sent, up to
`max_compensation_attempts`; then the saga ends `FAILED` (the adapter raises an alert). Steps at or
before a pivot are never compensated: once a pivot step completed, failures later are handled
forward and the saga ends `FAILED`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class SagaStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED)


class StepStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    COMPENSATING = "COMPENSATING"
    COMPENSATED = "COMPENSATED"


@dataclass(frozen=True)
class StepDefinition:
    name: str
    timeout: timedelta
    pivot: bool = False


@dataclass(frozen=True)
class SagaDefinition:
    steps: tuple[StepDefinition, ...]
    compensation_timeout: timedelta = timedelta(seconds=30)
    max_compensation_attempts: int = 5

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a saga needs at least one step and unique step names, got {names}")


@dataclass(frozen=True)
class StepState:
    name: str
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline: datetime | None = None
    attempts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class SagaState:
    status: SagaStatus
    steps: tuple[StepState, ...]
    reason: str = ""

    def step(self, name: str) -> StepState:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def next_deadline(self) -> datetime | None:
        deadlines = [s.deadline for s in self.steps if s.deadline is not None]
        return min(deadlines) if deadlines else None


# --- events the engine reacts to -----------------------------------------------------------------


@dataclass(frozen=True)
class StartSaga:
    now: datetime


@dataclass(frozen=True)
class StepSucceeded:
    step: str
    now: datetime


@dataclass(frozen=True)
class StepFailedEvent:
    step: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class StepCompensationDone:
    step: str
    now: datetime


@dataclass(frozen=True)
class Tick:
    """Time passed: deadlines up to `now` are due."""

    now: datetime


SagaEvent = StartSaga | StepSucceeded | StepFailedEvent | StepCompensationDone | Tick


# --- commands the engine asks for ----------------------------------------------------------------


@dataclass(frozen=True)
class RunStep:
    step: str


@dataclass(frozen=True)
class CompensateStep:
    step: str
    attempt: int


@dataclass(frozen=True)
class FinishSaga:
    status: SagaStatus
    reason: str = ""


SagaCommand = RunStep | CompensateStep | FinishSaga


@dataclass(frozen=True)
class Decision:
    state: SagaState
    commands: tuple[SagaCommand, ...] = ()
    note: str = field(default="")
    """Why nothing happened, when an event was ignored (a late or duplicate reply)."""


def hold_deadlines(state: SagaState, by: timedelta) -> SagaState:
    """Every deadline still ahead of the saga moved `by` later: the time its steps could not have
    answered (the broker was unreachable), so an outage does not count against them."""
    return replace(
        state, steps=tuple(replace(s, deadline=s.deadline + by) if s.deadline is not None else s for s in state.steps)
    )


def new_saga(definition: SagaDefinition) -> SagaState:
    return SagaState(status=SagaStatus.RUNNING, steps=tuple(StepState(s.name) for s in definition.steps))


def decide(definition: SagaDefinition, state: SagaState, event: SagaEvent) -> Decision:
    """The saga's next state and the commands to carry out. Pure and total: never raises on a
    late, duplicate or unknown reply; it returns the state unchanged with a `note` instead."""
    if state.status.terminal:
        return Decision(state, note=f"saga already {state.status}; {type(event).__name__} ignored")
    if isinstance(event, StartSaga):
        if any(s.status is not StepStatus.PENDING for s in state.steps):
            return Decision(state, note="saga already started")
        return _start_step(definition, state, 0, event.now)
    if isinstance(event, Tick):
        return _on_tick(definition, state, event.now)
    if event.step not in {s.name for s in definition.steps}:
        return Decision(state, note=f"unknown step {event.step!r} ignored")
    if isinstance(event, StepSucceeded):
        return _on_success(definition, state, event)
    if isinstance(event, StepFailedEvent):
        return _on_failure(definition, state, event.step, StepStatus.FAILED, event.reason, event.now)
    return _on_compensated(definition, state, event)


def _index(definition: SagaDefinition, name: str) -> int:
    return next(i for i, s in enumerate(definition.steps) if s.name == name)


def _with_step(state: SagaState, index: int, **changes: object) -> SagaState:
    steps = list(state.steps)
    steps[index] = replace(steps[index], **changes)  # type: ignore[arg-type]
    return replace(state, steps=tuple(steps))


def _start_step(definition: SagaDefinition, state: SagaState, index: int, now: datetime) -> Decision:
    step_def = definition.steps[index]
    state = _with_step(
        state,
        index,
        status=StepStatus.RUNNING,
        started_at=now,
        deadline=now + step_def.timeout,
        attempts=state.steps[index].attempts + 1,
    )
    return Decision(state, (RunStep(step_def.name),))


def _on_success(definition: SagaDefinition, state: SagaState, event: StepSucceeded) -> Decision:
    i = _index(definition, event.step)
    current = state.steps[i]
    if state.status is not SagaStatus.RUNNING or current.status is not StepStatus.RUNNING:
        return Decision(state, note=f"late or duplicate result of {event.step!r} ({current.status}) ignored")
    state = _with_step(state, i, status=StepStatus.DONE, finished_at=event.now, deadline=None)
    if i + 1 < len(definition.steps):
        return _start_step(definition, state, i + 1, event.now)
    state = replace(state, status=SagaStatus.COMPLETED)
    return Decision(state, (FinishSaga(SagaStatus.COMPLETED),))


def _on_failure(
    definition: SagaDefinition, state: SagaState, step: str, status: StepStatus, reason: str, now: datetime
) -> Decision:
    i = _index(definition, step)
    current = state.steps[i]
    if state.status is not SagaStatus.RUNNING or current.status is not StepStatus.RUNNING:
        return Decision(state, note=f"late or duplicate failure of {step!r} ({current.status}) ignored")
    state = _with_step(state, i, status=status, finished_at=now, deadline=None, detail=reason)
    state = replace(state, status=SagaStatus.COMPENSATING, reason=f"{step}: {reason}")
    return _compensate_next(definition, state, now)


def _needs_compensation(definition: SagaDefinition, state: SagaState) -> int | None:
    """Index of the latest step that may have made effects and is not compensated yet."""
    last_pivot = max(
        (i for i, s in enumerate(definition.steps) if s.pivot and state.steps[i].status is StepStatus.DONE), default=-1
    )
    for i in range(len(state.steps) - 1, last_pivot, -1):
        if state.steps[i].status in (StepStatus.DONE, StepStatus.TIMED_OUT, StepStatus.COMPENSATING):
            return i
    return None


def _compensate_next(definition: SagaDefinition, state: SagaState, now: datetime) -> Decision:
    i = _needs_compensation(definition, state)
    if i is None:
        pivoted = any(s.pivot and state.steps[k].status is StepStatus.DONE for k, s in enumerate(definition.steps))
        status = SagaStatus.FAILED if pivoted else SagaStatus.COMPENSATED
        reason = state.reason + ("; a pivot step completed, so it is handled forward" if pivoted else "")
        state = replace(state, status=status, reason=reason)
        return Decision(state, (FinishSaga(status, reason),))
    attempt = state.steps[i].attempts + 1 if state.steps[i].status is StepStatus.COMPENSATING else 1
    state = _with_step(
        state, i, status=StepStatus.COMPENSATING, deadline=now + definition.compensation_timeout, attempts=attempt
    )
    return Decision(state, (CompensateStep(state.steps[i].name, attempt),))


def _on_compensated(definition: SagaDefinition, state: SagaState, event: StepCompensationDone) -> Decision:
    i = _index(definition, event.step)
    if state.status is not SagaStatus.COMPENSATING or state.steps[i].status is not StepStatus.COMPENSATING:
        return Decision(state, note=f"compensation reply of {event.step!r} ({state.steps[i].status}) ignored")
    state = _with_step(state, i, status=StepStatus.COMPENSATED, finished_at=event.now, deadline=None)
    return _compensate_next(definition, state, event.now)


def _on_tick(definition: SagaDefinition, state: SagaState, now: datetime) -> Decision:
    for i, step in enumerate(state.steps):
        if step.deadline is None or step.deadline > now:
            continue
        if step.status is StepStatus.RUNNING:
            return _on_failure(definition, state, step.name, StepStatus.TIMED_OUT, "no reply before the deadline", now)
        if step.status is StepStatus.COMPENSATING:
            if step.attempts >= definition.max_compensation_attempts:
                reason = f"{state.reason}; compensation of {step.name!r} unanswered after {step.attempts} attempts"
                state = _with_step(state, i, deadline=None)
                state = replace(state, status=SagaStatus.FAILED, reason=reason)
                return Decision(state, (FinishSaga(SagaStatus.FAILED, reason),))
            return _compensate_next(definition, state, now)
    return Decision(state, note="no deadline due")
