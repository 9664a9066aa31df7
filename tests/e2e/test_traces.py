"""One saga is one trace across every process (docs/tracing.md): `bakeplan trigger` (its own process)
starts the trace, and the orchestrator, the three workers and the channels role, each its own OS
process exporting by OTLP/HTTP to a real receiver in the test, continue it through the Kafka
`traceparent` headers and the outboxes. Every span of the saga has one trace id, the tree has one
root (the trigger), every parent is in the trace, and every `process` span is the child of the
`send` span (in another process) that published its record. The tree and the span count are printed
for the docs."""

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.cli.acl import provision, unprovision
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra import tracing
from infra.messaging import outbox as outbox_store
from infra.messaging.codec import decode
from infra.settings import Settings
from orchestrator import masterdata as md
from tests.channels.wiring import channels_env
from tests.e2e.otlp_receiver import ReceivedSpan, Receiver, otlp_receiver, span_tree
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, own_database, read_topic, seed, wait_terminal
from workers.procurement.channels.config import FileDropTarget, SupplierChannel
from workers.procurement.channels.directory import save_channels

pytestmark = pytest.mark.e2e

SERVICES = ("orchestrator", "forecasting", "production", "procurement", "channels")

# (service, span) that one completed daily saga with released orders must show
EXPECTED = {
    ("bakeplan-cli", "trigger planning.requested"),
    ("bakeplan-orchestrator", "process planning.requested"),
    ("bakeplan-orchestrator", "transaction orchestrator"),
    ("bakeplan-forecasting", "process forecasting.forecast_demand"),
    ("bakeplan-forecasting", "transaction forecasting"),
    ("bakeplan-forecasting", "plan forecasting"),
    ("bakeplan-orchestrator", "process forecasting.demand_forecasted"),
    ("bakeplan-production", "process production.schedule_production"),
    ("bakeplan-production", "plan production"),
    ("bakeplan-orchestrator", "process production.production_scheduled"),
    ("bakeplan-procurement", "process procurement.plan_procurement"),
    ("bakeplan-procurement", "plan procurement"),
    ("bakeplan-orchestrator", "process procurement.procurement_planned"),
    ("bakeplan-procurement", "process procurement.release_purchase_orders"),
    ("bakeplan-procurement", "plan release"),
    ("bakeplan-orchestrator", "process procurement.purchase_orders_released"),
    ("bakeplan-channels", "process purchasing.order_released"),
    ("bakeplan-channels", "deliver purchase order"),
    ("bakeplan-channels", "process planning.plan_ready"),
    ("bakeplan-forecasting", "process planning.plan_ready"),
    ("bakeplan-production", "process planning.plan_ready"),
    ("bakeplan-procurement", "process planning.plan_ready"),
    ("bakeplan-channels", "transaction channels"),
}


