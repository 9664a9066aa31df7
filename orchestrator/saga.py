"""The daily planning saga: forecasting → production → procurement, and the messages that carry
out the engine's commands."""

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from contracts.envelope import Message
from contracts.messages import (
    CancelProductionBatches,
    DemandForecasted,
    DiscardForecast,
    ForecastDemand,
    PlanCompensated,
    PlanProcurement,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
    SagaFailedAlert,
    ScheduleProduction,
    VoidPurchaseLines,
)
from contracts.planning import PlanningSnapshot
from contracts.topics import Topic
from infra.messaging.outbox import Outgoing
from orchestrator.engine import (
    CompensateStep,
    FinishSaga,
    RunStep,
    SagaCommand,
    SagaDefinition,
    SagaStatus,
    StepDefinition,
)

SAGA_ID_NAMESPACE = UUID("6b1f3c52-2f0e-4a7e-9a43-0d5b7f3f6c11")

STEP_TOPICS: dict[str, Topic] = {
    "forecasting": Topic.FORECASTING_COMMANDS,
    "production": Topic.PRODUCTION_COMMANDS,
    "procurement": Topic.PROCUREMENT_COMMANDS,
}


def daily_plan_definition(
    *, step_timeout: timedelta, compensation_timeout: timedelta, max_compensation_attempts: int
) -> SagaDefinition:
    return SagaDefinition(
        steps=tuple(StepDefinition(name, step_timeout) for name in STEP_TOPICS),
        compensation_timeout=compensation_timeout,
        max_compensation_attempts=max_compensation_attempts,
    )


def low_stock_definition(
    *, step_timeout: timedelta, compensation_timeout: timedelta, max_compensation_attempts: int
) -> SagaDefinition:
    """The procurement-only saga a burst of low-stock signals starts (orchestrator/low_stock.py)."""
    return SagaDefinition(
        steps=(StepDefinition("procurement", step_timeout),),
        compensation_timeout=compensation_timeout,
        max_compensation_attempts=max_compensation_attempts,
    )


def saga_id_for_trigger(trigger_event_id: UUID) -> UUID:
    """Deterministic, so the CLI can print the id of the saga its trigger starts."""
    return uuid5(SAGA_ID_NAMESPACE, str(trigger_event_id))


class StepResults:
    """The replies of the steps done so far, as the saga needs them to build the next command."""

    def __init__(self) -> None:
        self.forecast: DemandForecasted | None = None
        self.production: ProductionScheduled | None = None
        self.procurement: ProcurementPlanned | None = None

    def record(self, message: Message) -> None:
        if isinstance(message, DemandForecasted):
            self.forecast = message
        elif isinstance(message, ProductionScheduled):
            self.production = message
        elif isinstance(message, ProcurementPlanned):
            self.procurement = message


def results_needed(commands: tuple[SagaCommand, ...]) -> set[str]:
    """The step results the commands are built from (each is large: load only those)."""
    needed: set[str] = set()
    for command in commands:
        if isinstance(command, RunStep) and command.step == "production":
            needed.add("forecasting")
        elif isinstance(command, RunStep) and command.step == "procurement":
            needed.add("production")
        elif isinstance(command, FinishSaga) and command.status is SagaStatus.COMPLETED:
            needed |= {"production", "procurement"}
    return needed


def to_messages(
    command: SagaCommand,
    *,
    saga_id: UUID,
    tenant_id: str,
    business_date: date,
    attempt: int,
    snapshot: PlanningSnapshot | None,
    results: StepResults,
    causation_id: UUID,
    now: datetime,
) -> list[Outgoing]:
    """Kafka messages for one engine command. Event ids are deterministic: re-deciding after a
    crash emits the same ids, and consumers drop the duplicates. `snapshot` is needed for `RunStep`
    only (it is large, so callers load it only then)."""
    env: dict[str, Any] = {
        "tenant_id": tenant_id,
        "saga_id": saga_id,
        "causation_id": causation_id,
        "correlation_id": saga_id,
        "occurred_at": now,
    }
    if isinstance(command, RunStep):
        event_id = uuid5(saga_id, f"run:{command.step}:{attempt}")
        assert snapshot is not None, "running a step needs the snapshot"
        return [Outgoing(STEP_TOPICS[command.step], _step_command(command.step, event_id, env, snapshot, results))]
    if isinstance(command, CompensateStep):
        event_id = uuid5(saga_id, f"compensate:{command.step}:{command.attempt}")
        kinds: dict[str, type[DiscardForecast | CancelProductionBatches | VoidPurchaseLines]] = {
            "forecasting": DiscardForecast,
            "production": CancelProductionBatches,
            "procurement": VoidPurchaseLines,
        }
        msg = kinds[command.step](event_id=event_id, attempt=command.attempt, **env)
        return [Outgoing(STEP_TOPICS[command.step], msg)]
    return [_finish_message(command, saga_id=saga_id, business_date=business_date, results=results, env=env)]


def _step_command(
    step: str, event_id: UUID, env: dict[str, Any], snapshot: PlanningSnapshot, results: StepResults
) -> Message:
    s = snapshot
    if step == "forecasting":
        return ForecastDemand(
            event_id=event_id,
            business_date=s.business_date,
            horizon_days=s.horizon_days,
            products=s.products,
            sales=s.sales,
            calendar=s.calendar,
            regressors=s.regressors,
            **env,
        )
    if step == "production":
        assert results.forecast is not None, "production runs after forecasting"
        return ScheduleProduction(
            event_id=event_id,
            business_date=s.business_date,
            products=s.products,
            recipes=s.recipes,
            forecast=results.forecast.forecast,
            calendar=s.calendar,
            components=s.components,
            capacity=s.capacity,
            **env,
        )
    assert results.production is not None, "procurement runs after production"
    return PlanProcurement(
        event_id=event_id,
        business_date=s.business_date,
        ingredients=s.ingredients,
        stock_lots=s.stock_lots,
        suppliers=s.suppliers,
        requirements=results.production.requirements,
        open_purchase_orders=s.open_purchase_orders,
        policy=s.policy,
        calendar=s.calendar,
        **env,
    )


def _finish_message(
    command: FinishSaga, *, saga_id: UUID, business_date: date, results: StepResults, env: dict[str, Any]
) -> Outgoing:
    event_id = uuid5(saga_id, f"finish:{command.status}")
    if command.status is SagaStatus.COMPLETED:
        return Outgoing(
            Topic.PLANS,
            PlanReady(
                event_id=event_id,
                business_date=business_date,
                batches=len(results.production.batches) if results.production else 0,
                purchase_lines=len(results.procurement.purchase_lines) if results.procurement else 0,
                **env,
            ),
        )
    if command.status is SagaStatus.COMPENSATED:
        return Outgoing(
            Topic.PLANS,
            PlanCompensated(event_id=event_id, business_date=business_date, reason=command.reason, **env),
        )
    return Outgoing(Topic.ALERTS, SagaFailedAlert(event_id=event_id, reason=command.reason, **env))
