"""Unit tests of the pure saga engine: forward steps, reverse compensation, timeouts, pivots, and the
definitions it refuses."""

import pytest

from orchestrator.engine import (
    CompensateStep,
    FinishSaga,
    RunStep,
    SagaDefinition,
    SagaStatus,
    StartSaga,
    StepCompensationDone,
    StepDefinition,
    StepFailedEvent,
    StepStatus,
    StepSucceeded,
    Tick,
    decide,
    new_saga,
)
from tests.unit.saga_runs import COMPENSATION_TIMEOUT, STEP_TIMEOUT, a_definition, at, run, statuses

pytestmark = pytest.mark.unit


# --- forward -----------------------------------------------------------------------------------------


def test_start_runs_the_first_step_with_its_deadline() -> None:
    decision = decide(a_definition(), new_saga(a_definition()), StartSaga(at(0)))

    assert decision.commands == (RunStep("a"),)
    assert decision.state.status is SagaStatus.RUNNING
    first = decision.state.step("a")
    assert first.status is StepStatus.RUNNING
    assert first.started_at == at(0)
    assert first.deadline == at(10)
    assert first.attempts == 1
    assert decision.state.next_deadline == at(10)
    assert statuses(decision.state) == {"a": StepStatus.RUNNING, "b": StepStatus.PENDING, "c": StepStatus.PENDING}


def test_starting_twice_is_ignored() -> None:
    definition = a_definition()
    started = decide(definition, new_saga(definition), StartSaga(at(0))).state

    again = decide(definition, started, StartSaga(at(1)))

    assert again.state == started
    assert again.commands == ()
    assert "already started" in again.note


def test_successes_run_the_steps_in_order_and_complete_the_saga() -> None:
    decisions = run(
        a_definition(),
        [StartSaga(at(0)), StepSucceeded("a", at(1)), StepSucceeded("b", at(2)), StepSucceeded("c", at(3))],
    )

    assert [d.commands for d in decisions] == [
        (RunStep("a"),),
        (RunStep("b"),),
        (RunStep("c"),),
        (FinishSaga(SagaStatus.COMPLETED),),
    ]
    final = decisions[-1].state
    assert final.status is SagaStatus.COMPLETED
    assert set(statuses(final).values()) == {StepStatus.DONE}
    assert final.step("b").started_at == at(1)
    assert final.step("b").finished_at == at(2)
    assert final.next_deadline is None


def test_tick_before_the_deadline_changes_nothing() -> None:
    definition = a_definition()
    started = decide(definition, new_saga(definition), StartSaga(at(0))).state

    decision = decide(definition, started, Tick(at(9.999)))

    assert decision.state == started
    assert decision.commands == ()
    assert decision.note == "no deadline due"


# --- compensation ------------------------------------------------------------------------------------


def test_failure_of_the_last_step_compensates_the_done_steps_in_reverse_order() -> None:
    decisions = run(
        a_definition(),
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),
            StepSucceeded("b", at(2)),
            StepFailedEvent("c", "oven broken", at(3)),
            StepCompensationDone("b", at(4)),
            StepCompensationDone("a", at(5)),
        ],
    )

    failed, b_undone, a_undone = decisions[3:]
    assert failed.commands == (CompensateStep("b", 1),)
    assert failed.state.status is SagaStatus.COMPENSATING
    assert failed.state.reason == "c: oven broken"
    assert failed.state.step("c").status is StepStatus.FAILED
    assert failed.state.step("c").detail == "oven broken"
    assert failed.state.step("b").deadline == at(3) + COMPENSATION_TIMEOUT
    assert b_undone.commands == (CompensateStep("a", 1),)
    assert a_undone.commands == (FinishSaga(SagaStatus.COMPENSATED, "c: oven broken"),)
    assert a_undone.state.status is SagaStatus.COMPENSATED
    assert statuses(a_undone.state) == {
        "a": StepStatus.COMPENSATED,
        "b": StepStatus.COMPENSATED,
        "c": StepStatus.FAILED,
    }
    assert a_undone.state.next_deadline is None


