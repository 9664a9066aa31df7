import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from infra.db import create_engine
from infra.messaging.admin import ensure_topics
from infra.messaging.producer import create_producer
from infra.settings import Settings
from tests.e2e.processes import Processes
from tests.scratch_outbox import scratch_outbox as scratch_outbox_table


@pytest.fixture(scope="package")  # stopped before the fault suite, which needs the consumer groups to itself
def processes(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    # a short low-stock debounce window (tests/e2e/test_low_stock.py), still longer than a busy machine takes
    # to consume its burst of 50 events (measured: up to ~4 s on 2 shared cores); a short schedule jitter
    # keeps the jittered path in play without making the scheduled tests wait the default 20 s
    procs = Processes(
        settings,
        tmp_path_factory.mktemp("logs"),
        worker_replicas=2,
        BAKEPLAN_LOW_STOCK_DEBOUNCE_SECONDS="10",
        BAKEPLAN_SCHEDULE_JITTER_SECONDS="3",
    )
    procs.start_all()
    yield procs
    procs.stop_all()


@pytest.fixture(scope="session")
async def engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def tenant_prefix() -> str:
    """Tenants of one test never collide with another test's (or another run's)."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def scratch_outbox(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with scratch_outbox_table(engine, "relay") as table:
        yield table


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(settings, Principal.ADMIN)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    yield producer
    await producer.stop()
