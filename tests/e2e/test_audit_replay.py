"""Audit archive, replay and explain on sagas that really ran through Kafka and the workers."""

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner, Result

import workers.procurement.replenishment
from bakeplan.acl_table import Principal
from bakeplan.cli import app
from contracts.planning import PurchaseLine
from contracts.topics import Topic
from infra.messaging.kafka_client import new_consumer
from infra.settings import Settings
from orchestrator.tables import audit_events, outbox
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, seed, trigger, wait_terminal
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.e2e
SCHEMAS = ("masterdata", "orchestrator", "forecasting", "production", "procurement")
SAGA_EVENTS = Counter(
    {
        "planning.requested": 1,
        "planning.snapshot_taken": 1,
        "forecasting.forecast_demand": 1,
        "production.schedule_production": 1,
        "procurement.plan_procurement": 1,
        "forecasting.demand_forecasted": 1,
        "production.production_scheduled": 1,
        "procurement.procurement_planned": 1,
        "procurement.release_purchase_orders": 1,
        "procurement.purchase_orders_released": 1,
        "planning.plan_ready": 1,
    }
)


@dataclass(frozen=True)
class Recorded:
    tenant_id: str
    saga_ids: tuple[UUID, ...]  # one per business date, TODAY first


async def _with_engine(settings: Settings, work: Any) -> Any:
    engine = create_async_engine(settings.database_url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def recorded(settings: Settings, processes: Processes, tenant_prefix: str) -> Recorded:
    """One tenant planned for three business dates, each saga completed. Sync: the CLI under test
    runs its own event loop."""
    tenant_id = f"{tenant_prefix}-audit"

    async def run(engine: AsyncEngine) -> Recorded:
        await seed(engine, tenant_id)
        saga_ids = [await trigger(settings, tenant_id, TODAY + timedelta(days=d)) for d in range(3)]
        for saga_id in saga_ids:
            row = await wait_terminal(engine, saga_id)
            assert row["status"] == "COMPLETED", row
        return Recorded(tenant_id, tuple(saga_ids))

    return asyncio.run(_with_engine(settings, run))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tenant_prefix() -> str:
    return f"a{uuid.uuid4().hex[:8]}"


def cli(settings: Settings, *args: str) -> Result:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_archive_holds_every_event_of_each_saga_exactly_once(settings: Settings, recorded: Recorded) -> None:
    async def read(engine: AsyncEngine) -> tuple[list[Any], set[UUID]]:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        audit_events.c.saga_id,
                        audit_events.c.event_type,
                        audit_events.c.direction,
                        audit_events.c.event_id,
                        audit_events.c.seq,
                    )
                    .where(audit_events.c.tenant_id == recorded.tenant_id)
                    .order_by(audit_events.c.seq)
                )
            ).all()
            emitted = set(
                (
                    await conn.execute(select(outbox.c.event_id).where(outbox.c.message_key == recorded.tenant_id))
                ).scalars()
            )
        return list(rows), emitted

    rows, emitted = asyncio.run(_with_engine(settings, read))
    for saga_id in recorded.saga_ids:
        kinds = Counter(r.event_type for r in rows if r.saga_id == saga_id)
        assert kinds == SAGA_EVENTS, f"saga {saga_id}"
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    # what the orchestrator emitted (its outbox) is exactly what the archive marks as outgoing
    assert {r.event_id for r in rows if r.direction == "out"} == emitted
    verified = cli(settings, "audit", "verify", "--tenant", recorded.tenant_id)
    assert verified.exit_code == 0, verified.output
    assert f"{len(rows)} events" in verified.output


def test_replay_verify_of_real_sagas_is_identical(settings: Settings, recorded: Recorded) -> None:
    for saga_id in recorded.saga_ids:
        result = cli(settings, "replay", str(saga_id), "--verify", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["identical"] is True
        assert report["differences"] == []
        assert report["events"] == sum(SAGA_EVENTS.values())
        compared = report["compared"]
        assert compared["purchase_lines"] > 0
        assert compared["commands"] == 4
        # every purchase line was either released in an order or held back, and both were replayed
        assert compared["purchase_order_lines"] + compared["held_lines"] == compared["purchase_lines"]
    text_output = cli(settings, "replay", str(recorded.saga_ids[0]), "--verify")
    assert "identical" in text_output.output


async def _table_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        tables = (
            await conn.execute(
                text("SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = ANY(:s)"),
                {"s": list(SCHEMAS)},
            )
        ).scalars()
        counts = {}
        for table in sorted(tables):
            counts[table] = (await conn.execute(select(func.count()).select_from(text(table)))).scalar_one()
        return counts


async def _end_offsets(settings: Settings) -> dict[TopicPartition, int]:
    consumer = new_consumer(settings, Principal.ADMIN, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topic(topic), p)
            for topic in Topic
            for p in (
                consumer.partitions_for_topic(settings.topic(topic))
                or await _partitions(consumer, settings.topic(topic))
            )
        ]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def _quiet_state(settings: Settings) -> tuple[dict[str, int], dict[TopicPartition, int]]:
    """Table counts and topic end offsets, once two reads a second apart agree: the running processes
    have finished what the sagas left behind (workers activating the plan after `PlanReady`)."""
    previous = None
    deadline = time.monotonic() + 60
    while True:
        state = (await _with_engine(settings, _table_counts), await _end_offsets(settings))
        if state == previous:
            return state
        assert time.monotonic() < deadline, "the stack did not go quiet within 60 s"
        previous = state
        await asyncio.sleep(1.0)  # the interval two equal reads must span, not a wait for a condition