def test_failure_of_the_first_step_ends_compensated_without_compensating_anything() -> None:
    decisions = run(a_definition(), [StartSaga(at(0)), StepFailedEvent("a", "no sales history", at(1))])

    final = decisions[-1]
    assert final.commands == (FinishSaga(SagaStatus.COMPENSATED, "a: no sales history"),)
    assert final.state.status is SagaStatus.COMPENSATED
    assert statuses(final.state) == {"a": StepStatus.FAILED, "b": StepStatus.PENDING, "c": StepStatus.PENDING}


def test_a_timed_out_step_is_compensated_first_because_it_may_have_made_effects() -> None:
    decisions = run(
        a_definition(),
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),  # b runs with a deadline at 11 s
            Tick(at(11)),
            StepCompensationDone("b", at(12)),
            StepCompensationDone("a", at(13)),
        ],
    )

    timed_out, b_undone, a_undone = decisions[2:]
    assert timed_out.state.step("b").status is StepStatus.COMPENSATING
    assert timed_out.state.step("b").detail == "no reply before the deadline"
    assert timed_out.state.reason == "b: no reply before the deadline"
    assert timed_out.commands == (CompensateStep("b", 1),)
    assert b_undone.commands == (CompensateStep("a", 1),)
    assert a_undone.commands == (FinishSaga(SagaStatus.COMPENSATED, "b: no reply before the deadline"),)
    assert statuses(a_undone.state) == {
        "a": StepStatus.COMPENSATED,
        "b": StepStatus.COMPENSATED,
        "c": StepStatus.PENDING,
    }


def test_a_step_timing_out_after_a_completed_pivot_is_compensated_then_the_saga_fails() -> None:
    """The timed-out step may have made effects, so it is undone even though it follows a pivot."""
    definition = a_definition(pivot="a")
    decisions = run(definition, [StartSaga(at(0)), StepSucceeded("a", at(1)), Tick(at(11))])

    before_tick = decisions[1].state
    assert before_tick.step("b").status is StepStatus.RUNNING
    timed_out = decisions[2]
    assert timed_out.commands == (CompensateStep("b", 1),)
    # Once its compensation is done, `a` is behind the pivot: the saga fails forward.
    done = decide(definition, timed_out.state, StepCompensationDone("b", at(12)))
    assert done.state.status is SagaStatus.FAILED
    assert statuses(done.state) == {"a": StepStatus.DONE, "b": StepStatus.COMPENSATED, "c": StepStatus.PENDING}


def test_late_success_after_a_timeout_is_ignored_with_a_note() -> None:
    decisions = run(a_definition(), [StartSaga(at(0)), StepSucceeded("a", at(1)), Tick(at(11))])
    compensating = decisions[-1].state

    late = decide(a_definition(), compensating, StepSucceeded("b", at(12)))

    assert late.state == compensating
    assert late.commands == ()
    assert "late or duplicate result of 'b'" in late.note


def test_duplicate_success_is_ignored_with_a_note() -> None:
    decisions = run(a_definition(), [StartSaga(at(0)), StepSucceeded("a", at(1))])
    b_running = decisions[-1].state

    duplicate = decide(a_definition(), b_running, StepSucceeded("a", at(2)))

    assert duplicate.state == b_running
    assert duplicate.commands == ()
    assert "'a'" in duplicate.note
    assert "DONE" in duplicate.note


def test_duplicate_failure_and_early_compensation_reply_are_ignored() -> None:
    definition = a_definition()
    decisions = run(definition, [StartSaga(at(0)), StepSucceeded("a", at(1)), StepFailedEvent("b", "x", at(2))])
    compensating_a = decisions[-1].state

    again = decide(definition, compensating_a, StepFailedEvent("b", "x", at(3)))
    wrong_step = decide(definition, compensating_a, StepCompensationDone("b", at(3)))

    assert (again.state, again.commands) == (compensating_a, ())
    assert "late or duplicate failure of 'b'" in again.note
    assert (wrong_step.state, wrong_step.commands) == (compensating_a, ())
    assert "compensation reply of 'b'" in wrong_step.note


