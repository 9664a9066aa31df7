"""How fast the scheduler triggers a chain whose stores all run at the same local time, on the real
Postgres and Kafka.

    uv run python bench/schedule_fanout.py --tenants 10000 --jitter 0 --jitter 20 [--out results.json]

(with DATABASE_URL and BAKEPLAN_KAFKA_BOOTSTRAP set, schema migrated). For each jitter setting it
seeds `--tenants` schedules due at the same instant (Europe/Madrid, decided up to yesterday, as a
scheduler that ran yesterday leaves them), runs the orchestrator's scheduler loop
(`orchestrator.scheduler.scan_forever`) and outbox relay in this process, and reads the triggers
topic back with a consumer until every tenant's `PlanningRequested` is there. The orchestrator's saga
handler does not run: this measures scheduler + relay + Kafka, not planning (the tenants do not
exist in master data). Prints, from the shared due instant: when all decisions were committed, when
all triggers were on Kafka, each tenant's min/max delay (Kafka record time − due instant, and −
its own jittered instant), and the passes. Deletes its schedules, decisions and outbox rows after.

Run it only where no orchestrator is running (it refuses otherwise: that orchestrator's scheduler
would take part, and its consumer would try to plan 10,000 unknown tenants). Afterwards it moves the
orchestrator's consumer group past the bench's triggers, so an orchestrator started later on this
stack does not work through them; partitions the group had not fully consumed before are left alone.
"""

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.ids import daily_trigger_id
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import decode
from infra.messaging.kafka_client import new_admin, new_consumer
from infra.messaging.outbox import OutboxRelay
from infra.messaging.producer import create_producer
from infra.settings import Settings
from orchestrator.scheduler import Pass, next_due_at, scan_forever
from orchestrator.scheduling import TenantSchedule, jitter_offset
from orchestrator.tables import outbox, schedule_decisions, schedules

ZONE = "Europe/Madrid"
LEAD_S = 8.0  # seeding done and consumer assigned before the shared due instant


async def seed(engine: AsyncEngine, tenants: list[str], due: datetime, jitter: timedelta) -> None:
    """Schedules due at `due` (to the second), decided up to the day before."""
    local = due.astimezone(TenantSchedule("probe", ZONE).zone)
    run_at, day = local.time().replace(microsecond=0), local.date()
    cutoff = (local + timedelta(hours=2)).time() if local.hour < 21 else local.time().replace(hour=23, minute=59)
    rows = []
    for tenant in tenants:
        schedule = TenantSchedule(tenant, ZONE, run_at=run_at, cutoff=cutoff, jitter=jitter_offset(tenant, jitter))
        last = day - timedelta(days=1)
        rows.append(
            {
                "tenant_id": tenant,
                "time_zone": ZONE,
                "run_at": run_at,
                "cutoff": cutoff,
                "last_decided": last,
                "next_due_at": next_due_at(schedule, last, due),
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(schedules), rows)


async def clean(engine: AsyncEngine, tenants: list[str], due: datetime) -> None:
    day = due.astimezone(TenantSchedule("probe", ZONE).zone).date()
    async with engine.begin() as conn:
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(tenants)))
        await conn.execute(delete(schedule_decisions).where(schedule_decisions.c.tenant_id.in_(tenants)))
        await conn.execute(delete(outbox).where(outbox.c.event_id.in_([daily_trigger_id(t, day) for t in tenants])))


ORCHESTRATOR_GROUP = "bakeplan.orchestrator"  # infra/messaging/consumer.py: bakeplan.<consumer>


async def trigger_partitions(settings: Settings) -> list[TopicPartition]:
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([settings.topic(Topic.TRIGGERS)])
        (response,) = await admin.describe_consumer_groups([ORCHESTRATOR_GROUP])
    finally:
        await admin.close()
    members = sum(len(group[5]) for group in response.groups)  # (error, id, state, protocol type, protocol, members …)
    if members:
        raise SystemExit(
            f"an orchestrator is consuming from {settings.kafka_bootstrap} ({members} member(s) in "
            f"{ORCHESTRATOR_GROUP}); stop it, or use a stack of the bench's own"
        )
    return [TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]]


