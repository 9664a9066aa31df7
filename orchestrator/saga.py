"""The daily planning saga: forecasting → production → procurement → release, and the messages that
carry out the engine's commands.

Release (docs/orders.md) is the saga's pivot: the procurement worker sends the day's due purchase
lines out as purchase orders. A failure before it compensates every step done; once it completed,
nothing is undone. The procurement-only (low-stock) saga is procurement → release.
"""

from datetime import date, datetime, timedelta
from uuid import UUID

from contracts import ids, step_inputs
from contracts.envelope import Message
from contracts.messages import (
    CancelProductionBatches,
    DemandForecasted,
    DiscardForecast,
    PlanCompensated,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
    SagaFailedAlert,
    VoidPurchaseLines,
)
from contracts.planning import PlanningSnapshot
from contracts.purchasing_messages import CancelReleasedOrders, PurchaseOrdersReleased
from contracts.step_inputs import StepEnvelope
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
from orchestrator.low_stock_rules import LowStockInputs
from orchestrator.ports import TenantProfile

STEP_TOPICS: dict[str, Topic] = {
    "forecasting": Topic.FORECASTING_COMMANDS,
    "production": Topic.PRODUCTION_COMMANDS,
    "procurement": Topic.PROCUREMENT_COMMANDS,
    "release": Topic.PROCUREMENT_COMMANDS,
}
PIVOT = "release"
"""Once purchase orders went out, nothing is undone (docs/orders.md)."""


def daily_plan_definition(
    *, step_timeout: timedelta, compensation_timeout: timedelta, max_compensation_attempts: int
) -> SagaDefinition:
    return SagaDefinition(
        steps=tuple(StepDefinition(name, step_timeout, pivot=name == PIVOT) for name in STEP_TOPICS),
        compensation_timeout=compensation_timeout,
        max_compensation_attempts=max_compensation_attempts,
    )


def low_stock_definition(
    *, step_timeout: timedelta, compensation_timeout: timedelta, max_compensation_attempts: int
) -> SagaDefinition:
    """The procurement-only saga a burst of low-stock signals starts (orchestrator/low_stock.py): its
    lines, emergencies first, go out at once."""
    return SagaDefinition(
        steps=(StepDefinition("procurement", step_timeout), StepDefinition(PIVOT, step_timeout, pivot=True)),
        compensation_timeout=compensation_timeout,
        max_compensation_attempts=max_compensation_attempts,
    )


class StepResults:
    """What the saga builds its next command from besides the snapshot: the replies of the steps done
    so far, or, for a procurement-only saga, the inputs its low-stock signals gave it; for the
    release, the tenant's name, time zone and currency (`tenant`)."""

    def __init__(self, *, low_stock: LowStockInputs | None = None, tenant: TenantProfile | None = None) -> None:
        self.forecast: DemandForecasted | None = None
        self.production: ProductionScheduled | None = None
        self.procurement: ProcurementPlanned | None = None
        self.release: PurchaseOrdersReleased | None = None
        self.low_stock = low_stock
        self.tenant = tenant
        self.lengths: dict[str, int] = {}
        """For `PlanReady`: the length of each kept reply's list in `PLAN_COUNTS`, read without the reply."""

    def count(self, step: str) -> int:
        """The length of `step`'s list in `PLAN_COUNTS`: from its reply when recorded, else from
        `lengths`; 0 for a step the saga did not run (a low-stock saga schedules no production)."""
        reply = {"production": self.production, "procurement": self.procurement, PIVOT: self.release}[step]
        if reply is not None:
            return len(getattr(reply, PLAN_COUNTS[step]))
        return self.lengths.get(step, 0)

    def record(self, message: Message) -> None:
        if isinstance(message, DemandForecasted):
            self.forecast = message
        elif isinstance(message, ProductionScheduled):
            self.production = message
        elif isinstance(message, ProcurementPlanned):
            self.procurement = message
        elif isinstance(message, PurchaseOrdersReleased):
            self.release = message


def results_needed(commands: tuple[SagaCommand, ...]) -> set[str]:
    """The step results the commands are built from (each is large: load only those)."""
    needed: set[str] = set()
    for command in commands:
        if isinstance(command, RunStep) and command.step == "production":
            needed.add("forecasting")
        elif isinstance(command, RunStep) and command.step == "procurement":
            needed.add("production")
        elif isinstance(command, RunStep) and command.step == PIVOT:
            needed.add("procurement")
    return needed


