"""The statements of every saga step are built once and executed with their values bound: building a
statement and its cache key in SQLAlchemy cost more than running it (an inbox claim: ~620 µs built per
call, ~270 µs prebuilt, the round trip to Postgres included). Checked on a real Postgres: each
operation, done twice with other values, executes the very same statement objects both times (a
statement built per call would be a new object each time)."""

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra.messaging import inbox, outbox_rows
from infra.messaging.attempts import PostgresDeliveryAttempts
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import audit
from orchestrator import tables as orchestrator_tables
from orchestrator.engine import SagaStatus
from orchestrator.ports import Inbound
from orchestrator.stores import snapshot_store
from orchestrator.stores.postgres import PostgresMasterData, PostgresSagas
from orchestrator.stores.snapshot_store import PostgresSnapshots, RecentSnapshots
from tests.contract.conftest import TODAY
from tests.contract.store_records import T0, a_saga, a_state, a_trigger, forecasted, scheduled
from workers.forecasting import tables as forecasting_tables
from workers.shell.binding import check_saga_tenant
from workers.shell.results import set_status, write_drafts

pytestmark = pytest.mark.integration

Work = Callable[[AsyncConnection, int], Awaitable[Any]]
TINY = generate_tenant("built-once", profile="tiny", seed=5, today=TODAY)
SEEDED: dict[int, str] = {}
"""The tenants `_saga_start` reads, seeded before anything is watched."""


@pytest.fixture(autouse=True)
def _no_snapshot_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots read from their table every time, as a cache miss does."""
    monkeypatch.setattr(snapshot_store, "RECENT_SNAPSHOTS", RecentSnapshots(max_bytes=0))


@contextmanager
def _executed(engine: AsyncEngine) -> Iterator[list[object]]:
    """The statement objects `engine` executes meanwhile, in order."""
    seen: list[object] = []

    def before(conn: Any, statement: Any, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_execute", before)


def _tenant(n: int) -> str:
    return f"built-once-{n}-{uuid.uuid4().hex[:6]}"


async def _claim(conn: AsyncConnection, n: int) -> Any:
    tenant = _tenant(n)
    return await inbox.claim(
        conn, orchestrator_tables.inbox, consumer="orchestrator", event_id=uuid.uuid4(), tenant_id=tenant, digest="d"
    )


async def _saga_steps(conn: AsyncConnection, n: int) -> Any:
    """What the orchestrator's saga store does for a saga: add it, find the day's plan, lock it, save
    its state, count the live ones, keep two step results and read them back."""
    sagas = PostgresSagas(conn)
    saga = a_saga(_tenant(n))
    assert await sagas.add(saga, at=T0)
    assert await sagas.day_plan(saga.tenant_id, saga.business_date) is not None
    assert await sagas.lock(saga.saga_id) == saga
    await sagas.save_state(saga.saga_id, a_state(SagaStatus.COMPENSATING), at=T0)
    assert await sagas.count_live() >= 1
    await sagas.add_result(saga.saga_id, forecasted(saga))
    await sagas.add_result(saga.saga_id, scheduled(saga))
    assert len(await sagas.results(saga.saga_id, ["forecasting"])) == 1
    assert await sagas.result_lengths(saga.saga_id, {"production": "requirements"}) == {"production": 1}


async def _saga_start(conn: AsyncConnection, n: int) -> Any:
    """A saga's start: its tenant looked up, its snapshot read (one statement, the largest), stored and
    read back, and the tenant's profile for its release."""
    stores = PostgresMasterData(conn)
    tenant = SEEDED[n]
    assert await stores.tenant_exists(tenant)
    snapshot = await stores.snapshot(tenant, business_date=TODAY, horizon_days=7)
    assert snapshot.tenant_id == tenant
    assert snapshot.products
    saved = PostgresSnapshots(conn)
    stored = await saved.add(snapshot)
    assert await saved.get(stored.sha256) == snapshot  # from the table: `_no_snapshot_cache`
    assert (await stores.tenant_profile(tenant)).currency