async def skip_bench_triggers(settings: Settings, before: dict[TopicPartition, int]) -> None:
    """Commit the orchestrator group's offsets past the bench's triggers on the partitions it had
    consumed up to `before` (the ends when the bench started)."""
    consumer = new_consumer(settings, Principal.ADMIN, group_id=ORCHESTRATOR_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = list(before)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        caught_up = [tp for tp in partitions if (await consumer.committed(tp) or 0) >= before[tp]]
        if caught_up:
            await consumer.commit({tp: ends[tp] for tp in caught_up})
    finally:
        await consumer.stop()


async def run_once(settings: Settings, n: int, jitter_s: float, scan_seconds: float) -> dict[str, Any]:
    engine = create_engine(settings)
    prefix = f"fanout-{uuid.uuid4().hex[:6]}"
    tenants = [f"{prefix}-{i:05d}" for i in range(n)]
    jitter = timedelta(seconds=jitter_s)
    due = (datetime.now(UTC) + timedelta(seconds=LEAD_S)).replace(microsecond=0)
    day = due.astimezone(TenantSchedule("probe", ZONE).zone).date()
    expected = {daily_trigger_id(t, day): t for t in tenants}
    fires = {t: due + jitter_offset(t, jitter) for t in tenants}

    await ensure_topics(settings, Principal.ADMIN)
    async with engine.begin() as conn:  # left behind by an interrupted run, they would fire first
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.like("fanout-%")))
    await seed(engine, tenants, due, jitter)
    consumer = new_consumer(settings, Principal.ADMIN, enable_auto_commit=False)
    await consumer.start()
    partitions = await trigger_partitions(settings)
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    before = {tp: await consumer.position(tp) for tp in partitions}  # records published from here on are read

    producer = create_producer(settings, Principal.ORCHESTRATOR)
    await producer.start()
    relay = OutboxRelay(
        engine, outbox, producer, poll_seconds=settings.relay_poll_seconds, topic_prefix=settings.topic_prefix
    )
    passes: list[tuple[float, Pass]] = []
    committed: list[float] = []

    def on_pass(p: Pass) -> None:
        passes.append((time.time(), p))
        if p.fired:
            relay.wake()
        if sum(q.recorded for _, q in passes) >= n and not committed:
            committed.append(time.time())

    background = [
        asyncio.create_task(relay.run()),
        asyncio.create_task(
            scan_forever(
                engine,
                lambda: datetime.now(UTC),
                horizon_days=settings.horizon_days,
                max_jitter=jitter,
                scan_seconds=scan_seconds,
                on_pass=on_pass,
            )
        ),
    ]
    on_kafka: dict[str, float] = {}
    deadline = time.monotonic() + LEAD_S + jitter_s + 180
    try:
        while len(on_kafka) < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    tenant = expected.get(decode(record.value).event_id)
                    if tenant is not None:
                        on_kafka.setdefault(tenant, record.timestamp / 1000)
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await producer.stop()
        await consumer.stop()
        await skip_bench_triggers(settings, before)
        await clean(engine, tenants, due)
        await engine.dispose()
    if len(on_kafka) < n:
        raise SystemExit(f"only {len(on_kafka)} of {n} triggers reached Kafka within the deadline")
    t0 = due.timestamp()
    delays = [on_kafka[t] - t0 for t in tenants]
    after_own = [on_kafka[t] - fires[t].timestamp() for t in tenants]
    working = [p for _, p in passes if p.scanned]
    return {
        "tenants": n,
        "jitter_s": jitter_s,
        "scan_seconds": scan_seconds,
        "all_decisions_committed_s": round(committed[0] - t0, 2),
        "all_triggers_on_kafka_s": round(max(delays), 2),
        "delay_after_due_s": {"min": round(min(delays), 3), "max": round(max(delays), 3)},
        "delay_after_own_jittered_instant_s": {"min": round(min(after_own), 3), "max": round(max(after_own), 3)},
        "passes": len(working),
        "largest_pass": max(p.scanned for p in working),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--jitter", type=float, action="append", help="seconds; repeat for several runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = Settings()
    results = [
        asyncio.run(run_once(settings, args.tenants, jitter, settings.schedule_scan_seconds))
        for jitter in (args.jitter or [0.0, settings.schedule_jitter_seconds])
    ]
    for result in results:
        print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
