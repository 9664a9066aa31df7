"""Gauges of the orchestrator's store, sampled for the metrics (infra/metrics_sampling.py): the sagas
in flight and how overdue the most overdue schedule is (a scheduler that did not fire)."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.metrics import Metrics
from infra.metrics_sampling import Sampler
from orchestrator.ports import LIVE_STATUSES, SagaKind
from orchestrator.tables import sagas, schedules


async def sagas_in_flight(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    """Live sagas by (kind, status), every pair present (0 when none)."""
    counts = {(str(kind), str(status)): 0 for kind in SagaKind for status in LIVE_STATUSES}
    query = (
        select(sagas.c.kind, sagas.c.status, func.count())
        .where(sagas.c.status.in_([str(s) for s in LIVE_STATUSES]))
        .group_by(sagas.c.kind, sagas.c.status)
    )
    async with engine.connect() as conn:
        for kind, status, n in await conn.execute(query):
            counts[(kind, status)] = int(n)
    return counts


async def schedules_overdue_seconds(engine: AsyncEngine, now: datetime) -> float:
    """How long the earliest due schedule has waited for its decision at `now` (0: none is due)."""
    async with engine.connect() as conn:
        earliest: datetime | None = (await conn.execute(select(func.min(schedules.c.next_due_at)))).scalar_one()
    return max(0.0, (now - earliest).total_seconds()) if earliest is not None else 0.0


def orchestrator_samplers(engine: AsyncEngine, clock: Callable[[], datetime], metrics: Metrics) -> dict[str, Sampler]:
    async def in_flight() -> None:
        for (kind, status), n in (await sagas_in_flight(engine)).items():
            metrics.sagas_in_flight.labels(kind, status).set(n)

    async def overdue() -> None:
        metrics.schedules_overdue.set(await schedules_overdue_seconds(engine, clock()))

    return {"sagas_in_flight": in_flight, "schedules_overdue": overdue}
