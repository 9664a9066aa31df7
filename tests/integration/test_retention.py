"""The retention job on real Postgres (docs/retention.md), the short form of `make bench-retention`:
old finished sagas and delivered messages go; running and recent sagas, the audit archive and so
replay stay; a row a handler holds is skipped, and a hot-path transaction is never held up."""

import asyncio
import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.roles.orchestrator import create_app
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import replay_store
from orchestrator.replay import replay
from orchestrator.retention import COMPONENTS, RetentionJob, RetentionPolicy
from tests.integration.saga_pump import FakeClock, Pump

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=60)
POLICY = RetentionPolicy(saga_days=30, message_days=14, batch_rows=50, lock_timeout_ms=1000)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def saga_rows(engine: AsyncEngine, saga_id: UUID) -> dict[str, int]:
    """What the job may prune of one saga, and what it must keep, counted."""
    counts = {
        table: await scalar(engine, f"SELECT count(*) FROM orchestrator.{table} WHERE saga_id = :s", s=saga_id)
        for table in ("saga_log", "step_results", "audit_events")
    }
    counts["effect_log"] = sum(
        [await scalar(engine, f"SELECT count(*) FROM {s}.effect_log WHERE saga_id = :s", s=saga_id) for s in COMPONENTS]
    )
    counts["snapshot"] = await scalar(
        engine,
        "SELECT count(*) FROM orchestrator.snapshots sn JOIN orchestrator.sagas s "
        "ON s.snapshot_sha256 = sn.sha256 WHERE s.saga_id = :s",
        s=saga_id,
    )
    return counts


async def tenant_messages(engine: AsyncEngine, tenant_id: str) -> dict[str, int]:
    inbox = sum(
        [await scalar(engine, f"SELECT count(*) FROM {s}.inbox WHERE tenant_id = :t", t=tenant_id) for s in COMPONENTS]
    )
    published = sum(
        [
            await scalar(
                engine,
                f"SELECT count(*) FROM {s}.outbox WHERE message_key = :t AND published_at IS NOT NULL",
                t=tenant_id,
            )
            for s in COMPONENTS
        ]
    )
    unpublished = await scalar(
        engine, "SELECT count(*) FROM orchestrator.outbox WHERE message_key = :t AND published_at IS NULL", t=tenant_id
    )
    return {"inbox": inbox, "published": published, "unpublished": unpublished}


async def age_messages(engine: AsyncEngine, tenant_id: str, at: datetime) -> None:
    """The tenant's inbox claims and published outbox rows as if handled at `at` (the pump's clock
    does not reach the columns Postgres fills in itself)."""
    async with engine.begin() as conn:
        for s in COMPONENTS:
            await conn.execute(
                text(f"UPDATE {s}.inbox SET received_at = :at WHERE tenant_id = :t"), {"at": at, "t": tenant_id}
            )
            await conn.execute(
                text(
                    f"UPDATE {s}.outbox SET published_at = :at, created_at = :at "
                    "WHERE message_key = :t AND published_at IS NOT NULL"
                ),
                {"at": at, "t": tenant_id},
            )


async def legacy_saga(engine: AsyncEngine, tenant_id: str) -> str:
    """An old finished saga whose snapshot the archive does not keep (as before migration 0016); its sha."""
    sha = hashlib.sha256(uuid4().bytes).hexdigest()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orchestrator.sagas (saga_id, tenant_id, business_date, status, state, trigger_event_id, "
                "snapshot_sha256, created_at, updated_at, kind) VALUES (gen_random_uuid(), :t, :d, 'COMPENSATED', "
                "'{}'::jsonb, gen_random_uuid(), :h, :at, :at, 'daily')"
            ),
            {"t": tenant_id, "d": LONG_AGO.date() - timedelta(days=3), "h": sha, "at": LONG_AGO},
        )
        await conn.execute(
            text("INSERT INTO orchestrator.snapshots (sha256, tenant_id, size_bytes, body) VALUES (:h, :t, 2, '{}')"),
            {"h": sha, "t": tenant_id},
        )
    return sha


async def seeded_pump(engine: AsyncEngine, tenant_id: str, at: datetime) -> Pump:
    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=5, today=at.date()))
    return Pump(engine, [tenant_id], clock=FakeClock(at))


