"""Production worker: batches per product and day, exploded into ingredient requirements."""

from typing import Any

from contracts.messages import CancelProductionBatches, ProductionScheduled, ScheduleProduction
from contracts.topics import Topic
from workers.production.scheduler import schedule_for_command
from workers.production.tables import batches, compensations, effect_log, inbox, outbox, requirements
from workers.shell.runtime import StepResult, StepSpec


def plan(command: ScheduleProduction, envelope: dict[str, Any]) -> StepResult:
    result = schedule_for_command(command)
    return StepResult(
        rows={
            batches: [b.model_dump() for b in result.batches],
            requirements: [r.model_dump() for r in result.requirements],
        },
        reply=ProductionScheduled(batches=result.batches, requirements=result.requirements, **envelope),
    )


SPEC = StepSpec(
    name="production",
    command=ScheduleProduction,
    compensation=CancelProductionBatches,
    result_tables=(batches, requirements),
    inbox=inbox,
    outbox=outbox,
    effect_log=effect_log,
    compensations=compensations,
    commands_topic=Topic.PRODUCTION_COMMANDS,
    plan=plan,
)
