"""The retention job on a million rows while a hot-path writer runs: `make bench-retention`.

In a database of its own (created on DATABASE_URL's server, dropped at the end), it fills the tables
the job prunes with about `--rows` rows, most of them past their horizon (finished sagas with their
timeline, step results and snapshots; inbox claims, published outbox rows and effect-log rows in
every component's schema), then runs a writer that does what a handler does in one transaction
(claim an inbox row, lock its running saga, queue an outbox row, log the effect) and measures its
latency for `--baseline-seconds` alone and then while the job runs. Prints rows deleted, the job's
wall time, rows/s, and the writer's p50/p99/max before and during (docs/retention.md).

    uv run python -m bench.retention [--rows 1000000] [--json]
"""

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.migrate import upgrade
from infra.db import create_engine
from infra.settings import Settings
from orchestrator.retention import COMPONENTS, RetentionJob, RetentionPolicy

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=60)
KEEP_SHARE = 0.1
"""Of each table, this share is recent (kept); the rest is past its horizon."""


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fill(engine: AsyncEngine, rows: int) -> dict[str, int]:
    """About `rows` rows over the pruned tables; returns rows per table."""
    # a saga: its row, 10 timeline lines, 4 step results and a snapshot (16 rows); 40 % of all rows
    sagas = max(10, rows // 40)
    per_schema_inbox = rows * 30 // 100 // len(COMPONENTS)
    outbox_rows = rows * 15 // 100
    per_schema_effects = rows * 15 // 100 // len(COMPONENTS)
    recent = int(sagas * KEEP_SHARE)
    counts: dict[str, int] = {}
    async with engine.begin() as conn:

        async def run(table: str, sql: str, **params: Any) -> None:
            result = await conn.execute(text(sql), params)
            counts[table] = counts.get(table, 0) + int(result.rowcount or 0)

        # finished sagas: old ones (pruned) and recent ones (kept); a few running ones, old (kept)
        await run(
            "orchestrator.sagas",
            "INSERT INTO orchestrator.sagas (saga_id, tenant_id, business_date, status, state, trigger_event_id, "
            "snapshot_sha256, created_at, updated_at) SELECT gen_random_uuid(), 'bench-' || (n % 100), "
            "date '2020-01-01' + n, CASE WHEN n % 500 = 0 THEN 'RUNNING' ELSE 'COMPLETED' END, '{}'::jsonb, "
            "gen_random_uuid(), md5(n::text) || md5((n + 1)::text), "
            "t, t FROM generate_series(1, :n) n, "
            "LATERAL (SELECT CASE WHEN n <= :recent THEN CAST(:now AS timestamptz) "
            "ELSE CAST(:old AS timestamptz) END t) x",
            n=sagas,
            recent=recent,
            now=NOW,
            old=OLD,
        )
        await run(
            "orchestrator.snapshots",
            "INSERT INTO orchestrator.snapshots (sha256, tenant_id, size_bytes, body, created_at) "
            "SELECT snapshot_sha256, tenant_id, 2048, convert_to(repeat('x', 2048), 'UTF8'), created_at "
            "FROM orchestrator.sagas WHERE tenant_id LIKE 'bench-%'",
        )
        await run(
            "orchestrator.saga_log",
            "INSERT INTO orchestrator.saga_log (saga_id, at, kind, step, detail) "
            "SELECT s.saga_id, s.updated_at, 'RunStep', 'forecasting', 'attempt 1' "
            "FROM orchestrator.sagas s, generate_series(1, 10)",
        )
        await run(
            "orchestrator.step_results",
            "INSERT INTO orchestrator.step_results (saga_id, step, event_id, payload, recorded_at) "
            "SELECT s.saga_id, step, gen_random_uuid(), convert_to(repeat('r', 1024), 'UTF8'), s.updated_at "
            "FROM orchestrator.sagas s, unnest(array['forecasting', 'production', 'procurement', 'release']) step",
        )
        for schema in COMPONENTS:
            await run(
                f"{schema}.inbox",
                f"INSERT INTO {schema}.inbox (consumer, event_id, tenant_id, content_sha256, received_at) "
                "SELECT :schema, gen_random_uuid(), 'bench-' || (n % 100), md5(n::text) || md5(n::text), "
                "CASE WHEN n % 10 = 0 THEN CAST(:now AS timestamptz) ELSE CAST(:old AS timestamptz) END "
                "FROM generate_series(1, :n) n",
                schema=schema,
                n=per_schema_inbox,
                now=NOW,
                old=OLD,
            )
            await run(
                f"{schema}.effect_log",
                f"INSERT INTO {schema}.effect_log (consumer, kind, event_id, saga_id, tenant_id, step, at) "
                "SELECT :schema, 'run', gen_random_uuid(), s.saga_id, s.tenant_id, 'forecasting', s.updated_at "
                "FROM orchestrator.sagas s, generate_series(1, :k)",
                schema=schema,
                k=max(1, round(per_schema_effects / sagas)),
            )
        await run(
            "orchestrator.outbox",
            "INSERT INTO orchestrator.outbox (event_id, topic, message_key, event_type, payload, created_at, "
            "published_at) SELECT gen_random_uuid(), 'bakeplan.planning.plans', 'bench-' || (n % 100), "
            "'planning.plan_ready', convert_to(repeat('p', 512), 'UTF8'), t, t "
            "FROM generate_series(1, :n) n, "
            "LATERAL (SELECT CASE WHEN n % 10 = 0 THEN CAST(:now AS timestamptz) "
            "ELSE CAST(:old AS timestamptz) END t) x",
            n=outbox_rows,
            now=NOW,
            old=OLD,
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    return counts


class HotPath:
    """One handler's transaction, over and over: claim, lock the saga, queue, log; latency per transaction."""

    def __init__(self, engine: AsyncEngine, saga_ids: list[uuid.UUID]) -> None:
        self._engine = engine
        self._sagas = saga_ids
        self.latencies: list[float] = []
        self._n = 0

    async def once(self) -> None:
        saga_id = self._sagas[self._n % len(self._sagas)]
        self._n += 1
        event_id = uuid.uuid4()
        started = time.perf_counter()
        async with self._engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO orchestrator.inbox (consumer, event_id, tenant_id) VALUES ('hot', :e, 'bench-hot')"),
                {"e": event_id},
            )
            await conn.execute(
                text("SELECT state FROM orchestrator.sagas WHERE saga_id = :s FOR UPDATE"), {"s": saga_id}
            )
            await conn.execute(
                text(
                    "INSERT INTO orchestrator.outbox (event_id, topic, message_key, event_type, payload) "
                    "VALUES (:e, 'bakeplan.forecasting.commands', 'bench-hot', 'forecasting.forecast_demand', :p)"
                ),
                {"e": event_id, "p": b"x" * 512},
            )
            await conn.execute(
                text(
                    "INSERT INTO orchestrator.effect_log (consumer, kind, event_id, saga_id, tenant_id) "
                    "VALUES ('hot', 'run', :e, :s, 'bench-hot')"
                ),
                {"e": event_id, "s": saga_id},
            )
        self.latencies.append(time.perf_counter() - started)

    async def run_until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            await self.once()

    async def run_for(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            await self.once()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "transactions": len(latencies),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


async def bench(settings: Settings, *, rows: int, baseline_seconds: float, batch_rows: int) -> dict[str, Any]:
    engine = create_engine(settings, pool_size=4)
    try:
        started = time.perf_counter()
        filled = await fill(engine, rows)
        fill_seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            running = list(
                (await conn.execute(text("SELECT saga_id FROM orchestrator.sagas WHERE status = 'RUNNING'"))).scalars()
            )
        before = HotPath(engine, running)
        await before.run_for(baseline_seconds)
        during = HotPath(engine, running)
        done = asyncio.Event()
        writer = asyncio.create_task(during.run_until(done))
        policy = RetentionPolicy(saga_days=30, message_days=14, batch_rows=batch_rows)
        try:
            report = await RetentionJob(engine, policy).run(now=NOW)
        finally:
            done.set()
            await writer
        assert report is not None, "nothing else runs the job in the benchmark's own database"
        return {
            "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model()},
            "rows_filled": sum(filled.values()),
            "filled": filled,
            "fill_seconds": round(fill_seconds, 1),
            "batch_rows": batch_rows,
            "rows_deleted": report.rows,
            "sagas_pruned": report.sagas_pruned,
            "batches": report.batches,
            "job_seconds": round(report.seconds, 2),
            "rows_per_second": round(report.rows / report.seconds),
            "skipped": report.skipped,
            "deleted": report.deleted,
            "hot_path_before": _percentiles(before.latencies),
            "hot_path_during": _percentiles(during.latencies),
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = Settings()
    name = f"bakeplan_bench_retention_{uuid.uuid4().hex[:8]}"
    admin_dsn = server.asyncpg_dsn
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    try:
        settings = Settings(
            database_url=make_url(server.database_url).set(database=name).render_as_string(hide_password=False)
        )
        upgrade(settings)
        result = asyncio.run(
            bench(settings, rows=args.rows, baseline_seconds=args.baseline_seconds, batch_rows=args.batch_rows)
        )
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    b, d = result["hot_path_before"], result["hot_path_during"]
    print(f"filled {result['rows_filled']:,} rows in {result['fill_seconds']} s ({result['machine']})")
    print(
        f"retention: deleted {result['rows_deleted']:,} rows ({result['sagas_pruned']:,} sagas) in "
        f"{result['job_seconds']} s, {result['rows_per_second']:,} rows/s, {result['batches']} batches of "
        f"≤{result['batch_rows']:,}"
    )
    print(f"hot path before: p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms, max {b['max_ms']} ms ({b['transactions']} tx)")
    print(f"hot path during: p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, max {d['max_ms']} ms ({d['transactions']} tx)")


if __name__ == "__main__":
    main()
