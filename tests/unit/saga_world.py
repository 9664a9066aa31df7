"""The simulated world of the stateful saga engine test: the definitions it draws, the jobs and
replies its workers and bus pass around, and the history of transitions with what it says about
each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from hypothesis import strategies as st

from orchestrator.engine import (
    CompensateStep,
    Decision,
    FinishSaga,
    RunStep,
    SagaDefinition,
    SagaEvent,
    SagaState,
    StepCompensationDone,
    StepDefinition,
    StepFailedEvent,
    StepStatus,
    StepSucceeded,
    Tick,
)

MAX_STEPS = 4
STEP_NAMES = tuple(f"s{i}" for i in range(MAX_STEPS))
# Replies may name a step the drawn definition lacks: any name past its size, and one no definition has.
REPLY_STEP_NAMES = (*STEP_NAMES, "ghost")

ReplyKind = Literal["succeeded", "failed", "compensated"]
REPLY_KINDS: tuple[ReplyKind, ...] = ("succeeded", "failed", "compensated")


@st.composite
def saga_definitions(draw: st.DrawFn) -> SagaDefinition:
    """2–4 steps with their own timeouts, at most one pivot, 1–3 compensation attempts."""
    size = draw(st.integers(2, MAX_STEPS))
    pivot = draw(st.none() | st.integers(0, size - 1))
    return SagaDefinition(
        steps=tuple(
            StepDefinition(STEP_NAMES[i], timedelta(seconds=draw(st.integers(1, 60))), pivot=i == pivot)
            for i in range(size)
        ),
        compensation_timeout=timedelta(seconds=draw(st.integers(1, 60))),
        max_compensation_attempts=draw(st.integers(1, 3)),
    )


@dataclass(frozen=True)
class Reply:
    """A worker's answer on the bus. It carries no time: the orchestrator stamps the time it handles it."""

    kind: ReplyKind
    step: str

    def handled_at(self, now: datetime) -> SagaEvent:
        if self.kind == "succeeded":
            return StepSucceeded(self.step, now)
        if self.kind == "failed":
            return StepFailedEvent(self.step, "the worker refused", now)
        return StepCompensationDone(self.step, now)


@dataclass(frozen=True)
class Job:
    """Work the engine asked of the world: run a step, or undo it."""

    kind: Literal["run", "compensate"]
    step: str


@dataclass(frozen=True)
class Transition:
    event: SagaEvent
    before: SagaState
    decision: Decision

    @property
    def after(self) -> SagaState:
        return self.decision.state


@dataclass
class Facts:
    """What the history so far says about each step (by index), built transition by transition."""

    definition: SagaDefinition
    started: set[int] = field(default_factory=set)
    """Steps a RunStep was issued for."""
    may_have_effects: set[int] = field(default_factory=set)
    """Steps that completed, or timed out while running (their worker may have acted anyway)."""
    completed_pivots: set[int] = field(default_factory=set)
    compensated: set[int] = field(default_factory=set)
    compensations: list[CompensateStep] = field(default_factory=list)
    """Every CompensateStep issued, in order."""
    finishes: list[tuple[Transition, FinishSaga]] = field(default_factory=list)

    def observe(self, t: Transition) -> None:
        """Learn from the states and commands of `t` (so check a command against what was known before)."""
        for k, (before, after) in enumerate(zip(t.before.steps, t.after.steps, strict=True)):
            timed_out = isinstance(t.event, Tick) and before.status is StepStatus.RUNNING
            if after.status in (StepStatus.DONE, StepStatus.TIMED_OUT) or (
                timed_out and after.status is StepStatus.COMPENSATING
            ):
                self.may_have_effects.add(k)
            if after.status is StepStatus.DONE and self.definition.steps[k].pivot:
                self.completed_pivots.add(k)
            if after.status is StepStatus.COMPENSATED and before.status is not StepStatus.COMPENSATED:
                assert k not in self.compensated, f"step {k} reached COMPENSATED a second time in {t}"
                self.compensated.add(k)
        for command in t.decision.commands:
            if isinstance(command, RunStep):
                self.started.add(self.index(command.step))
            elif isinstance(command, CompensateStep):
                self.compensations.append(command)
            else:
                self.finishes.append((t, command))

    def index(self, step: str) -> int:
        names = [s.name for s in self.definition.steps]
        assert step in names, f"command names step {step!r}, not one of {names}"
        return names.index(step)

    @property
    def last_completed_pivot(self) -> int:
        return max(self.completed_pivots, default=-1)

    def still_to_undo(self) -> list[int]:
        """Steps that may have made effects, are not undone and follow every completed pivot; latest first."""
        return sorted(
            (k for k in self.may_have_effects if k not in self.compensated and k > self.last_completed_pivot),
            reverse=True,
        )