def test_replay_writes_nothing_and_publishes_nothing(settings: Settings, recorded: Recorded) -> None:
    counts_before, offsets_before = asyncio.run(_quiet_state(settings))
    single = cli(settings, "replay", str(recorded.saga_ids[1]), "--verify")
    ranged = cli(settings, "replay", "--tenant", recorded.tenant_id, "--from", str(TODAY), "--to", str(TODAY), "--json")
    assert (single.exit_code, ranged.exit_code) == (0, 0), single.output + ranged.output
    assert asyncio.run(_with_engine(settings, _table_counts)) == counts_before
    assert asyncio.run(_end_offsets(settings)) == offsets_before
    assert any(n > 0 for n in counts_before.values())
    assert offsets_before, "the bakeplan topics exist"


def test_a_changed_planner_makes_verify_fail_naming_the_line(
    settings: Settings, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = plan_purchases
    changed: list[PurchaseLine] = []

    def one_more_pack(*args: Any, **kwargs: Any) -> tuple[PurchaseLine, ...]:
        first, *rest = original(*args, **kwargs)
        bigger = first.model_copy(update={"quantity": first.quantity + 1})
        changed.append(bigger)
        return (bigger, *rest)

    monkeypatch.setattr(workers.procurement.replenishment, "plan_purchases", one_more_pack)
    result = cli(settings, "replay", str(recorded.saga_ids[0]), "--verify")
    assert result.exit_code == 1, result.output
    (line,) = changed
    assert f"purchase_lines {line.line_id}: quantity: {line.quantity - 1!r} → {line.quantity!r}" in result.output
    assert "1 difference(s)" in result.output


def test_explain_a_real_purchase_line_shows_lead_time_and_supplier_facts(
    settings: Settings, recorded: Recorded
) -> None:
    saga_id = str(recorded.saga_ids[0])
    plan = cli(settings, "replay", saga_id, "--json")
    assert plan.exit_code == 0, plan.output
    lines = json.loads(cli(settings, "plan-of", saga_id, "--json").stdout)["purchase_lines"]
    line_id = lines[0]["line_id"]
    chain = cli(settings, "explain", saga_id, "--line", line_id, "--json")
    assert chain.exit_code == 0, chain.output
    explained = json.loads(chain.stdout)
    assert explained["line"]["line_id"] == line_id
    assert explained["line"]["supplier_id"] == lines[0]["supplier_id"]
    assert "lead_time_days" in explained["facts"]["lead time"]
    assert "supplier_rank" in explained["facts"]["supplier choice"]
    # no goods came back yet: the lead time is the master data's (docs/learning.md)
    assert explained["lead_time"]["source"] == "master_data"
    assert explained["lead_time"]["receipts"] == 0
    assert explained["lead_time"]["lead_time_days"] == explained["facts"]["lead time"]["lead_time_days"]
    printed = cli(settings, "explain", saga_id, "--line", line_id)
    assert printed.exit_code == 0, printed.output
    for words in ("lead time", "lead_time_days", "supplier choice", "supplier_rank", "forecast", "master data of"):
        assert words in printed.output
    unknown = cli(settings, "explain", saga_id, "--line", "no-such-line")
    assert unknown.exit_code == 1
    assert "plan-of" in unknown.output


def test_tenant_range_replay_reports_events_per_second(settings: Settings, recorded: Recorded) -> None:
    last = TODAY + timedelta(days=2)
    span = ("--from", str(TODAY), "--to", str(last))
    result = cli(settings, "replay", "--tenant", recorded.tenant_id, *span, "--verify", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sagas"] == len(recorded.saga_ids)
    assert summary["events"] == len(recorded.saga_ids) * sum(SAGA_EVENTS.values())
    assert summary["mismatches"] == 0
    assert summary["events_per_second"] > 0
    printed = cli(settings, "replay", "--tenant", recorded.tenant_id, *span)
    assert f"replayed {len(recorded.saga_ids)} sagas" in printed.output
    assert "events/s" in printed.output
