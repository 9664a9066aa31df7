"""Replay: re-derive a saga's plan from its recorded snapshot and compare it with what was recorded.

Pure: it takes the saga's recorded messages (already decoded) and returns a report; no clock, no I/O.
`orchestrator/replay_store.py` loads the messages from the audit archive.

A saga is identical when the pure planners (`workers.chain.plan_snapshot`, the code the workers
run), given the recorded `SnapshotTaken` snapshot and the saga id, produce exactly the recorded
step replies: every forecast line, batch, ingredient requirement and purchase line, field by field
(floats exactly: the same code on the same input gives the same bits). A saga that never completed
is compared on the replies it has; a recorded `StepFailed` must fail again with the same reason.
A recorded release (the saga's pivot, docs/orders.md) is re-run from its recorded command with the
procurement worker's own function, and its purchase orders and held lines compared; the command
itself is compared with what the saga builds from the snapshot and the recorded purchase lines.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel

from contracts import step_inputs
from contracts.envelope import Message
from contracts.errors import PlanningError
from contracts.messages import (
    DemandForecasted,
    ForecastDemand,
    PlanningRequested,
    PlanProcurement,
    ProcurementPlanned,
    ProductionScheduled,
    ScheduleProduction,
    SnapshotTaken,
    StepFailed,
)
from contracts.planning import ForecastLine, IngredientRequirement, PlanningSnapshot, ProductionBatch, PurchaseLine
from contracts.purchasing import PurchaseOrder, PurchaseOrderLine
from contracts.purchasing_messages import HeldLine, PurchaseOrdersReleased, ReleasePurchaseOrders
from workers.chain import DailyPlan, plan_for_command, plan_snapshot, release_for_command

Change = Literal["added", "missing", "changed"]
# Envelope fields that differ between two correct emissions of one command (time, retry attempt).
ENVELOPE_FIELDS = frozenset({"event_id", "occurred_at", "causation_id", "correlation_id", "schema_version"})
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FieldChange:
    name: str
    recorded: Any
    replayed: Any


@dataclass(frozen=True)
class Difference:
    """One line that differs. `added`: only the replay has it; `missing`: only the record has it."""

    section: str
    key: str
    change: Change
    fields: tuple[FieldChange, ...] = ()

    def describe(self) -> str:
        if self.change != "changed":
            return f"{self.section} {self.key}: {self.change} in the replay"
        changes = "; ".join(f"{f.name}: {f.recorded!r} → {f.replayed!r}" for f in self.fields)
        return f"{self.section} {self.key}: {changes}"


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted names (`reasoning.facts.safety_stock`), so a diff names the one fact."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def diff_lines(
    section: str,
    recorded: Sequence[M],
    replayed: Sequence[M],
    key: Callable[[M], str],
    *,
    ignore: frozenset[str] = frozenset(),
) -> list[Difference]:
    """Per key: lines only one side has, and the fields (dotted) whose values differ. Order of lines
    does not matter; the result is sorted by key. Empty when both sides hold the same lines."""
    before = {key(line): line for line in recorded}
    after = {key(line): line for line in replayed}
    out: list[Difference] = []
    for k in sorted(before.keys() | after.keys()):
        if k not in after:
            out.append(Difference(section, k, "missing"))
        elif k not in before:
            out.append(Difference(section, k, "added"))
        else:
            old = _flatten(before[k].model_dump(mode="json"))
            new = _flatten(after[k].model_dump(mode="json"))
            changed = tuple(
                FieldChange(name, old.get(name), new.get(name))
                for name in sorted(old.keys() | new.keys())
                if name not in ignore and old.get(name) != new.get(name)
            )
            if changed:
                out.append(Difference(section, k, "changed", changed))
    return out


def forecast_key(line: ForecastLine) -> str:
    return f"{line.product_id}@{line.day.isoformat()}"


def batch_key(batch: ProductionBatch) -> str:
    return batch.batch_id


def requirement_key(requirement: IngredientRequirement) -> str:
    return f"{requirement.ingredient_id}@{requirement.day.isoformat()}"


def purchase_key(line: PurchaseLine) -> str:
    return line.line_id


StepCommand = ForecastDemand | ScheduleProduction | PlanProcurement | ReleasePurchaseOrders


@dataclass
class RecordedSaga:
    """A saga's recorded messages, sorted by kind (each list in recorded order)."""

    saga_id: UUID
    tenant_id: str = ""
    events: int = 0
    trigger: PlanningRequested | None = None
    snapshot: SnapshotTaken | None = None
    commands: list[StepCommand] = field(default_factory=list)
    forecasts: list[DemandForecasted] = field(default_factory=list)
    schedules: list[ProductionScheduled] = field(default_factory=list)
    procurements: list[ProcurementPlanned] = field(default_factory=list)
    releases: list[PurchaseOrdersReleased] = field(default_factory=list)
    failures: list[StepFailed] = field(default_factory=list)
    others: list[Message] = field(default_factory=list)

    @property
    def business_date(self) -> date | None:
        return self.snapshot.snapshot.business_date if self.snapshot else None


