"""Replay speed over many recorded sagas: run them through the real stack, then replay them all.

    uv run python bench/replay_speed.py --tenants 100 --days 10 [--out results.json]

Needs a migrated Postgres (`DATABASE_URL`) and Kafka (`BAKEPLAN_KAFKA_BOOTSTRAP`), e.g. `bakeplan stack
up && bakeplan db upgrade`. Seeds `--tenants` small synthetic tenants (`--history-days` of sales),
starts the orchestrator and workers as OS processes (`bakeplan serve --role R`; `--no-serve` uses
ones already running), publishes one trigger per tenant and business date (`--days` dates), and
waits until every saga ended. Then it replays every saga from the audit archive exactly as
`bakeplan replay --verify` does (read-only transaction, decode, re-plan, compare, commands too),
and prints sagas, events, mismatches, seconds and events/s.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from lab.seed import write_tenant
from lab.tenants import seeded_tenant
from orchestrator import replay_store
from orchestrator.ports import TERMINAL_STATUSES
from orchestrator.replay import replay
from orchestrator.tables import sagas

TODAY = date(2026, 11, 28)
ROLES = ("orchestrator", "forecasting", "production", "procurement")


def start_processes(log_dir: Path, replicas: int) -> list[subprocess.Popen[bytes]]:
    """One orchestrator and `replicas` of each worker, each ready (it logs "ready") before returning."""
    # a generous step deadline: the bench measures replay, and a saga compensated because a shared
    # machine was slow records fewer, cheaper events than a completed one
    env = {
        **os.environ,
        "BAKEPLAN_RELAY_POLL_SECONDS": "0.2",
        "BAKEPLAN_LOG_LEVEL": "INFO",
        "BAKEPLAN_STEP_TIMEOUT_SECONDS": "600",
        # the bench plans fixed dates (TODAY and the days after it), whatever the real today
        "BAKEPLAN_TRIGGER_MAX_PAST_DAYS": "36500",
        "BAKEPLAN_TRIGGER_MAX_FUTURE_DAYS": "36500",
    }
    started = []
    for role in ROLES:
        for n in range(1 if role == "orchestrator" else replicas):
            log_path = log_dir / f"{role}-{n}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "bakeplan", "serve", "--role", role],
                env=env,
                stdout=log_path.open("wb"),
                stderr=subprocess.STDOUT,
            )
            started.append((proc, log_path))
    deadline = time.monotonic() + 120
    for proc, log_path in started:
        while b"ready" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{log_path.stem} did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
    return [proc for proc, _ in started]


async def produce(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> tuple[list[uuid.UUID], float]:
    tenants = [f"{args.prefix}-{i:04d}" for i in range(args.tenants)]
    for tenant_id in tenants:
        tenant = seeded_tenant(
            tenant_id, profile="small", seed=args.seed, today=TODAY, history_days=args.history_days, components=True
        )
        async with engine.begin() as conn:
            await write_tenant(conn, tenant)
    await ensure_topics(settings, Principal.ADMIN)
    producer = new_producer(settings, Principal.EXTERNAL, enable_idempotence=True, acks="all")
    await producer.start()
    saga_ids: list[uuid.UUID] = []
    started = time.perf_counter()
    try:
        for day in range(args.days):
            for tenant_id in tenants:
                trigger = PlanningRequested(
                    event_id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    occurred_at=datetime.now(UTC),
                    business_date=TODAY + timedelta(days=day),
                    source="external",
                    requested_by="bench",
                )
                # at most `--in-flight` sagas running: a flood of triggers only queues work
                while True:
                    if len(saga_ids) - await ended(engine, saga_ids) < args.in_flight:
                        break
                    await asyncio.sleep(0.5)
                await producer.send_and_wait(str(Topic.TRIGGERS), encode(trigger), key=tenant_id.encode())
                saga_ids.append(saga_id_for_trigger(trigger.event_id))
    finally:
        await producer.stop()
    deadline = time.monotonic() + args.timeout
    done = 0
    while time.monotonic() < deadline:
        done = await ended(engine, saga_ids)
        if done == len(saga_ids):
            break
        await asyncio.sleep(1.0)
    print(f"  sagas ended: {done}/{len(saga_ids)}", file=sys.stderr)
    if done < len(saga_ids):
        print(f"only {done} of {len(saga_ids)} sagas ended within {args.timeout} s; replaying those", file=sys.stderr)
    return saga_ids, time.perf_counter() - started


async def ended(engine: AsyncEngine, saga_ids: list[uuid.UUID]) -> int:
    if not saga_ids:
        return 0
    async with engine.connect() as conn:
        query = select(func.count()).where(sagas.c.saga_id.in_(saga_ids), sagas.c.status.in_(TERMINAL_STATUSES))
        return int((await conn.execute(query)).scalar_one())


async def replay_all(engine: AsyncEngine, saga_ids: list[uuid.UUID]) -> dict[str, Any]:
    started = time.perf_counter()
    events = sagas_replayed = 0
    mismatched = []
    async with replay_store.read_only(engine) as conn:
        for saga_id in saga_ids:
            recorded = await replay_store.load_saga(conn, saga_id)
            if recorded is None:
                continue
            report = replay(recorded, expected_commands=replay_store.expected_commands(recorded))
            sagas_replayed += 1
            events += report.events
            if not report.identical:
                mismatched.append(str(saga_id))
    seconds = time.perf_counter() - started
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(sagas.c.status, func.count()).where(sagas.c.saga_id.in_(saga_ids)).group_by(sagas.c.status)
        )
        statuses = {str(status): int(n) for status, n in rows}
    return {
        "statuses": statuses,
        "sagas": sagas_replayed,
        "events": events,
        "mismatches": len(mismatched),
        "mismatched": mismatched[:20],
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds, 1),
        "sagas_per_second": round(sagas_replayed / seconds, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    engine = create_engine(settings)
    try:
        saga_ids, produce_seconds = await produce(engine, settings, args)
        result = await replay_all(engine, saga_ids)
    finally:
        await engine.dispose()
    return {
        "tenants": args.tenants,
        "days": args.days,
        "history_days": args.history_days,
        "produced_sagas": len(saga_ids),
        "produce_seconds": round(produce_seconds, 1),
        "replay": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--days", type=int, default=10, help="business dates per tenant (one saga each)")
    parser.add_argument("--history-days", type=int, default=56, help="days of sales history per tenant")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--prefix", default=f"rb{uuid.uuid4().hex[:6]}")
    parser.add_argument("--replicas", type=int, default=1, help="processes per worker role")
    parser.add_argument("--in-flight", type=int, default=40, help="most sagas running at once")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the sagas")
    parser.add_argument("--no-serve", action="store_true", help="use an orchestrator and workers already running")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    procs = [] if args.no_serve else start_processes(Path(tempfile.mkdtemp(prefix="replay-bench-")), args.replicas)
    try:
        result = asyncio.run(main_async(args))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    r = result["replay"]
    print(
        f"produced {result['produced_sagas']} sagas ({args.tenants} tenants × {args.days} dates) in "
        f"{result['produce_seconds']} s; replayed {r['sagas']} sagas, {r['events']} events, {r['mismatches']} "
        f"mismatches in {r['seconds']} s: {r['events_per_second']} events/s ({r['sagas_per_second']} sagas/s); "
        f"saga outcomes {r['statuses']}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
