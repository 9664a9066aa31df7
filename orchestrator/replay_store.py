"""Replay's thin I/O shell: read recorded sagas from the audit archive, in a read-only transaction.

No side effects, by construction: every read runs in a transaction Postgres itself opens READ ONLY
(any INSERT, UPDATE or DELETE in it fails), nothing is published to Kafka, and the pure replay
(`orchestrator/replay.py`) writes nothing. The scratch schema the issue allows for replay is not
needed, because nothing is ever written.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Message
from contracts.purchasing_messages import ReleasePurchaseOrders
from infra.messaging.codec import decode
from orchestrator.audit import saga_entries
from orchestrator.engine import RunStep
from orchestrator.ports import TenantProfile
from orchestrator.replay import RecordedSaga, collect
from orchestrator.saga import StepResults, to_messages
from orchestrator.tables import audit_events, sagas

COMMAND_STEPS = {
    "forecasting.forecast_demand": "forecasting",
    "production.schedule_production": "production",
    "procurement.plan_procurement": "procurement",
    "procurement.release_purchase_orders": "release",
}


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One REPEATABLE READ, READ ONLY transaction: a consistent view, and Postgres rejects writes."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            yield conn


async def load_saga(conn: AsyncConnection, saga_id: UUID) -> RecordedSaga | None:
    """The saga's archived messages, each decoded with `codec.decode` (upcasting old versions);
    None when the archive has nothing for it."""
    entries = await saga_entries(conn, saga_id)
    if not entries:
        return None
    return collect(saga_id, (decode(entry.payload) for entry in entries))


def expected_commands(recorded: RecordedSaga) -> list[Message]:
    """The step commands the saga builds from its recorded snapshot and the first recorded reply
    of each step (the one the orchestrator kept in `step_results`), for each command recorded. A
    release command takes the tenant's name, time zone and currency from the recorded command (they
    are not in the snapshot), and is released at the moment it was recorded."""
    if recorded.snapshot is None:
        return []
    results = StepResults()
    for first in (recorded.forecasts, recorded.schedules, recorded.procurements):
        if first:
            results.record(first[0])
    snapshot = recorded.snapshot.snapshot
    built: list[Message] = []
    for command in recorded.commands:
        step = COMMAND_STEPS[command.event_type]
        if (
            (step == "production" and results.forecast is None)
            or (step == "procurement" and results.production is None)
            or (step == "release" and results.procurement is None)
        ):
            continue  # its input reply is not in the archive: nothing to rebuild it from
        if isinstance(command, ReleasePurchaseOrders):
            results.tenant = TenantProfile(command.tenant_name, command.time_zone, command.currency)
        (outgoing,) = to_messages(
            RunStep(step),
            saga_id=recorded.saga_id,
            tenant_id=recorded.tenant_id,
            business_date=snapshot.business_date,
            attempt=1,
            snapshot=snapshot,
            results=results,
            causation_id=recorded.saga_id,
            now=command.occurred_at,
        )
        built.append(outgoing.message)
    return built


async def sagas_in_range(conn: AsyncConnection, tenant_id: str, first: date, last: date) -> list[UUID]:
    """The tenant's sagas with business dates in [first, last] that have archived events, by date."""
    archived = select(audit_events.c.saga_id).where(audit_events.c.saga_id == sagas.c.saga_id).exists()
    rows = await conn.execute(
        select(sagas.c.saga_id)
        .where(sagas.c.tenant_id == tenant_id, sagas.c.business_date.between(first, last), archived)
        .order_by(sagas.c.business_date, sagas.c.created_at)
    )
    return [UUID(bytes=saga_id.bytes) for saga_id in rows.scalars()]
