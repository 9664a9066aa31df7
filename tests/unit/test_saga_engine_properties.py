"""Property tests of the pure saga engine: any event sequence keeps the saga invariants, and every state
along a run survives its JSON round trip."""

from datetime import datetime
from typing import Literal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.engine import (
    CompensateStep,
    SagaEvent,
    SagaState,
    SagaStatus,
    StartSaga,
    StepCompensationDone,
    StepFailedEvent,
    StepStatus,
    StepSucceeded,
    Tick,
    decide,
    new_saga,
)
from orchestrator.engine.serialization import state_from_dict, state_to_dict
from tests.unit.saga_runs import NAMES, T0, a_definition, at, run

pytestmark = pytest.mark.unit

EventKind = Literal["start", "success", "failure", "compensated", "tick"]
CURRENT = "current"
"""A step token meaning "the step in flight" (running or compensating), so that random runs get far."""

Draw = tuple[EventKind, str, int]
"""(kind of event, step name or CURRENT, seconds since the previous event)."""


def in_flight(state: SagaState) -> str:
    busy = [s.name for s in state.steps if s.status in (StepStatus.RUNNING, StepStatus.COMPENSATING)]
    return busy[0] if busy else NAMES[0]


def event_for(draw: Draw, state: SagaState, now: datetime) -> SagaEvent:
    kind, token, _ = draw
    step = in_flight(state) if token == CURRENT else token
    if kind == "start":
        return StartSaga(now)
    if kind == "success":
        return StepSucceeded(step, now)
    if kind == "failure":
        return StepFailedEvent(step, "random failure", now)
    if kind == "compensated":
        return StepCompensationDone(step, now)
    return Tick(now)


# Repeated entries weight the draws: mostly replies about the step in flight, now and then a stray one.
event_draws = st.lists(
    st.tuples(
        st.sampled_from(("success", "success", "success", "compensated", "compensated", "tick", "failure", "start")),
        st.sampled_from((CURRENT, CURRENT, CURRENT, CURRENT, *NAMES, "z")),
        st.integers(0, 15),
    ),
    min_size=3,
    max_size=40,
)
pivots = st.sampled_from((None, *NAMES))

# b times out after a succeeded, then b and a are compensated (a after one re-send): not vacuous.
COMPENSATED_RUN: list[Draw] = [
    ("success", "a", 1),
    ("tick", CURRENT, 11),
    ("compensated", "b", 1),
    ("tick", CURRENT, 31),
    ("compensated", "a", 1),
]
C_FAILS_THEN_COMPENSATED_RUN: list[Draw] = [
    ("success", "a", 1),
    ("success", "b", 1),
    ("failure", "c", 1),
    ("compensated", "b", 1),
    ("tick", CURRENT, 31),
    ("compensated", "a", 1),
]


@settings(max_examples=400)
@given(draws=event_draws, pivot=pivots, max_attempts=st.integers(1, 4))
@example(draws=COMPENSATED_RUN, pivot=None, max_attempts=2)
@example(draws=C_FAILS_THEN_COMPENSATED_RUN, pivot=None, max_attempts=2)
@example(draws=C_FAILS_THEN_COMPENSATED_RUN, pivot=None, max_attempts=1)  # gives up on a: FAILED
def test_any_event_sequence_keeps_the_saga_invariants(draws: list[Draw], pivot: str | None, max_attempts: int) -> None:
    definition = a_definition(pivot=pivot, max_compensation_attempts=max_attempts)
    state = decide(definition, new_saga(definition), StartSaga(T0)).state
    first_compensations: list[int] = []
    seconds = 0

    for draw in draws:
        seconds += draw[2]
        event = event_for(draw, state, at(seconds))
        decision = decide(definition, state, event)  # never raises

        if decision.note:
            assert decision.state == state, "an ignored event must leave the state unchanged"
            assert decision.commands == ()
        else:
            assert decision.commands, "a state change must come with something to do"
        if state.status.terminal:
            assert decision.state == state
        assert sum(s.status is StepStatus.RUNNING for s in decision.state.steps) <= 1
        for command in decision.commands:
            if isinstance(command, CompensateStep) and command.attempt == 1:
                index = NAMES.index(command.step)
                before = state.steps[index]
                timed_out_now = (
                    isinstance(event, Tick)
                    and before.status is StepStatus.RUNNING
                    and before.deadline is not None
                    and before.deadline <= event.now
                )  # a step that times out is compensated in the same decision
                assert before.status in (StepStatus.DONE, StepStatus.TIMED_OUT) or timed_out_now
                first_compensations.append(index)
        assert state_from_dict(state_to_dict(decision.state)) == decision.state
        state = decision.state

    assert first_compensations == sorted(set(first_compensations), reverse=True), "strictly reverse step order"
    if state.status is SagaStatus.COMPENSATED:
        assert not any(
            s.status in (StepStatus.DONE, StepStatus.TIMED_OUT, StepStatus.COMPENSATING) for s in state.steps
        ), "a compensated saga leaves nothing with effects behind"
        assert all(state.steps[i].status is StepStatus.COMPENSATED for i in first_compensations)
    if state.status is SagaStatus.COMPLETED:
        assert first_compensations == []
        assert all(s.status is StepStatus.DONE for s in state.steps)


def test_serialization_round_trips_every_state_along_a_run() -> None:
    decisions = run(
        a_definition(),
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1.5)),
            StepSucceeded("b", at(2)),
            StepFailedEvent("c", "flour: no supplier «Müller»", at(3)),
            Tick(at(33)),
            StepCompensationDone("b", at(34)),
            StepCompensationDone("a", at(35)),
        ],
    )
    states = [new_saga(a_definition()), *(d.state for d in decisions)]

    for state in states:
        assert state_from_dict(state_to_dict(state)) == state
    assert states[-1].status is SagaStatus.COMPENSATED
    assert state_to_dict(states[1])["steps"][0] == {
        "name": "a",
        "status": "RUNNING",
        "started_at": "2024-05-13T04:00:00+00:00",
        "finished_at": None,
        "deadline": "2024-05-13T04:00:10+00:00",
        "attempts": 1,
        "detail": "",
    }
