"""Procurement worker: purchase lines for the ingredient requirements, lead time first."""

from typing import Any

from contracts.messages import PlanProcurement, ProcurementPlanned, VoidPurchaseLines
from contracts.topics import Topic
from workers.procurement.replenishment import plan_purchases
from workers.procurement.tables import compensations, effect_log, inbox, outbox, purchase_lines
from workers.shell.runtime import StepResult, StepSpec


def plan(command: PlanProcurement, envelope: dict[str, Any]) -> StepResult:
    assert command.saga_id is not None, "step commands always carry their saga"
    lines = plan_purchases(
        command.saga_id,
        command.ingredients,
        command.stock_lots,
        command.suppliers,
        command.requirements,
        business_date=command.business_date,
        open_orders=command.open_purchase_orders,
        policy=command.policy,
        calendar=command.calendar,
    )
    return StepResult(
        rows={purchase_lines: [line.model_dump() for line in lines]},
        reply=ProcurementPlanned(purchase_lines=lines, **envelope),
    )


SPEC = StepSpec(
    name="procurement",
    command=PlanProcurement,
    compensation=VoidPurchaseLines,
    result_tables=(purchase_lines,),
    inbox=inbox,
    outbox=outbox,
    effect_log=effect_log,
    compensations=compensations,
    commands_topic=Topic.PROCUREMENT_COMMANDS,
    plan=plan,
)