async def _archive(conn: AsyncConnection, n: int) -> Any:
    """The audit append of a handler: the chain head locked and the links written."""
    trigger = a_trigger(_tenant(n))
    saga = replace(a_saga(trigger.tenant_id), saga_id=uuid.uuid4())
    alert = SagaFailedAlert(
        event_id=uuid.uuid4(), tenant_id=trigger.tenant_id, saga_id=saga.saga_id, occurred_at=T0, reason="r"
    )
    outgoing = [outbox_rows.Outgoing(Topic.ALERTS, alert)]
    await audit.record(
        conn,
        inbound=Inbound(trigger, Topic.TRIGGERS, saga.saga_id),
        outgoing=outgoing,
        at=datetime.now(UTC),
        keys=audit.DEV_AUDIT_KEYS,
    )


async def _queue(conn: AsyncConnection, n: int) -> Any:
    """Messages queued in an outbox (a different number of rows each time)."""
    alerts = [
        SagaFailedAlert(event_id=uuid.uuid4(), tenant_id=_tenant(n), saga_id=uuid.uuid4(), occurred_at=T0, reason="r")
        for _ in range(n + 1)
    ]
    await outbox_rows.add(conn, orchestrator_tables.outbox, [outbox_rows.Outgoing(Topic.ALERTS, a) for a in alerts])


async def _worker_bookkeeping(conn: AsyncConnection, n: int) -> Any:
    """A worker's saga checks and the status move of its results."""
    saga = a_saga(_tenant(n))
    await check_saga_tenant(conn, forecasting_tables.effect_log, forecasted(saga))
    moved = await set_status(
        conn,
        forecasting_tables.forecasts,
        saga_id=saga.saga_id,
        tenant_id=saga.tenant_id,
        to="active",
        only_from="draft",
    )
    assert moved == 0


async def _drafts(conn: AsyncConnection, n: int) -> Any:
    """A step's result rows written as drafts (a different number of rows each time)."""
    rows = [
        {"saga_id": uuid.uuid4(), "tenant_id": _tenant(n), "status": "draft", "product_id": f"P{i}", "day": T0.date()}
        | {"units": float(i), "p10": None, "p50": None, "p90": None, "model": "m"}
        for i in range(n * 3)
    ]
    assert await write_drafts(conn, forecasting_tables.forecasts, rows) == len(rows)


OPERATIONS = [_claim, _saga_steps, _saga_start, _archive, _queue, _worker_bookkeeping, _drafts]


@pytest.mark.parametrize("work", OPERATIONS, ids=lambda w: w.__name__)
async def test_each_step_operation_executes_the_same_statements_every_time(engine: AsyncEngine, work: Work) -> None:
    for n in (1, 2):
        SEEDED[n] = _tenant(n)
        async with engine.begin() as conn:
            await write_tenant(conn, replace(TINY, tenant_id=SEEDED[n]))
    runs: list[list[object]] = []  # the objects themselves: an id alone could be a collected one's again
    for n in (1, 2):
        async with engine.connect() as conn:
            with _executed(engine) as seen:
                await work(conn, n)
            await conn.rollback()
        runs.append(seen)
    first, second = runs
    assert first, "nothing was executed"
    assert len(first) == len(second)
    rebuilt = [str(a) for a, b in zip(first, second, strict=True) if a is not b]
    assert not rebuilt, f"built again for the second call: {rebuilt}"


async def test_the_delivery_count_executes_the_same_statement_every_time(engine: AsyncEngine) -> None:
    counter = PostgresDeliveryAttempts(engine, forecasting_tables.delivery_attempts)
    runs: list[list[object]] = []
    for partitions in (1, 3):
        with _executed(engine) as seen:
            await counter.begin_many(f"g-{uuid.uuid4().hex[:8]}", [("t", p, 5) for p in range(partitions)])
        runs.append(seen)
    # the one upsert (besides the transaction's own BEGIN/COMMIT, not executed as statements here)
    assert len(runs[0]) == len(runs[1]) == 1
    assert runs[0][0] is runs[1][0], "the delivery count was built again"
