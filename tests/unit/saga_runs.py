"""Builders for the saga engine's example tests: a three-step definition (a, b, c) with fixed
timeouts, times as seconds after T0, and a run that feeds events to a new saga."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from orchestrator.engine import (
    Decision,
    SagaDefinition,
    SagaEvent,
    SagaState,
    StepDefinition,
    StepStatus,
    decide,
    new_saga,
)

T0 = datetime(2024, 5, 13, 4, 0, tzinfo=UTC)
STEP_TIMEOUT = timedelta(seconds=10)
COMPENSATION_TIMEOUT = timedelta(seconds=30)
MAX_COMPENSATION_ATTEMPTS = 3
NAMES = ("a", "b", "c")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def a_definition(
    *, pivot: str | None = None, max_compensation_attempts: int = MAX_COMPENSATION_ATTEMPTS
) -> SagaDefinition:
    return SagaDefinition(
        steps=tuple(StepDefinition(name, STEP_TIMEOUT, pivot=name == pivot) for name in NAMES),
        compensation_timeout=COMPENSATION_TIMEOUT,
        max_compensation_attempts=max_compensation_attempts,
    )


def run(definition: SagaDefinition, events: Iterable[SagaEvent]) -> list[Decision]:
    """Feed the events to a new saga, one after the other; the decisions in order."""
    state = new_saga(definition)
    decisions: list[Decision] = []
    for event in events:
        decision = decide(definition, state, event)
        decisions.append(decision)
        state = decision.state
    return decisions


def statuses(state: SagaState) -> dict[str, StepStatus]:
    return {s.name: s.status for s in state.steps}
