"""Stateful property test of the pure saga engine, driven by a simulated world.

One saga of a drawn definition meets what a bus and workers really do: replies come late, twice, out
of order, or for steps that never ran; the clock ticks before, at and after deadlines; the
orchestrator crashes and reloads the saga's state from its JSON form. After every step the engine's
promises are checked against the whole history of transitions: terminal states are final, steps run
forward one at a time, compensation undoes exactly the steps that may have made effects, in reverse
order, once each, never at or before a completed pivot, re-sent only after its deadline and at most
`max_compensation_attempts` times; the saga finishes once, with a status its history justifies; and a
world that falls silent still leaves it terminal within a bounded number of ticks (DESIGN.md
invariants 1 and 4).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from orchestrator.engine import (
    CompensateStep,
    Decision,
    RunStep,
    SagaDefinition,
    SagaEvent,
    SagaStatus,
    StartSaga,
    StepCompensationDone,
    StepDefinition,
    StepStatus,
    Tick,
    decide,
    new_saga,
)
from orchestrator.engine.serialization import state_from_dict, state_to_dict
from tests.unit.saga_world import (
    MAX_STEPS,
    REPLY_KINDS,
    REPLY_STEP_NAMES,
    STEP_NAMES,
    Facts,
    Job,
    Reply,
    ReplyKind,
    Transition,
    saga_definitions,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 13, 4, 0, tzinfo=UTC)
ONE_TICK = timedelta(microseconds=1)  # the finest step the JSON round trip keeps
ONE_SECOND = timedelta(seconds=1)  # shorter than any drawn timeout
SILENCE_AFTER_TRANSITIONS = 12
MAX_EVENTS_IN_SILENCE = 100  # far more than a correct engine needs; stops one that keeps asking

TickTiming = Literal["now", "just before the deadline", "at the deadline", "just after the deadline", "later"]
# Most ticks find nothing due, as in production where ticks are frequent and deadlines are not.
TICK_TIMINGS: tuple[TickTiming, ...] = (
    "now",
    "later",
    "later",
    "just before the deadline",
    "at the deadline",
    "just after the deadline",
)


class SagaInAWorld(RuleBasedStateMachine):
    """One saga, its engine state, and a world of workers and a bus that answer it.

    `jobs` is the work asked for and not answered yet; `pending` the replies on the bus, delivered in
    any order and possibly twice; `delivered` every reply handled so far, for redelivery.
    """

    def __init__(self) -> None:
        super().__init__()
        # Placeholders until `start` draws the definition; invariants do not run before it.
        self.definition = SagaDefinition(steps=(StepDefinition(STEP_NAMES[0], timedelta(seconds=1)),))
        self.state = new_saga(self.definition)
        self.clock = T0
        self.transitions: list[Transition] = []
        self.jobs: list[Job] = []
        self.pending: list[Reply] = []
        self.delivered: list[tuple[Reply, SagaEvent, bool]] = []
        """Every reply handled, the event it became, and whether the engine acted on it."""
        self.answering: Literal["everybody", "compensation workers", "nobody"] = "everybody"
        self.drained = False
        self.must_end_undone = False
        self._checked: dict[str, int] = {}
        self._facts_by_invariant: dict[str, Facts] = {}

    # --- driving the engine -------------------------------------------------------------------------

    def _apply(self, event: SagaEvent) -> Decision:
        """Feed one event to the engine (which must not raise) and let the world take its commands."""
        before = self.state
        decision = decide(self.definition, before, event)
        self.transitions.append(Transition(event, before, decision))
        self.state = decision.state
        for command in decision.commands:
            if isinstance(command, RunStep) and self.answering == "everybody":
                self.jobs.append(Job("run", command.step))
            elif isinstance(command, CompensateStep) and self.answering != "nobody":
                self.jobs.append(Job("compensate", command.step))
        return decision

    def _deliver(self, reply: Reply) -> None:
        before = self.state
        event = reply.handled_at(self.clock)
        decision = self._apply(event)
        self.delivered.append((reply, event, decision.state != before))

    @initialize(definition=saga_definitions(), head_start=st.integers(0, MAX_STEPS - 1))
    def start(self, definition: SagaDefinition, head_start: int) -> None:
        """Start the saga and let its first `head_start` steps (never all) succeed promptly, so that
        runs often reach later steps and completed pivots before things go wrong; the rules would
        reach them rarely, as a step's deadline races its reply in every one of them."""
        self.definition = definition
        self.state = new_saga(definition)
        self._apply(StartSaga(self.clock))
        for _ in range(min(head_start, len(definition.steps) - 1)):
            job = self.jobs.pop()
            self.clock += ONE_SECOND
            self._deliver(Reply("succeeded", job.step))

    # --- the world ----------------------------------------------------------------------------------

    @precondition(lambda self: bool(self.jobs))
    # Steps mostly succeed, so that sagas get deep enough to have several steps to undo.
    @rule(pick=st.integers(0, 63), succeeds=st.sampled_from((True, True, True, False)), delivered_at_once=st.booleans())
    def worker_answers(self, pick: int, succeeds: bool, delivered_at_once: bool) -> None:
        """A worker finishes a job (a step, or its compensation, which always succeeds) and replies;
        the reply reaches the orchestrator at once (the common case) or waits on the bus."""
        job = self.jobs.pop(pick % len(self.jobs))
        kind: ReplyKind = "compensated" if job.kind == "compensate" else "succeeded" if succeeds else "failed"
        if delivered_at_once:
            self._deliver(Reply(kind, job.step))
        else:
            self.pending.append(Reply(kind, job.step))

    @precondition(lambda self: bool(self.pending))
    @rule(
        pick=st.integers(0, 63),
        duplicated=st.booleans(),
        wait_seconds=st.just(0) | st.integers(1, 90),
    )
    def bus_delivers(self, pick: int, duplicated: bool, wait_seconds: int) -> None:
        """Any pending reply, not only the oldest (reordering); a duplicated one stays on the bus.
        Time may pass first, so a reply can arrive after its deadline but before the next tick."""
        index = pick % len(self.pending)
        reply = self.pending[index] if duplicated else self.pending.pop(index)
        self.clock += timedelta(seconds=wait_seconds)
        self._deliver(reply)

    @precondition(lambda self: bool(self.delivered))
    @rule(pick=st.integers(0, 63), stamped_again=st.booleans())
    def bus_redelivers(self, pick: int, stamped_again: bool) -> None:
        """A reply handled before comes again, stamped with the time it is handled now (as the service
        does) or as the very same event; if it was acted on then, it must change nothing now."""
        reply, event, acted_on = self.delivered[pick % len(self.delivered)]
        before = self.state
        decision = self._apply(reply.handled_at(self.clock) if stamped_again else event)
        if acted_on:
            assert decision.state == before, f"redelivered {reply} changed the saga: {before} -> {decision.state}"
            assert not decision.commands, f"redelivered {reply} caused {decision.commands}"

    @rule(step=st.sampled_from(REPLY_STEP_NAMES), kind=st.sampled_from(REPLY_KINDS))
    def stray_reply(self, step: str, kind: ReplyKind) -> None:
        """A reply nobody is waiting for: late, early, spurious, or for a step the saga does not have."""
        self._deliver(Reply(kind, step))

    @rule(when=st.sampled_from(TICK_TIMINGS), later_seconds=st.integers(0, 10))
    def clock_ticks(self, when: TickTiming, later_seconds: int) -> None:
        """Time passes, aimed around the next deadline; the clock never runs backwards."""
        deadline = self.state.next_deadline
        if deadline is None or when == "later":
            target = self.clock + timedelta(seconds=later_seconds)
        elif when == "now":
            target = self.clock
        elif when == "just before the deadline":
            target = deadline - ONE_TICK
        elif when == "at the deadline":
            target = deadline
        else:
            target = deadline + ONE_TICK
        self.clock = max(self.clock, target)
        self._apply(Tick(self.clock))

    @rule()
    def orchestrator_restarts(self) -> None:
        """Crash and reload: the state goes through its stored JSON form and must come back equal."""
        stored = json.dumps(state_to_dict(self.state))
        reloaded = state_from_dict(json.loads(stored))
        assert reloaded == self.state, f"reload changed the state: {self.state} -> {reloaded}"
        self.state = reloaded

    @rule()
    def trigger_fires_again(self) -> None:
        """A second trigger for a saga that runs or has ended is a no-op."""
        before = self.state
        decision = self._apply(StartSaga(self.clock))
        assert decision.state == before, f"a second StartSaga changed the saga: {decision}"
        assert not decision.commands, f"a second StartSaga caused commands: {decision}"

    # Not before the saga has had some history: a world that falls silent at once leaves the rest of
    # the run with a finished saga, and most runs would test little else.
    @precondition(lambda self: not self.drained and len(self.transitions) >= SILENCE_AFTER_TRANSITIONS)
    @rule(compensations_answered=st.booleans())
    def world_falls_silent(self, compensations_answered: bool) -> None:
        """Liveness. What is on the bus is delivered; then no step worker answers any more, and either
        no compensation worker does either, or each answers as soon as it is asked. Each tick moves the
        clock far past every deadline. One tick times out a running step; each of the at most
        `max_compensation_attempts` sends of the compensation under way expires in one more tick, and
        unanswered, it ends the saga — so that many ticks must suffice. Answered compensations need no
        tick, and then nothing that may have made effects may be left undone."""
        self.answering = "compensation workers" if compensations_answered else "nobody"
        self.must_end_undone = compensations_answered and not self.state.status.terminal
        self.jobs = [job for job in self.jobs if job.kind == "compensate" and compensations_answered]
        ticks = 0
        for _ in range(MAX_EVENTS_IN_SILENCE):
            if self.pending:
                self._deliver(self.pending.pop(0))
            elif self.jobs:
                self._deliver(Reply("compensated", self.jobs.pop(0).step))
            elif self.state.status.terminal or ticks > self.definition.max_compensation_attempts:
                break
            else:
                ticks += 1
                self.clock += timedelta(days=1)
                self._apply(Tick(self.clock))
        self.answering = "everybody"
        self.drained = True

    # --- invariants: each sees every transition once, right after the rule that made it -------------

    def _unchecked(self, invariant: str) -> list[Transition]:
        """The transitions `invariant` has not checked yet (a rule may make several, e.g. the drain)."""
        seen = self._checked.get(invariant, 0)
        self._checked[invariant] = len(self.transitions)
        return self.transitions[seen:]

    def _facts(self, invariant: str) -> Facts:
        """`invariant`'s own view of the history, so that invariants do not depend on each other's order."""
        return self._facts_by_invariant.setdefault(invariant, Facts(self.definition))

    @invariant()
    def terminal_states_are_final_and_ignored_events_change_nothing(self) -> None:
        for t in self._unchecked("final"):
            if t.before.status.terminal or t.decision.note:
                assert t.after == t.before, f"{t.event} changed a saga it ignored or that had ended: {t}"
                assert not t.decision.commands, f"{t.event} caused commands it should not have: {t}"

    @invariant()
    def a_live_saga_always_has_a_deadline(self) -> None:
        """Otherwise no tick could ever move it on when replies stop."""
        if not self.state.status.terminal:
            assert self.state.next_deadline is not None, f"{self.state.status} saga without a deadline"

    @invariant()
    def steps_run_forward_one_at_a_time(self) -> None:
        facts = self._facts("forward")
        for t in self._unchecked("forward"):
            started = set(facts.started)
            facts.observe(t)
            running = [k for k, s in enumerate(t.after.steps) if s.status is StepStatus.RUNNING]
            assert len(running) <= 1, f"several steps running: {t.after}"
            assert not running or t.after.status is SagaStatus.RUNNING, f"a step runs in a {t.after.status} saga"
            assert set(running) <= facts.started, f"step {running} RUNNING without a RunStep"
            for command in t.decision.commands:
                if not isinstance(command, RunStep):
                    continue
                k = facts.index(command.step)
                assert k not in started, f"step {command.step} started twice, by {t}"
                started.add(k)
                statuses = [s.status for s in t.after.steps]
                assert statuses[:k] == [StepStatus.DONE] * k, f"RunStep({command.step}) before earlier steps: {t}"
                assert statuses[k] is StepStatus.RUNNING, f"RunStep({command.step}) but step is {statuses[k]}"
                assert all(s is StepStatus.PENDING for s in statuses[k + 1 :]), f"later steps moved: {t}"

    @invariant()
    def compensation_undoes_effects_once_in_reverse_order(self) -> None:
        maximum = self.definition.max_compensation_attempts
        facts = self._facts("compensation")
        for t in self._unchecked("compensation"):
            last = facts.compensations[-1] if facts.compensations else None
            undone_before = set(facts.compensated)
            facts.observe(t)
            for k in facts.compensated - undone_before:
                assert isinstance(t.event, StepCompensationDone), f"step {k} COMPENSATED without a reply: {t}"
                assert last is not None, f"step {k} COMPENSATED but no compensation was ever asked: {t}"
                assert facts.index(last.step) == k, f"step {k} COMPENSATED while {last} was outstanding: {t}"
            for command in t.decision.commands:
                if not isinstance(command, CompensateStep):
                    continue
                k = facts.index(command.step)
                where = f"{command} by {t.event}"
                assert k in facts.started, f"{where}: that step never ran"
                assert k in facts.may_have_effects, f"{where}: that step neither completed nor timed out"
                assert k > facts.last_completed_pivot, f"{where}: at or before a completed pivot"
                assert k not in facts.compensated, f"{where}: that step is COMPENSATED already"
                assert facts.still_to_undo()[:1] == [k], f"{where}: not the latest step to undo {facts.still_to_undo()}"
                if last is not None and last.step == command.step:
                    deadline = t.before.steps[k].deadline
                    assert command.attempt == last.attempt + 1, f"{where}: previous attempt was {last.attempt}"
                    assert isinstance(t.event, Tick), f"{where}: a re-send must come from a tick"
                    assert deadline is not None, f"{where}: the compensation had no deadline"
                    assert t.event.now >= deadline, f"{where}: before its deadline {deadline}"
                else:
                    assert command.attempt == 1, f"{where}: first compensation of a step must be attempt 1"
                    assert last is None or facts.index(last.step) in facts.compensated, f"{where}: {last} not done"
                assert command.attempt <= maximum, f"{where}: more than {maximum} attempts"
                assert t.after.status is SagaStatus.COMPENSATING, f"{where}: saga is {t.after.status}"
                last = command

    @invariant()
    def the_saga_finishes_once_with_the_status_it_ends_in(self) -> None:
        facts = self._facts("finish")
        for t in self._unchecked("finish"):
            facts.observe(t)
        status = self.state.status
        if not status.terminal:
            assert not facts.finishes, f"FinishSaga for a {status} saga: {facts.finishes}"
            return
        assert len(facts.finishes) == 1, f"{len(facts.finishes)} FinishSaga commands: {facts.finishes}"
        t, finish = facts.finishes[0]
        assert finish.status is status, f"FinishSaga({finish.status}) but the saga is {status}"
        assert not t.before.status.terminal, f"FinishSaga from a saga that had ended: {t}"
        assert t.after.status is status, f"FinishSaga not where the saga ended: {t}"

    @invariant()
    def a_terminal_status_is_justified_by_the_history(self) -> None:
        facts = self._facts("justified")
        for t in self._unchecked("justified"):
            facts.observe(t)
        steps = self.state.steps
        if self.state.status is SagaStatus.COMPLETED:
            assert all(s.status is StepStatus.DONE for s in steps), f"COMPLETED with {steps}"
            assert not facts.compensations, f"COMPLETED after {facts.compensations}"
        elif self.state.status is SagaStatus.COMPENSATED:
            assert not facts.completed_pivots, f"COMPENSATED although pivot(s) {facts.completed_pivots} completed"
            assert all(steps[k].status is StepStatus.COMPENSATED for k in facts.may_have_effects), (
                f"COMPENSATED but steps {sorted(facts.may_have_effects)} that may have made effects are {steps}"
            )
        elif self.state.status is SagaStatus.FAILED:
            assert facts.finishes, "FAILED without a FinishSaga"
            finishing, _ = facts.finishes[0]
            last_attempt = self.definition.max_compensation_attempts
            exhausted = isinstance(finishing.event, Tick) and any(
                s.status is StepStatus.COMPENSATING
                and s.deadline is not None
                and s.deadline <= finishing.event.now
                and CompensateStep(s.name, last_attempt) in facts.compensations
                for s in finishing.before.steps
            )
            handled_forward = bool(facts.completed_pivots) and not facts.still_to_undo()
            assert exhausted or handled_forward, (
                f"FAILED with no pivot completed and no compensation exhausted: {self.state}"
            )

    @invariant()
    def a_silent_world_leaves_the_saga_terminal(self) -> None:
        facts = self._facts("liveness")
        for t in self._unchecked("liveness"):
            facts.observe(t)
        if not self.drained:
            return
        assert self.state.status.terminal, f"still {self.state.status} after the world fell silent: {self.state}"
        if self.must_end_undone and self.state.status is not SagaStatus.COMPLETED:
            assert not facts.still_to_undo(), (
                f"compensations were answered, yet steps {facts.still_to_undo()} were left undone: {self.state}"
            )


TestSagaEngineStateful = SagaInAWorld.TestCase
TestSagaEngineStateful.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
