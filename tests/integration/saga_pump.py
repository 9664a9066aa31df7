"""Whole sagas on real Postgres without Kafka: the orchestrator's and the workers' own handlers, with
their outboxes read directly and each message handed to the handlers that consume its topic.

`Pump.run()` moves messages until no component has anything left to say for the pump's tenants. Rows
are marked published as they are taken, so a later `run` only sees what was written since. Handlers
run one message at a time in outbox order, which is what Kafka's per-tenant partitions give them.
"""

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.codec import decode
from orchestrator import tables as orchestrator_tables
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from workers.forecasting import tables as forecasting_tables
from workers.forecasting.handler import SPEC as FORECASTING
from workers.procurement import tables as procurement_tables
from workers.procurement.handler import SPEC as PROCUREMENT
from workers.procurement.release_handler import ReleaseWorker, route
from workers.production import tables as production_tables
from workers.production.handler import SPEC as PRODUCTION
from workers.shell.runtime import StepWorker

Handler = Callable[[Message], Coroutine[Any, Any, None]]
M = TypeVar("M", bound=Message)
OUTBOXES: tuple[Table, ...] = (
    orchestrator_tables.outbox,
    forecasting_tables.outbox,
    production_tables.outbox,
    procurement_tables.outbox,
)
STEP_TIMEOUT = timedelta(seconds=60)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Pump:
    engine: AsyncEngine
    tenants: Sequence[str]
    clock: FakeClock = field(default_factory=lambda: FakeClock(datetime(2026, 11, 28, 4, 30, tzinfo=UTC)))
    seen: list[tuple[Topic, Message]] = field(default_factory=list)
    """Every message moved, with its topic, in order."""
    skip: Callable[[Topic, Message], bool] = lambda topic, message: False
    """Messages to drop instead of handing on (a lost reply, a worker that never answers)."""

    def __post_init__(self) -> None:
        definitions = {
            kind: make(
                step_timeout=STEP_TIMEOUT, compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
            )
            for kind, make in ((SagaKind.DAILY, daily_plan_definition), (SagaKind.LOW_STOCK, low_stock_definition))
        }
        self.orchestrator = Orchestrator(PostgresStores(self.engine), definitions, self.clock, lambda: None)
        workers = {
            spec.name: StepWorker(spec, engine=self.engine, clock=self.clock, on_commit=lambda: None)
            for spec in (FORECASTING, PRODUCTION, PROCUREMENT)
        }
        self.release = ReleaseWorker(engine=self.engine, clock=self.clock, on_commit=lambda: None)
        self.handlers: dict[Topic, list[Handler]] = {
            Topic.STEP_REPLIES: [self.orchestrator.handle],
            Topic.FORECASTING_COMMANDS: [workers["forecasting"].handle],
            Topic.PRODUCTION_COMMANDS: [workers["production"].handle],
            Topic.PROCUREMENT_COMMANDS: [route(self.release, workers["procurement"].handle)],
            Topic.PLANS: [w.handle for w in workers.values()],
        }

    async def trigger(self, tenant_id: str, business_date: date) -> UUID:
        trigger = PlanningRequested(
            event_id=uuid4(),
            tenant_id=tenant_id,
            occurred_at=self.clock.now,
            business_date=business_date,
            source="external",
        )
        await self.orchestrator.handle(trigger)
        return saga_id_for_trigger(trigger.event_id)

    async def run(self, *, max_rounds: int = 50) -> int:
        """Move messages until all is quiet; returns how many were moved."""
        moved = 0
        for _ in range(max_rounds):
            batch = await self._take()
            if not batch:
                return moved
            for topic, message in batch:
                self.seen.append((topic, message))
                moved += 1
                if self.skip(topic, message):
                    continue
                for handle in self.handlers.get(topic, []):
                    await handle(message)
        raise AssertionError(f"still moving messages after {max_rounds} rounds")

    async def _take(self) -> list[tuple[Topic, Message]]:
        taken: list[tuple[int, Topic, Message]] = []
        async with self.engine.begin() as conn:
            for n, outbox in enumerate(OUTBOXES):
                rows = (
                    await conn.execute(
                        select(outbox.c.id, outbox.c.topic, outbox.c.payload)
                        .where(outbox.c.message_key.in_(list(self.tenants)), outbox.c.published_at.is_(None))
                        .order_by(outbox.c.id)
                        .with_for_update()
                    )
                ).all()
                if rows:
                    ids = [r.id for r in rows]
                    await conn.execute(
                        update(outbox).where(outbox.c.id.in_(ids)).values(published_at=datetime.now(UTC))
                    )
                taken += [(n, Topic(r.topic), decode(r.payload)) for r in rows]
        return [(topic, message) for _, topic, message in taken]

    def messages(self, kind: type[M], *, topic: Topic | None = None, saga_id: UUID | None = None) -> list[M]:
        return [
            m
            for t, m in self.seen
            if isinstance(m, kind) and (topic is None or t is topic) and (saga_id is None or m.saga_id == saga_id)
        ]