def collect(saga_id: UUID, messages: Iterable[Message]) -> RecordedSaga:
    """Sort a saga's recorded messages by kind."""
    saga = RecordedSaga(saga_id)
    for message in messages:
        saga.events += 1
        saga.tenant_id = message.tenant_id
        if isinstance(message, PlanningRequested):
            saga.trigger = message
        elif isinstance(message, SnapshotTaken):
            saga.snapshot = message
        elif isinstance(message, ForecastDemand | ScheduleProduction | PlanProcurement | ReleasePurchaseOrders):
            saga.commands.append(message)
        elif isinstance(message, DemandForecasted):
            saga.forecasts.append(message)
        elif isinstance(message, ProductionScheduled):
            saga.schedules.append(message)
        elif isinstance(message, ProcurementPlanned):
            saga.procurements.append(message)
        elif isinstance(message, PurchaseOrdersReleased):
            saga.releases.append(message)
        elif isinstance(message, StepFailed):
            saga.failures.append(message)
        else:
            saga.others.append(message)
    return saga


@dataclass
class ReplayReport:
    saga_id: UUID
    tenant_id: str
    business_date: date | None
    events: int
    compared: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "saga_id": str(self.saga_id),
            "tenant_id": self.tenant_id,
            "business_date": self.business_date.isoformat() if self.business_date else None,
            "events": self.events,
            "identical": self.identical,
            "compared": self.compared,
            "differences": [
                {
                    "section": d.section,
                    "key": d.key,
                    "change": d.change,
                    "fields": [{"name": f.name, "recorded": f.recorded, "replayed": f.replayed} for f in d.fields],
                    "text": d.describe(),
                }
                for d in self.differences
            ],
            "notes": self.notes,
        }


def _count(report: ReplayReport, section: str, n: int) -> None:
    report.compared[section] = report.compared.get(section, 0) + n


def replay(recorded: RecordedSaga, *, expected_commands: Sequence[Message] = ()) -> ReplayReport:
    """Re-run the planners on the recorded snapshot and compare with every recorded step reply.

    `expected_commands`: the step commands the saga would build from the snapshot and the recorded
    replies (the adapter builds them with `orchestrator.saga.to_messages`); each is compared with
    the recorded command of the same type, envelope fields aside. A saga without a recorded
    snapshot cannot be replayed: reported as one difference.
    """
    report = ReplayReport(recorded.saga_id, recorded.tenant_id, recorded.business_date, recorded.events)
    if recorded.snapshot is None:
        report.differences.append(Difference("snapshot", str(recorded.saga_id), "missing"))
        report.notes.append("no SnapshotTaken recorded for this saga: nothing to replay from")
        return report
    _compare_releases(recorded, report)
    low_stock = [c for c in recorded.commands if isinstance(c, PlanProcurement) and c.purpose == "low_stock"]
    if low_stock:
        _replay_procurement_only(recorded, recorded.snapshot.snapshot, low_stock, report)
        # its procurement command has inputs of its own (checked above); its release is built as a daily one's
        expected_commands = [c for c in expected_commands if isinstance(c, ReleasePurchaseOrders)]
        _compare_commands(recorded, expected_commands, report)
        return report
    try:
        plan: DailyPlan | None = plan_snapshot(recorded.snapshot.snapshot, saga_id=recorded.saga_id)
    except PlanningError as exc:
        plan = None
        _compare_failure(recorded, str(exc), report)
    if plan is not None:
        _compare_plan(recorded, plan, report)
    _compare_commands(recorded, expected_commands, report)
    return report


def _compare_commands(recorded: RecordedSaga, expected_commands: Sequence[Message], report: ReplayReport) -> None:
    for expected in expected_commands:
        matching = [c for c in recorded.commands if c.event_type == expected.event_type]
        if not matching:
            report.differences.append(Difference("commands", expected.event_type, "added"))
        for command in matching:
            report.differences += diff_lines(
                "commands", [command], [expected], lambda m: m.event_type, ignore=ENVELOPE_FIELDS
            )
        _count(report, "commands", len(matching))


