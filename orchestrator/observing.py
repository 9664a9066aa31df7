"""What a committed saga decision did, for the metrics: steps that ended and sagas that finished.

The orchestrator reports through a `SagaObserver` of plain callbacks (the composition root binds
them to Prometheus metrics, tests to lists), after the decision's transaction committed, so a
retried unit of work is not counted twice. Compensations are not timed on their own: they are in
the saga's duration with outcome COMPENSATED or FAILED.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from orchestrator.engine import Decision, SagaState, StepStatus

ENDED = (StepStatus.DONE, StepStatus.FAILED, StepStatus.TIMED_OUT)


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True)
class SagaObserver:
    saga_finished: Callable[[str, str, float], None] = _ignore
    """(kind, outcome = terminal status, seconds from the saga's start)"""
    step_finished: Callable[[str, str, str, float], None] = _ignore
    """(kind, step, outcome = DONE | FAILED | TIMED_OUT, seconds from its command)"""
    deferred: Callable[[], None] = _ignore
    """A trigger waited for admission (BAKEPLAN_MAX_RUNNING_SAGAS)."""


NO_OBSERVER = SagaObserver()


@dataclass(frozen=True)
class Applied:
    """A decision the orchestrator applied at `at` to a saga of `kind`, which was in state `before`."""

    kind: str
    before: SagaState
    decision: Decision
    at: datetime

    @property
    def after(self) -> SagaState:
        return self.decision.state


def observe(observer: SagaObserver, applied: Applied) -> None:
    """Report the steps `applied` ended and, if it finished the saga, the saga."""
    for old, new in zip(applied.before.steps, applied.after.steps, strict=True):
        ended = new.status in ENDED and old.status is not new.status
        if ended and new.started_at is not None and new.finished_at is not None:
            seconds = (new.finished_at - new.started_at).total_seconds()
            observer.step_finished(applied.kind, new.name, new.status.value, seconds)
    if applied.after.status.terminal and not applied.before.status.terminal:
        starts = [s.started_at for s in applied.after.steps if s.started_at is not None]
        seconds = (applied.at - min(starts)).total_seconds() if starts else 0.0
        observer.saga_finished(applied.kind, applied.after.status.value, seconds)