async def test_old_finished_sagas_and_messages_go_while_running_and_recent_sagas_and_replay_stay(
    engine: AsyncEngine,
) -> None:
    old_tenant, recent_tenant = f"ret-{uuid4().hex[:8]}", f"ret-{uuid4().hex[:8]}"
    pump = await seeded_pump(engine, old_tenant, LONG_AGO.replace(hour=4, minute=30))
    finished = await pump.trigger(old_tenant, LONG_AGO.date())
    await pump.run()
    # the tenant's next day: started as long ago, and still running (its first command never handled)
    pump.clock.now += timedelta(days=1)
    running = await pump.trigger(old_tenant, LONG_AGO.date() + timedelta(days=1))
    recent_pump = await seeded_pump(engine, recent_tenant, (NOW - timedelta(days=2)).replace(hour=4, minute=30))
    recent = await recent_pump.trigger(recent_tenant, (NOW - timedelta(days=2)).date())
    await recent_pump.run()
    await age_messages(engine, old_tenant, LONG_AGO)
    legacy = await legacy_saga(engine, old_tenant)

    before = {saga: await saga_rows(engine, saga) for saga in (finished, running, recent)}
    assert all(before[finished][k] for k in ("saga_log", "effect_log", "snapshot"))
    assert before[finished]["step_results"] == 4
    assert before[running]["saga_log"]
    assert before[running]["snapshot"]
    old_messages = await tenant_messages(engine, old_tenant)
    assert old_messages["inbox"] > 0
    assert old_messages["published"] > 0
    assert old_messages["unpublished"] == 2
    recent_messages = await tenant_messages(engine, recent_tenant)

    report = await RetentionJob(engine, POLICY).run(now=NOW)

    assert report is not None
    assert not report.skipped
    after = {saga: await saga_rows(engine, saga) for saga in (finished, running, recent)}
    assert after[finished] == {
        "saga_log": 0,
        "step_results": 0,
        "effect_log": 0,
        "snapshot": 1,  # the audit archive's one copy of it (orchestrator/audit_snapshots.py)
        "audit_events": before[finished]["audit_events"],  # the archive is never pruned
    }
    assert await scalar(engine, "SELECT count(*) FROM orchestrator.snapshots WHERE sha256 = :h", h=legacy) == 0
    assert after[running] == before[running], "a running saga is never pruned, however old"
    assert after[recent] == before[recent], "a saga that ended within the horizon stays"
    # the running saga's snapshot and first command, never published, stay
    assert await tenant_messages(engine, old_tenant) == {"inbox": 0, "published": 0, "unpublished": 2}
    assert await tenant_messages(engine, recent_tenant) == recent_messages
    assert await scalar(engine, "SELECT pruned_at FROM orchestrator.sagas WHERE saga_id = :s", s=finished) == NOW
    assert await scalar(engine, "SELECT pruned_at FROM orchestrator.sagas WHERE saga_id = :s", s=running) is None
    assert report.sagas_pruned >= 1
    assert report.batches > len(COMPONENTS)

    # replay (and explain, which reads the same) works from the audit archive alone
    async with replay_store.read_only(engine) as conn:
        recorded = await replay_store.load_saga(conn, finished)
    assert recorded is not None
    replayed = replay(recorded, expected_commands=replay_store.expected_commands(recorded))
    assert replayed.identical, [d.describe() for d in replayed.differences]
    assert replayed.compared["purchase_lines"] > 0

    again = await RetentionJob(engine, POLICY).run(now=NOW, dry_run=True)
    assert again is not None
    assert again.sagas_pruned == 0