def test_an_unanswered_compensation_is_resent_with_the_next_attempt() -> None:
    definition = a_definition()
    decisions = run(
        definition,
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),
            StepFailedEvent("b", "no capacity", at(2)),  # compensate a, deadline 32 s
            Tick(at(31)),
            Tick(at(32)),
            Tick(at(62)),
        ],
    )

    first, too_early, second, third = decisions[2:]
    assert first.commands == (CompensateStep("a", 1),)
    assert too_early.commands == ()
    assert too_early.note == "no deadline due"
    assert second.commands == (CompensateStep("a", 2),)
    assert second.state.step("a").attempts == 2
    assert second.state.step("a").deadline == at(32) + COMPENSATION_TIMEOUT
    assert third.commands == (CompensateStep("a", 3),)
    assert third.state.status is SagaStatus.COMPENSATING

    answered = decide(definition, third.state, StepCompensationDone("a", at(63)))
    assert answered.commands == (FinishSaga(SagaStatus.COMPENSATED, "b: no capacity"),)


def test_compensation_unanswered_after_the_max_attempts_fails_the_saga() -> None:
    definition = a_definition(max_compensation_attempts=2)
    decisions = run(
        definition,
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),
            StepFailedEvent("b", "no capacity", at(2)),
            Tick(at(32)),  # attempt 2
            Tick(at(62)),  # attempt 2 unanswered: give up
        ],
    )

    resent, gave_up = decisions[3:]
    assert resent.commands == (CompensateStep("a", 2),)
    assert gave_up.state.status is SagaStatus.FAILED
    assert gave_up.state.next_deadline is None
    (finish,) = gave_up.commands
    assert isinstance(finish, FinishSaga)
    assert finish.status is SagaStatus.FAILED
    assert finish.reason.startswith("b: no capacity")
    assert "compensation of 'a' unanswered after 2 attempts" in finish.reason
    assert gave_up.state.reason == finish.reason


def test_after_a_pivot_step_completed_a_later_failure_compensates_nothing_and_fails() -> None:
    decisions = run(
        a_definition(pivot="b"),
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),
            StepSucceeded("b", at(2)),
            StepFailedEvent("c", "supplier gone", at(3)),
        ],
    )

    final = decisions[-1]
    assert not any(isinstance(c, CompensateStep) for d in decisions for c in d.commands)
    (finish,) = final.commands
    assert isinstance(finish, FinishSaga)
    assert finish.status is SagaStatus.FAILED
    assert finish.reason == "c: supplier gone; a pivot step completed, so it is handled forward"
    assert final.state.status is SagaStatus.FAILED
    assert statuses(final.state) == {"a": StepStatus.DONE, "b": StepStatus.DONE, "c": StepStatus.FAILED}


def test_a_pivot_step_that_did_not_complete_does_not_stop_compensation() -> None:
    decisions = run(
        a_definition(pivot="b"),
        [
            StartSaga(at(0)),
            StepSucceeded("a", at(1)),
            StepFailedEvent("b", "x", at(2)),
            StepCompensationDone("a", at(3)),
        ],
    )

    assert decisions[2].commands == (CompensateStep("a", 1),)
    assert decisions[3].state.status is SagaStatus.COMPENSATED


def test_a_definition_rejects_duplicate_step_names() -> None:
    with pytest.raises(ValueError, match=r"unique step names.*\['a', 'b', 'a'\]"):
        SagaDefinition(
            steps=(
                StepDefinition("a", STEP_TIMEOUT),
                StepDefinition("b", STEP_TIMEOUT),
                StepDefinition("a", STEP_TIMEOUT),
            )
        )


def test_a_definition_rejects_no_steps() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        SagaDefinition(steps=())
