"""Composition root of a worker process (forecasting, production or procurement): its step's
handler on the shared worker runtime, consuming its command topic and the plan outcomes. The
procurement worker runs a second step on the same topic: releasing purchase orders (docs/orders.md)."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from bakeplan.process import Process, payload_limits
from bakeplan.roles.clock import clock_of
from contracts.envelope import Message
from contracts.topics import Topic
from infra.settings import Settings
from workers.forecasting import tables as forecasting_tables
from workers.forecasting.handler import SPEC as FORECASTING
from workers.procurement import tables as procurement_tables
from workers.procurement.handler import SPEC as PROCUREMENT
from workers.procurement.release_handler import ReleaseWorker, route
from workers.production import tables as production_tables
from workers.production.handler import SPEC as PRODUCTION
from workers.shell.planning_pool import PlannerFault, PlannerPool
from workers.shell.runtime import StepSpec, StepWorker

WorkerRole = Literal["forecasting", "production", "procurement"]
SPECS: dict[str, StepSpec] = {"forecasting": FORECASTING, "production": PRODUCTION, "procurement": PROCUREMENT}
DELIVERY_ATTEMPTS = {
    "forecasting": forecasting_tables.delivery_attempts,
    "production": production_tables.delivery_attempts,
    "procurement": procurement_tables.delivery_attempts,
}


def create_app(settings: Settings, role: WorkerRole) -> Process:
    spec = SPECS[role]
    process = Process(settings, role, spec.outbox, DELIVERY_ATTEMPTS[role])
    utc_now = clock_of(settings)
    planner = PlannerPool(
        settings.planner_processes,
        timeout_seconds=settings.planner_timeout_seconds,
        preload=[spec.plan.__module__],
        fault=PlannerFault(settings.crash_at, settings.crash_log),
    )
    process.background.append(lambda: _run_planners(planner))
    worker = StepWorker(
        spec,
        engine=process.engine,
        clock=utc_now,
        on_commit=process.relay.wake,
        dedupe=process.dedupe,
        limits=payload_limits(settings),
        planner=planner,
    )
    commands: Callable[[Message], Coroutine[Any, Any, None]] = worker.handle
    if role == "procurement":
        release = ReleaseWorker(
            engine=process.engine, clock=utc_now, on_commit=process.relay.wake, dedupe=process.dedupe
        )
        commands = route(release, worker.handle)
    # one consumer per planner process: while one partition's tenant plans, the others' go on
    process.subscribe(spec.commands_topic, role, commands, concurrency=max(1, settings.planner_processes), batch=True)
    process.subscribe(Topic.PLANS, f"{role}-plans", worker.handle, batch=True)
    return process


async def _run_planners(planner: PlannerPool) -> None:
    """Start the planner processes with the process, stop them with it (a background job: cancelled at stop)."""
    try:
        await planner.start()
        await asyncio.Event().wait()
    finally:
        planner.close()
