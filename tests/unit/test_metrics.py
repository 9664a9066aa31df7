"""The metrics' pure parts: what a committed saga decision reports, the metrics port of each
`serve --role all` child, and a metrics port already in use."""

import socket
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from bakeplan.supervision import RestartPolicy
from bakeplan.supervisor import Supervisor
from infra.metrics import Metrics
from infra.metrics_sampling import serve_metrics
from orchestrator.engine import StartSaga, StepFailedEvent, StepSucceeded, decide, new_saga
from orchestrator.observing import Applied, SagaObserver, observe
from orchestrator.saga import daily_plan_definition

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
DAILY = daily_plan_definition(
    step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
)


class Heard:
    def __init__(self) -> None:
        self.sagas: list[tuple[str, str, float]] = []
        self.steps: list[tuple[str, str, str, float]] = []

    def observer(self) -> SagaObserver:
        return SagaObserver(
            saga_finished=lambda *a: self.sagas.append(a), step_finished=lambda *a: self.steps.append(a)
        )


def test_a_completed_saga_reports_each_step_and_its_whole_duration() -> None:
    heard = Heard()
    state = decide(DAILY, new_saga(DAILY), StartSaga(T0)).state
    at = T0
    for n, step in enumerate(s.name for s in DAILY.steps):
        at = T0 + timedelta(seconds=n + 1)
        decision = decide(DAILY, state, StepSucceeded(step, at))
        observe(heard.observer(), Applied("daily", state, decision, at))
        state = decision.state

    assert [(kind, step, outcome) for kind, step, outcome, _ in heard.steps] == [
        ("daily", s.name, "DONE") for s in DAILY.steps
    ]
    assert [seconds for *_, seconds in heard.steps] == [1.0] * len(DAILY.steps)
    assert heard.sagas == [("daily", "COMPLETED", float(len(DAILY.steps)))]


def test_a_failed_step_is_reported_failed_and_the_saga_only_when_it_ends() -> None:
    heard = Heard()
    state = decide(DAILY, new_saga(DAILY), StartSaga(T0)).state
    first = DAILY.steps[0].name
    decision = decide(DAILY, state, StepFailedEvent(first, "no sales history", T0 + timedelta(seconds=2)))
    observe(heard.observer(), Applied("daily", state, decision, T0 + timedelta(seconds=2)))

    assert heard.steps == [("daily", first, "FAILED", 2.0)]
    # nothing to compensate before the first step: the saga ends at once
    assert heard.sagas == [("daily", "COMPENSATED", 2.0)]


def test_an_ignored_duplicate_reports_nothing() -> None:
    heard = Heard()
    state = decide(DAILY, new_saga(DAILY), StartSaga(T0)).state
    step = DAILY.steps[0].name
    done = decide(DAILY, state, StepSucceeded(step, T0)).state
    duplicate = decide(DAILY, done, StepSucceeded(step, T0))
    observe(heard.observer(), Applied("daily", done, duplicate, T0))
    assert heard.steps == []
    assert heard.sagas == []


def test_each_child_of_serve_all_gets_its_own_metrics_port_also_after_a_restart() -> None:
    spawned: list[tuple[str, str]] = []

    def spawn(role: str, env: Mapping[str, str] | None) -> "subprocess.Popen[bytes]":
        spawned.append((role, (env or {})["BAKEPLAN_METRICS_PORT"]))
        return subprocess.Popen(["true"])

    policy = RestartPolicy(backoff_seconds=0, backoff_max_seconds=0, max_restarts=5, window_seconds=60)
    supervisor = Supervisor(["orchestrator", "forecasting", "forecasting"], policy, spawn=spawn, metrics_port=9464)
    for child in supervisor.children:
        supervisor._start(child)
    supervisor._start(supervisor.children[2])  # a restart

    assert spawned == [
        ("orchestrator", "9464"),
        ("forecasting", "9465"),
        ("forecasting", "9466"),
        ("forecasting", "9466"),
    ]
    off = Supervisor(["orchestrator"], policy, spawn=spawn)
    assert off.children[0].env == {"BAKEPLAN_METRICS_PORT": "0"}


def test_a_metrics_port_in_use_moves_to_a_free_one_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        bound = serve_metrics(port, Metrics().registry, addr="127.0.0.1")
    finally:
        taken.close()
    assert bound is not None
    assert bound != port
    assert f"metrics port {port} is in use" in caplog.text
    assert serve_metrics(0, Metrics().registry) is None