async def test_a_held_row_is_skipped_and_a_hot_path_transaction_is_not_held_up(engine: AsyncEngine) -> None:
    tenant_id = f"ret-{uuid4().hex[:8]}"
    consumer = f"retention-test-{tenant_id}"
    old_rows = 3000
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO forecasting.inbox (consumer, event_id, tenant_id, received_at) "
                "SELECT :c, gen_random_uuid(), :t, :at FROM generate_series(1, :n)"
            ),
            {"c": consumer, "t": tenant_id, "at": LONG_AGO, "n": old_rows},
        )
        held_id = (
            await conn.execute(
                text("SELECT event_id FROM forecasting.inbox WHERE consumer = :c LIMIT 1"), {"c": consumer}
            )
        ).scalar_one()
    # a handler in flight holds one old claim (a redelivery of that event) while the job runs
    holder = await engine.connect()
    await holder.begin()
    await holder.execute(
        text("SELECT 1 FROM forecasting.inbox WHERE consumer = :c AND event_id = :e FOR UPDATE"),
        {"c": consumer, "e": held_id},
    )
    latencies: list[float] = []
    done = asyncio.Event()

    async def hot_path() -> None:
        """Claims new events, re-claims old ones (redeliveries) and queues a message, one transaction each."""
        while not done.is_set():
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO forecasting.inbox (consumer, event_id, tenant_id) "
                        "SELECT consumer, event_id, tenant_id FROM forecasting.inbox "
                        "WHERE consumer = :c AND event_id <> :e LIMIT 1 ON CONFLICT DO NOTHING"
                    ),
                    {"c": consumer, "e": held_id},
                )
                await conn.execute(
                    text("INSERT INTO forecasting.inbox (consumer, event_id, tenant_id) VALUES (:c, :e, :t)"),
                    {"c": consumer, "e": uuid4(), "t": tenant_id},
                )
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0)

    writer = asyncio.create_task(hot_path())
    try:
        policy = RetentionPolicy(saga_days=30, message_days=14, batch_rows=500, lock_timeout_ms=1000)
        report = await RetentionJob(engine, policy).run(now=NOW)
    finally:
        done.set()
        await writer
    assert report is not None
    assert report.skipped == [], "the job waited on the held row instead of skipping it"
    assert report.deleted["forecasting.inbox"] >= old_rows - 1
    old_left = await scalar(
        engine,
        "SELECT count(*) FROM forecasting.inbox WHERE consumer = :c AND received_at < :cut",
        c=consumer,
        cut=NOW - timedelta(days=14),
    )
    assert old_left == 1, "only the held claim is left of the old ones"
    assert len(latencies) > 10
    assert max(latencies) < policy.lock_timeout_ms / 1000, f"hot path waited {max(latencies):.3f} s"
    await holder.rollback()
    await holder.close()
    report = await RetentionJob(engine, policy).run(now=NOW)
    assert report is not None
    assert report.deleted["forecasting.inbox"] >= 1
    assert (
        await scalar(
            engine,
            "SELECT count(*) FROM forecasting.inbox WHERE consumer = :c AND event_id = :e",
            c=consumer,
            e=held_id,
        )
        == 0
    )


async def test_one_replica_runs_the_job_at_a_time(engine: AsyncEngine) -> None:
    async with engine.connect() as other_replica:
        await other_replica.execute(text("SELECT pg_advisory_lock(hashtext('bakeplan.retention'))"))
        assert await RetentionJob(engine, POLICY).run(now=NOW, dry_run=True) is None
        await other_replica.execute(text("SELECT pg_advisory_unlock(hashtext('bakeplan.retention'))"))
    assert await RetentionJob(engine, POLICY).run(now=NOW, dry_run=True) is not None


def test_retention_run_dry_run_counts_and_deletes_nothing(db_settings: Settings) -> None:
    env = {"DATABASE_URL": db_settings.database_url, "BAKEPLAN_RETENTION_MESSAGE_DAYS": "1"}
    dry = CliRunner().invoke(app, ["retention", "run", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    counted = json.loads(dry.stdout)
    assert counted["ran"] is True
    assert counted["dry_run"] is True
    assert set(counted["deleted"]) >= {f"{s}.inbox" for s in COMPONENTS} | {"orchestrator.snapshots"}
    again = json.loads(CliRunner().invoke(app, ["retention", "run", "--dry-run", "--json"], env=env).stdout)
    assert again["deleted"] == counted["deleted"], "a dry run deletes nothing"
    text_run = CliRunner().invoke(app, ["retention", "run", "--dry-run"], env=env)
    assert "rows to delete" in text_run.stdout


async def test_the_orchestrator_runs_the_job_on_its_schedule_and_not_under_a_simulated_clock(
    db_settings: Settings, engine: AsyncEngine
) -> None:
    event_id = uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO production.inbox (consumer, event_id, tenant_id, received_at) VALUES ('s', :e, 't', :at)"
            ),
            {"e": event_id, "at": LONG_AGO},
        )
    simulated = create_app(
        db_settings.model_copy(update={"clock_file": Path("clock"), "retention_interval_seconds": 1})
    )
    assert "prune" not in [loop.__name__ for loop in simulated.background]
    scheduled = create_app(db_settings.model_copy(update={"retention_interval_seconds": 0.05}))
    (prune,) = [loop for loop in scheduled.background if loop.__name__ == "prune"]
    running = asyncio.create_task(prune())
    try:
        deadline = time.monotonic() + 20
        while await scalar(engine, "SELECT count(*) FROM production.inbox WHERE event_id = :e", e=event_id):
            assert time.monotonic() < deadline, "the orchestrator's retention loop did not prune the old claim"
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    await scheduled.engine.dispose()
    await simulated.engine.dispose()
