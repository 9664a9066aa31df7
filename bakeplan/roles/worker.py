"""Composition root of a worker process (forecasting, production or procurement): its step's
handler on the shared worker runtime, consuming its command topic and the plan outcomes."""

from typing import Literal

from bakeplan.process import Process
from bakeplan.roles.clock import utc_now
from contracts.topics import Topic
from infra.settings import Settings
from workers.forecasting.handler import SPEC as FORECASTING
from workers.procurement.handler import SPEC as PROCUREMENT
from workers.production.handler import SPEC as PRODUCTION
from workers.shell.runtime import StepSpec, StepWorker

WorkerRole = Literal["forecasting", "production", "procurement"]
SPECS: dict[str, StepSpec] = {"forecasting": FORECASTING, "production": PRODUCTION, "procurement": PROCUREMENT}


def create_app(settings: Settings, role: WorkerRole) -> Process:
    spec = SPECS[role]
    process = Process(settings, role, spec.outbox)
    worker = StepWorker(spec, engine=process.engine, clock=utc_now, on_commit=process.relay.wake, dedupe=process.dedupe)
    process.subscribe(spec.commands_topic, role, worker.handle)
    process.subscribe(Topic.PLANS, f"{role}-plans", worker.handle)
    return process
