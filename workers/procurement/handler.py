"""Procurement worker: purchase lines for the ingredient requirements, lead time first.

A low-stock command (`purpose="low_stock"`, docs/low_stock.md) also holds stock at its floors, never
plans a line on the supplier × ingredient × delivery-date slot of an open order or line it was given,
and flags emergency lines; its rows carry `purpose="low_stock"`, which the unique partial index on
`purchase_lines` covers.
"""

from typing import Any

from contracts.messages import PlanProcurement, ProcurementPlanned, VoidPurchaseLines
from contracts.topics import Topic
from workers.procurement.replenishment import plan_for_command
from workers.procurement.tables import compensations, effect_log, inbox, outbox, purchase_lines
from workers.shell.runtime import StepResult, StepSpec


def plan(command: PlanProcurement, envelope: dict[str, Any]) -> StepResult:
    lines = plan_for_command(command)
    return StepResult(
        rows={purchase_lines: [{**line.model_dump(), "purpose": command.purpose} for line in lines]},
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