def _trigger_by_cli(settings: Settings, env: dict[str, str], tenant: str) -> UUID:
    done = subprocess.run(
        [sys.executable, "-m", "bakeplan", "trigger", "--tenant", tenant, "--date", TODAY.isoformat(), "--json"],
        env={
            **os.environ,
            "BAKEPLAN_DATABASE_URL": settings.database_url,
            "DATABASE_URL": settings.database_url,
            "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return UUID(json.loads(done.stdout)["saga_id"])


def _the_trace(receiver: Receiver, saga_id: UUID) -> list[ReceivedSpan] | None:
    """The saga's trace once it has every expected span and no span whose parent is missing."""
    traces = {s.trace_id for s in receiver.snapshot() if s.attributes.get(tracing.SAGA) == str(saga_id)}
    if len(traces) != 1:
        return None
    spans = receiver.of_trace(traces.pop())
    ids = {s.span_id for s in spans}
    if not {(s.service, s.name) for s in spans} >= EXPECTED:
        return None
    if any(s.parent_id and s.parent_id not in ids for s in spans):
        return None  # a parent still open (or in flight) in some process
    names = Counter(s.name for s in spans)
    if names["process purchasing.order_released"] < names["send purchasing.order_released"]:
        return None  # the channels role has not handled (or exported) every released order yet
    return spans


def _what_came(receiver: Receiver, saga_id: UUID) -> str:
    got = receiver.snapshot()
    traces = Counter(s.trace_id for s in got if s.attributes.get(tracing.SAGA) == str(saga_id))
    seen = {(s.service, s.name) for s in got if s.trace_id in traces}
    ids = {s.span_id for s in got}
    dangling = [(s.service, s.name) for s in got if s.trace_id in traces and s.parent_id and s.parent_id not in ids]
    return (
        f"{len(got)} spans received in {receiver.requests} requests; the saga's traces: {dict(traces)}; "
        f"missing: {sorted(EXPECTED - seen)}; parent missing: {dangling}; services: {Counter(s.service for s in got)}"
    )


async def _one_traced_saga(
    own: Settings, engine: AsyncEngine, tmp_path: Path
) -> tuple[list[ReceivedSpan], Receiver, UUID, str]:
    """One cold tenant's saga through every process of the test's own, exporting to a real receiver."""
    secure = own.kafka_security_protocol != "PLAINTEXT"
    if secure:
        await asyncio.to_thread(provision, own)
    tenant = f"tr{uuid4().hex[:8]}"
    await seed(engine, tenant, cold=True)  # no stock: it orders, so the channels role sends
    drop_root = tmp_path / "drop"
    async with engine.begin() as conn:  # orders go out at once, as files
        await conn.execute(update(md.suppliers).where(md.suppliers.c.tenant_id == tenant).values(order_cutoff=None))
        suppliers = list(
            (await conn.execute(select(md.suppliers.c.supplier_id).where(md.suppliers.c.tenant_id == tenant))).scalars()
        )
        channels = [
            SupplierChannel(tenant_id=tenant, supplier_id=s, target=FileDropTarget(directory=s)) for s in suppliers
        ]
        await save_channels(conn, channels, at=datetime.now(UTC))
    for supplier in suppliers:
        (drop_root / supplier).mkdir(parents=True)

    with otlp_receiver() as (receiver, endpoint):
        traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        processes = Processes(own, tmp_path, env={**traced, **channels_env(smtp_port=1, drop_root=drop_root)})
        try:
            processes.start_all()
            processes.start("channels")
            saga_id = await asyncio.to_thread(_trigger_by_cli, own, traced, tenant)
            row = await wait_terminal(engine, saga_id)
            assert row["status"] == "COMPLETED", row["reason"]

            async def whole() -> list[ReceivedSpan] | None:
                return _the_trace(receiver, saga_id)

            try:
                spans = await eventually(whole, timeout_s=60, what=f"the trace of saga {saga_id} from every process")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{_what_came(receiver, saga_id)}") from None
        finally:
            processes.stop_all()
            if secure:
                await asyncio.to_thread(unprovision, own)
    return spans, receiver, saga_id, tenant


async def test_one_saga_is_one_trace_across_every_process(settings: Settings, tmp_path: Path) -> None:
    # topics and a database of its own: every process that handles this saga (and relays its outboxes)
    # is one of this test's, which export traces; the session's shared processes would relay its rows
    topics = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}tr{uuid4().hex[:6]}."})
    async with own_database(topics, "traces") as (own, engine):
        spans, receiver, saga_id, tenant = await _one_traced_saga(own, engine, tmp_path)

    trace_id = spans[0].trace_id
    by_id = {s.span_id: s for s in spans}
    # every span that names the saga, from any process, is in this one trace
    assert {s.trace_id for s in receiver.snapshot() if s.attributes.get(tracing.SAGA) == str(saga_id)} == {trace_id}
    (root,) = [s for s in spans if not s.parent_id]
    assert (root.service, root.name, root.kind) == ("bakeplan-cli", "trigger planning.requested", "producer")
    assert {s.service for s in spans} == {"bakeplan-cli", *(f"bakeplan-{role}" for role in SERVICES)}
    for span in spans:
        if span.service != "bakeplan-cli":
            assert span.attributes[tracing.ROLE] == span.service.removeprefix("bakeplan-")
        assert span.attributes[tracing.TENANT] == tenant, span
        assert tracing.EVENT_ID in span.attributes, span
        assert tracing.EVENT_TYPE in span.attributes, span
    # a handled record's span is the child of the span that sent it, in another process
    crossings: Counter[str] = Counter()
    for span in spans:
        if span.name.startswith("process "):
            parent = by_id[span.parent_id]
            event_type = span.name.removeprefix("process ")
            assert parent.kind == "producer", (span, parent)
            assert parent.name in (f"send {event_type}", f"trigger {event_type}"), (span, parent)
            assert parent.attributes[tracing.EVENT_ID] == span.attributes[tracing.EVENT_ID]
            if parent.service != span.service:
                crossings[span.service] += 1
        if span.name.startswith("send "):  # the relay's send is the child of the transaction that wrote the row
            assert by_id[span.parent_id].name.startswith("transaction "), span
        if span.name.startswith("plan "):
            # a worker plans before its claim transaction (in a planner process): under the handling of
            # the command; the release plans inside its transaction
            parent = by_id[span.parent_id]
            expected = "transaction " if span.name == "plan release" else "process "
            assert parent.name.startswith(expected), (span, parent)
    assert set(crossings) == {f"bakeplan-{role}" for role in SERVICES}

    tree = span_tree(spans)
    counts = Counter(s.service for s in spans)
    others = Counter((s.service, s.name) for s in receiver.snapshot() if s.trace_id != trace_id)
    report = f"trace {trace_id}: {len(spans)} spans ({dict(sorted(counts.items()))})\n{tree}\nother traces: {others}\n"
    (tmp_path / "trace.txt").write_text(report)
    print(report)


async def test_an_outbox_row_keeps_its_writers_trace_and_the_relay_sends_it_on(
    engine: AsyncEngine, settings: Settings, scratch_outbox: Table, producer: AIOKafkaProducer
) -> None:
    trace_id, span_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7
    writer = NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1)))

    def a_message() -> outbox_store.Outgoing:
        trigger = PlanningRequested(
            event_id=uuid4(), tenant_id="traced", occurred_at=datetime.now(UTC), business_date=TODAY, source="external"
        )
        return outbox_store.Outgoing(Topic.PLANS, trigger)  # no consumer acts on a trigger there

    traced, untraced = a_message(), a_message()
    async with engine.begin() as conn:
        with trace.use_span(writer):  # the span of the handler's transaction
            await outbox_store.add(conn, scratch_outbox, [traced])
        await outbox_store.add(conn, scratch_outbox, [untraced])  # a scan's write: no trace current
    async with engine.connect() as conn:
        kept = dict((await conn.execute(select(scratch_outbox.c.event_id, scratch_outbox.c.traceparent))).all())
    assert kept[traced.message.event_id] == f"00-{trace_id:032x}-{span_id:016x}-01"
    assert kept[untraced.message.event_id] is None

    relay = outbox_store.OutboxRelay(
        engine, scratch_outbox, producer, poll_seconds=60, topic_prefix=settings.topic_prefix
    )
    assert await relay.publish_pending() == 2
    wanted = {traced.message.event_id, untraced.message.event_id}
    records = await read_topic(settings, Topic.PLANS, lambda r: decode(r.value).event_id in wanted, expect=2)
    headers = {decode(r.value).event_id: dict(r.headers) for r in records}
    sent = headers[traced.message.event_id]["traceparent"].decode().split("-")
    assert sent[1] == f"{trace_id:032x}", "the record continues the writer's trace"
    assert "traceparent" not in headers[untraced.message.event_id]
