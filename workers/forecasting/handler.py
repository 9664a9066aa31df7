"""Forecasting worker: the command in, the pure forecast, the draft rows and reply out."""

from typing import Any

from contracts.messages import DemandForecasted, DiscardForecast, ForecastDemand
from contracts.topics import Topic
from workers.forecasting.planner import forecast_for_command
from workers.forecasting.tables import compensations, effect_log, forecasts, inbox, outbox
from workers.shell.runtime import StepResult, StepSpec


def plan(command: ForecastDemand, envelope: dict[str, Any]) -> StepResult:
    lines = forecast_for_command(command)
    return StepResult(
        rows={forecasts: [line.model_dump() for line in lines]},
        reply=DemandForecasted(forecast=lines, **envelope),
    )


SPEC = StepSpec(
    name="forecasting",
    command=ForecastDemand,
    compensation=DiscardForecast,
    result_tables=(forecasts,),
    inbox=inbox,
    outbox=outbox,
    effect_log=effect_log,
    compensations=compensations,
    commands_topic=Topic.FORECASTING_COMMANDS,
    plan=plan,
)
