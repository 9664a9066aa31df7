"""A small, pure saga core: step definitions, saga state and a transition function.

It knows no bakery words and does no I/O; adapters feed it events and carry out its commands.
"""

from orchestrator.engine.core import (
    CompensateStep,
    Decision,
    FinishSaga,
    RunStep,
    SagaCommand,
    SagaDefinition,
    SagaEvent,
    SagaState,
    SagaStatus,
    StartSaga,
    StepCompensationDone,
    StepDefinition,
    StepFailedEvent,
    StepState,
    StepStatus,
    StepSucceeded,
    Tick,
    decide,
    hold_deadlines,
    new_saga,
)

__all__ = [
    "CompensateStep",
    "Decision",
    "FinishSaga",
    "RunStep",
    "SagaCommand",
    "SagaDefinition",
    "SagaEvent",
    "SagaState",
    "SagaStatus",
    "StartSaga",
    "StepCompensationDone",
    "StepDefinition",
    "StepFailedEvent",
    "StepState",
    "StepStatus",
    "StepSucceeded",
    "Tick",
    "decide",
    "hold_deadlines",
    "new_saga",
]