PLAN_COUNTS = {"production": "batches", "procurement": "purchase_lines", PIVOT: "purchase_orders"}
"""What a completed saga's `PlanReady` counts: the list of each step's reply that it counts."""


def counts_needed(commands: tuple[SagaCommand, ...]) -> dict[str, str]:
    """The `PLAN_COUNTS` the commands need (a completed saga's finish): its `PlanReady` counts the
    replies' lists, and reading their lengths costs far less than validating the replies."""
    if any(isinstance(c, FinishSaga) and c.status is SagaStatus.COMPLETED for c in commands):
        return dict(PLAN_COUNTS)
    return {}


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
    only (it is large, so callers load it only then); running the release also needs `results.tenant`,
    and its orders go out as placed `now`, on the tenant's wall clock."""

    def envelope(event_id: UUID) -> StepEnvelope:
        return StepEnvelope(
            event_id=event_id,
            tenant_id=tenant_id,
            saga_id=saga_id,
            causation_id=causation_id,
            correlation_id=saga_id,
            occurred_at=now,
        )

    if isinstance(command, RunStep):
        assert snapshot is not None, "running a step needs the snapshot"
        run = envelope(ids.step_command_id(saga_id, command.step, attempt))
        return [Outgoing(STEP_TOPICS[command.step], _step_command(command.step, run, snapshot, results, now))]
    if isinstance(command, CompensateStep):
        kinds: dict[str, type[DiscardForecast | CancelProductionBatches | VoidPurchaseLines | CancelReleasedOrders]] = {
            "forecasting": DiscardForecast,
            "production": CancelProductionBatches,
            "procurement": VoidPurchaseLines,
            PIVOT: CancelReleasedOrders,
        }
        undo = envelope(ids.compensation_command_id(saga_id, command.step, command.attempt))
        msg = kinds[command.step](attempt=command.attempt, **undo)
        return [Outgoing(STEP_TOPICS[command.step], msg)]
    assert isinstance(command, FinishSaga), f"unknown saga command {command!r}"
    outcome = envelope(ids.outcome_event_id(saga_id, command.status))
    return [_finish_message(command, business_date=business_date, results=results, env=outcome)]


def _step_command(
    step: str, envelope: StepEnvelope, snapshot: PlanningSnapshot, results: StepResults, now: datetime
) -> Message:
    if step == PIVOT:
        assert results.procurement is not None, "release runs after procurement"
        assert results.tenant is not None, "release needs the tenant's name, time zone and currency"
        tenant = results.tenant
        return step_inputs.release_purchase_orders(
            snapshot,
            results.procurement.purchase_lines,
            envelope,
            tenant_name=tenant.name,
            time_zone=tenant.time_zone,
            currency=tenant.currency,
            placed_at=now,
        )
    if step == "forecasting":
        return step_inputs.forecast_demand(snapshot, envelope)
    if step == "production":
        assert results.forecast is not None, "production runs after forecasting"
        return step_inputs.schedule_production(snapshot, results.forecast.forecast, envelope)
    if results.low_stock is not None:
        inputs = results.low_stock
        return step_inputs.plan_procurement(
            snapshot, inputs.requirements, envelope, purpose="low_stock", stock_floors=inputs.stock_floors
        )
    assert results.production is not None, "procurement runs after production"
    return step_inputs.plan_procurement(snapshot, results.production.requirements, envelope)


def _finish_message(command: FinishSaga, *, business_date: date, results: StepResults, env: StepEnvelope) -> Outgoing:
    if command.status is SagaStatus.COMPLETED:
        return Outgoing(
            Topic.PLANS,
            PlanReady(
                business_date=business_date,
                batches=results.count("production"),
                purchase_lines=results.count("procurement"),
                purchase_orders=results.count(PIVOT),
                **env,
            ),
        )
    if command.status is SagaStatus.COMPENSATED:
        return Outgoing(
            Topic.PLANS,
            PlanCompensated(business_date=business_date, reason=command.reason, **env),
        )
    return Outgoing(Topic.ALERTS, SagaFailedAlert(reason=command.reason, **env))