def order_key(order: PurchaseOrder) -> str:
    return order.po_number


def held_key(line: HeldLine) -> str:
    return line.line_id


def order_line_key(line: PurchaseOrderLine) -> str:
    return line.line_id


def _compare_releases(recorded: RecordedSaga, report: ReplayReport) -> None:
    """Re-run each recorded release command and compare its orders (headers by number, lines by their
    purchase line id) and held lines with every recorded `PurchaseOrdersReleased`."""
    for command in (c for c in recorded.commands if isinstance(c, ReleasePurchaseOrders)):
        try:
            again = release_for_command(command)
        except PlanningError as exc:
            _compare_failure(recorded, str(exc), report)
            continue
        for released in recorded.releases:
            report.differences += diff_lines(
                "purchase_orders", released.purchase_orders, again.orders, order_key, ignore=frozenset({"lines"})
            )
            before = [line for order in released.purchase_orders for line in order.lines]
            after = [line for order in again.orders for line in order.lines]
            # a purchase line is released at most once, so its id names its order line
            report.differences += diff_lines("purchase_order_lines", before, after, order_line_key)
            report.differences += diff_lines("held_lines", released.held_lines, again.held, held_key)
            _count(report, "purchase_orders", len(released.purchase_orders))
            _count(report, "purchase_order_lines", len(before))
            _count(report, "held_lines", len(released.held_lines))


def _compare_plan(recorded: RecordedSaga, plan: DailyPlan, report: ReplayReport) -> None:
    for forecast in recorded.forecasts:
        report.differences += diff_lines("forecast", forecast.forecast, plan.forecast, forecast_key)
        _count(report, "forecast", len(forecast.forecast))
    for schedule in recorded.schedules:
        report.differences += diff_lines("batches", schedule.batches, plan.batches, batch_key)
        report.differences += diff_lines("requirements", schedule.requirements, plan.requirements, requirement_key)
        _count(report, "batches", len(schedule.batches))
        _count(report, "requirements", len(schedule.requirements))
    for procurement in recorded.procurements:
        report.differences += diff_lines(
            "purchase_lines", procurement.purchase_lines, plan.purchase_lines, purchase_key
        )
        _count(report, "purchase_lines", len(procurement.purchase_lines))
    for failure in recorded.failures:
        # a step command that arrived after its saga was compensated is refused without planning
        # (workers/shell/runtime.py): that failure says nothing about the planners
        if "was compensated at" not in failure.reason:
            report.differences.append(
                Difference("steps", failure.step, "changed", (FieldChange("outcome", failure.reason, "planned"),))
            )


def _replay_procurement_only(
    recorded: RecordedSaga, snapshot: PlanningSnapshot, commands: Sequence[PlanProcurement], report: ReplayReport
) -> None:
    """A low-stock saga has one step: re-plan its recorded command, check the command's master data
    is the recorded snapshot's, and compare with the recorded purchase lines."""
    report.notes.append("procurement-only (low-stock) saga: re-planned from its recorded command")
    for command in commands:
        # its requirements and stock floors are inputs of their own (today's plan, the signals)
        for part in step_inputs.PROCUREMENT_PARTS:
            if getattr(command, part) != getattr(snapshot, part):
                report.differences.append(
                    Difference(
                        "commands",
                        f"{command.event_type}.{part}",
                        "changed",
                        (FieldChange(part, "snapshot", "command"),),
                    )
                )
        _count(report, "commands", 1)
        try:
            lines = plan_for_command(command)
        except PlanningError as exc:
            _compare_failure(recorded, str(exc), report)
            continue
        for procurement in recorded.procurements:
            report.differences += diff_lines("purchase_lines", procurement.purchase_lines, lines, purchase_key)
            _count(report, "purchase_lines", len(procurement.purchase_lines))
        for failure in recorded.failures:
            if "was compensated at" not in failure.reason:
                report.differences.append(
                    Difference("steps", failure.step, "changed", (FieldChange("outcome", failure.reason, "planned"),))
                )


def _compare_failure(recorded: RecordedSaga, reason: str, report: ReplayReport) -> None:
    reasons = [f.reason for f in recorded.failures]
    if reason in reasons:
        report.notes.append(f"the replay fails as the saga did: {reason}")
        _count(report, "failures", 1)
        return
    recorded_reason = reasons[0] if reasons else "planned"
    report.differences.append(
        Difference("steps", "planning", "changed", (FieldChange("outcome", recorded_reason, reason),))
    )
