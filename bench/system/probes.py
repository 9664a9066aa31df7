"""What one saga costs: per-process CPU and peak memory from /proc, Kafka records and bytes per
topic, Postgres transactions and statements."""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.planning import PlanningSnapshot
from contracts.topics import Topic
from infra.messaging.kafka_client import new_consumer
from infra.settings import Settings
from orchestrator.engine import SagaStatus
from orchestrator.tables import saga_log, sagas, snapshots
from workers.chain import plan_snapshot

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    rss_mb: float
    peak_rss_mb: float


def proc_sample(pid: int) -> ProcSample:
    """CPU seconds (user + system) so far, resident and peak resident memory of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return ProcSample(
        cpu_s=cpu,
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,
        peak_rss_mb=int(status["VmHWM"].split()[0]) / 1024,
    )


def process_tree(pid: int) -> list[int]:
    """`pid` and every process under it (a worker's planner processes and their forkserver)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_samples(pid: int) -> dict[int, ProcSample]:
    """A sample of every process of `pid`'s tree that is still there when read."""
    samples = {}
    for member in process_tree(pid):
        try:
            samples[member] = proc_sample(member)
        except (OSError, KeyError):
            continue  # exited meanwhile
    return samples


def server_cpu_s() -> dict[str, float]:
    """CPU seconds so far of the servers on this machine: every `postgres` process (backends that
    exited meanwhile are not counted) and the Kafka JVM (its command line names kafka.Kafka)."""
    totals = {"postgres": 0.0, "kafka": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        role = "postgres" if name == "postgres" else "kafka" if b"kafka.Kafka" in cmdline else None
        if role is not None:
            fields = stat.rsplit(")", 1)[1].split()
            totals[role] += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


@dataclass
class KafkaCounts:
    records: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)


async def end_offsets(settings: Settings) -> dict[TopicPartition, int]:
    consumer = new_consumer(settings, Principal.ADMIN, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [
            TopicPartition(name, p)
            for name in map(settings.topic, Topic)
            for p in sorted(consumer.partitions_for_topic(name) or await _partitions(consumer, name))
        ]
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # aiokafka fills partition metadata lazily: ask for the topic once
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def kafka_counts(
    settings: Settings, before: Mapping[TopicPartition, int], after: Mapping[TopicPartition, int], *, read_bytes: bool
) -> KafkaCounts:
    """Records per topic (by its name without the run's prefix) between two `end_offsets` snapshots;
    with `read_bytes`, their key + value bytes too (reads them back, so it takes a while after a large run)."""
    counts = KafkaCounts()
    for tp, end in after.items():
        name = tp.topic.removeprefix(settings.topic_prefix)
        counts.records[name] = counts.records.get(name, 0) + end - before.get(tp, 0)
    if not read_bytes:
        return counts
    wanted = {tp: (before.get(tp, 0), end) for tp, end in after.items() if end > before.get(tp, 0)}
    consumer = new_consumer(
        settings, Principal.ADMIN, enable_auto_commit=False, max_partition_fetch_bytes=16 * 1024 * 1024
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        for tp, (start, _) in wanted.items():
            consumer.seek(tp, start)
        remaining = set(wanted)
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < wanted[tp][1]:
                        size = len(record.value or b"") + len(record.key or b"")
                        name = tp.topic.removeprefix(settings.topic_prefix)
                        counts.bytes[name] = counts.bytes.get(name, 0) + size
                if (await consumer.position(tp)) >= wanted[tp][1]:
                    remaining.discard(tp)
        return counts
    finally:
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            # aiokafka cancels its own committed-offsets task on stop and, on a cluster of several
            # brokers, can let that cancellation out; ours only if this task itself is cancelled
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise


async def postgres_counters(engine: AsyncEngine) -> dict[str, int]:
    """Commits, rows written and (with pg_stat_statements) statements executed, database-wide."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
                    "FROM pg_stat_database WHERE datname = current_database()"
                )
            )
        ).one()
        counters = dict(row._mapping)
        try:
            calls = (await conn.execute(text("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"))).scalar_one()
            counters["statements"] = int(calls)
        except DBAPIError:
            pass  # the extension is optional: without it statements are not counted
    return {k: int(v) for k, v in counters.items()}


async def enable_statement_counts(engine: AsyncEngine) -> bool:
    """Create pg_stat_statements if the server preloads it; False when it cannot be counted."""
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            await conn.execute(text("SELECT count(*) FROM pg_stat_statements"))
        return True
    except DBAPIError:
        return False  # not preloaded on this server: statements are reported as unknown


def per_saga(total: Mapping[str, int | float], sagas: int) -> dict[str, float]:
    return {k: round(v / sagas, 3) for k, v in total.items()} if sagas else {}


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """n, p50/p95/p99 and max in milliseconds."""
    if not seconds:
        return {"n": 0}
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99])
    return {
        "n": len(seconds),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def flame_graphs(pids: dict[str, int], out: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy (the `profile` dependency group) sampling each process of `pids` (by name) for `seconds`,
    each writing a flame graph `out/<name>.svg`; without blocking them (`--nonblocking`)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--flames needs py-spy: uv sync --group profile --inexact (make bench-flames does)")
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                *(spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100"),
                *("--nonblocking", "--format", "flamegraph", "--output", str(out / f"{name}.svg")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


async def pure_planning_seconds(engine: AsyncEngine, saga_ids: Sequence[UUID]) -> float:
    """The same sagas planned in this one process by the pure planners, from their recorded snapshots."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(sagas.c.saga_id, snapshots.c.body)
                .join(snapshots, snapshots.c.sha256 == sagas.c.snapshot_sha256)
                .where(sagas.c.saga_id.in_(saga_ids))
            )
        ).all()
    total = 0.0
    for row in rows:
        snapshot = PlanningSnapshot.model_validate_json(row.body)
        start = time.perf_counter()
        plan_snapshot(snapshot, saga_id=row.saga_id)
        total += time.perf_counter() - start
    return total


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpus": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1), "uname": " ".join(os.uname())}


async def latencies(engine: AsyncEngine, sent_at: dict[UUID, datetime], saga_ids: Sequence[UUID]) -> dict[str, Any]:
    """Trigger → COMPLETED per saga, and each part of it from the saga's timeline."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(sagas.c.saga_id, sagas.c.status, sagas.c.updated_at).where(sagas.c.saga_id.in_(saga_ids))
            )
        ).all()
        log_rows = (
            await conn.execute(
                select(saga_log.c.saga_id, saga_log.c.kind, saga_log.c.step, saga_log.c.at)
                .where(saga_log.c.saga_id.in_(saga_ids))
                .order_by(saga_log.c.id)
            )
        ).all()
    statuses: dict[str, int] = {}
    total = []
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
        if row.status == SagaStatus.COMPLETED:
            total.append((row.updated_at - sent_at[row.saga_id]).total_seconds())
    parts: dict[str, list[float]] = {"trigger_to_started": []}
    started: dict[UUID, datetime] = {}
    running: dict[tuple[UUID, str], datetime] = {}
    for r in log_rows:
        if r.kind == "started":
            started[r.saga_id] = r.at
            parts["trigger_to_started"].append((r.at - sent_at[r.saga_id]).total_seconds())
        elif r.kind == "RunStep":
            running[(r.saga_id, r.step)] = r.at
        elif r.kind == "step_done" and (r.saga_id, r.step) in running:
            parts.setdefault(r.step, []).append((r.at - running[(r.saga_id, r.step)]).total_seconds())
    return {
        "statuses": statuses,
        "trigger_to_completed": summary_ms(total),
        "parts": {name: summary_ms(values) for name, values in parts.items()},
    }
