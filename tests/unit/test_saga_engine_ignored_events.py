"""Unit tests of the pure saga engine: events it ignores, because the saga has ended or the step is unknown."""

import pytest

from orchestrator.engine import (
    SagaDefinition,
    SagaEvent,
    SagaStatus,
    StartSaga,
    StepCompensationDone,
    StepFailedEvent,
    StepSucceeded,
    Tick,
    decide,
    new_saga,
)
from tests.unit.saga_runs import a_definition, at, run

pytestmark = pytest.mark.unit


TERMINAL_RUNS: dict[SagaStatus, tuple[SagaDefinition, list[SagaEvent]]] = {
    SagaStatus.COMPLETED: (
        a_definition(),
        [StartSaga(at(0)), StepSucceeded("a", at(1)), StepSucceeded("b", at(2)), StepSucceeded("c", at(3))],
    ),
    SagaStatus.COMPENSATED: (a_definition(), [StartSaga(at(0)), StepFailedEvent("a", "x", at(1))]),
    SagaStatus.FAILED: (
        a_definition(pivot="a"),
        [StartSaga(at(0)), StepSucceeded("a", at(1)), StepFailedEvent("b", "x", at(2))],
    ),
}


@pytest.mark.parametrize("terminal", list(TERMINAL_RUNS), ids=str)
@pytest.mark.parametrize(
    "event",
    [
        StartSaga(at(100)),
        StepSucceeded("c", at(100)),
        StepFailedEvent("c", "late", at(100)),
        StepCompensationDone("a", at(100)),
        Tick(at(10_000)),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_terminal_saga_ignores_every_event(terminal: SagaStatus, event: SagaEvent) -> None:
    definition, events = TERMINAL_RUNS[terminal]
    state = run(definition, events)[-1].state
    assert state.status is terminal

    decision = decide(definition, state, event)

    assert decision.state == state
    assert decision.commands == ()
    assert decision.note == f"saga already {terminal}; {type(event).__name__} ignored"


@pytest.mark.parametrize(
    "event",
    [StepSucceeded("z", at(1)), StepFailedEvent("z", "x", at(1)), StepCompensationDone("z", at(1))],
    ids=lambda e: type(e).__name__,
)
def test_an_unknown_step_is_ignored(event: SagaEvent) -> None:
    definition = a_definition()
    started = decide(definition, new_saga(definition), StartSaga(at(0))).state

    decision = decide(definition, started, event)

    assert decision.state == started
    assert decision.commands == ()
    assert decision.note == "unknown step 'z' ignored"
