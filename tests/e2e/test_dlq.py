"""`bakeplan dlq list` and `bakeplan dlq replay` against real Kafka and Postgres, as an operator runs them.

Records are parked on the dead-letter topic directly, with the headers `park()` writes, so no serve
process is needed; the replayed message is read back from its source topic.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import TopicPartition
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from bakeplan.acl_table import Principal
from bakeplan.cli import app
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import decode, encode
from infra.messaging.kafka_client import new_admin, new_consumer, new_producer
from infra.settings import Settings
from orchestrator.tables import dead_letter_replays
from tests.e2e.support import TODAY, seed

pytestmark = pytest.mark.e2e

VALID_REASON = "orchestrator gave up after 5 attempts: OperationalError('connection refused')"
INVALID_REASON = "body is not valid JSON (unexpected end of data: line 1 column 40 (char 39)): publish UTF-8 JSON"


def _env(settings: Settings) -> dict[str, str]:
    return {"DATABASE_URL": settings.database_url, "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}


def bakeplan(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command as its own process, as a user does, with a wide terminal so no table cell wraps."""
    return subprocess.run(
        [sys.executable, "-m", "bakeplan", *args],
        env={
            **os.environ,
            **_env(settings),
            "COLUMNS": "320",
        },  # wide: the test run's topic prefix lengthens the source column
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def bakeplan_in_process(settings: Settings, *args: str) -> Result:
    """Run the command in this process: each new interpreter costs seconds of imports on a busy machine.
    In a thread, because the command calls `asyncio.run` and this test's loop is running."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=_env(settings), catch_exceptions=False)


async def as_json(settings: Settings, *args: str) -> Any:
    result = await bakeplan_in_process(settings, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


async def park_directly(settings: Settings, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> str:
    """Publish one record to the dead-letter topic as `park()` would; returns its id `P:O`."""
    await ensure_topics(settings, Principal.ADMIN)
    producer = new_producer(settings, Principal.ADMIN, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(settings.topic(Topic.DEAD_LETTER), value, key=key, headers=headers)
    finally:
        await producer.stop()
    return f"{sent.partition}:{sent.offset}"


async def read_to_end(settings: Settings, topic: Topic, *, timeout_s: float = 30.0) -> list[Any]:
    """Every committed record of `topic` up to its current end (group-less, read_committed)."""
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topic(topic)])
    finally:
        await admin.close()
    partitions = [TopicPartition(settings.topic(topic), p["partition"]) for t in described for p in t["partitions"]]
    assert partitions, f"{topic} has no partitions"
    consumer = new_consumer(
        settings,
        Principal.ADMIN,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            assert time.monotonic() < deadline, f"could not read {topic} to its end in {timeout_s} s"
            batch = await consumer.getmany(timeout_ms=200)
            records += [r for tp, rs in batch.items() for r in rs if r.offset < ends[tp]]
        return records
    finally:
        await consumer.stop()


def park_headers(
    settings: Settings, *, consumer: str, reason: str, exception: str, attempts: int
) -> list[tuple[str, bytes]]:
    return [
        ("event_type", b"planning.requested"),
        ("dlq.reason", reason.encode()),
        ("dlq.exception", exception.encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.source.topic", settings.topic(Topic.TRIGGERS).encode()),
        ("dlq.source.partition", b"0"),
        ("dlq.source.offset", b"42"),
    ]


async def test_list_then_replay_a_parked_trigger_once(
    settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-001"
    await seed(engine, tenant)
    # a consumer name of this test only, so `--all --consumer` cannot touch other tests' records
    consumer = f"orchestrator-{tenant_prefix}"
    message = PlanningRequested(
        event_id=uuid4(),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=TODAY,
        source="operator",
        requested_by="dlq-test",
    )
    parked_at = datetime.now(UTC)
    valid_id = await park_directly(
        settings,
        key=tenant.encode(),
        value=encode(message),
        headers=[
            *park_headers(settings, consumer=consumer, reason=VALID_REASON, exception="OperationalError", attempts=5),
            ("dlq.parked_at", parked_at.isoformat().encode()),
        ],
    )
    # an old-style record without dlq.parked_at: the list falls back to the Kafka timestamp
    invalid_body = b'{"event_type": "planning.requested", "t'
    invalid_id = await park_directly(
        settings,
        key=tenant.encode(),
        value=invalid_body,
        headers=park_headers(
            settings, consumer=consumer, reason=INVALID_REASON, exception="InvalidMessageError", attempts=1
        ),
    )

    # a row left by a replay of an earlier record at the invalid one's offset (the topic, or Kafka, was
    # re-created while Postgres kept its rows): it must not make the new record look replayed
    stale_partition, stale_offset = (int(part) for part in invalid_id.split(":"))
    async with engine.begin() as conn:
        await conn.execute(
            insert(dead_letter_replays)
            .values(
                dlt_partition=stale_partition,
                dlt_offset=stale_offset,
                source_topic=settings.topic(Topic.TRIGGERS),
                record_digest="0" * 64,
                replayed_by="an-earlier-kafka@host",
            )
            .on_conflict_do_nothing()
        )

    listed = await as_json(settings, "dlq", "list", "--tenant", tenant)
    table = bakeplan(settings, "dlq", "list", "--tenant", tenant)

    assert [r["id"] for r in listed] == [valid_id, invalid_id], "both parked records, newest last"
    valid, invalid = listed
    assert (valid["reason"], valid["exception"], valid["attempts"]) == (VALID_REASON, "OperationalError", 5)
    assert (valid["consumer"], valid["source_topic"], valid["source_offset"]) == (
        consumer,
        settings.topic(Topic.TRIGGERS),
        42,
    )
    assert (valid["key"], valid["event_id"], valid["replayed"]) == (tenant, str(message.event_id), False)
    assert datetime.fromisoformat(valid["parked_at"]) == parked_at
    assert (invalid["reason"], invalid["event_id"], invalid["replayed"]) == (INVALID_REASON, None, False)
    assert datetime.fromisoformat(invalid["parked_at"]) >= parked_at.replace(microsecond=0)
    assert table.returncode == 0, table.stderr
    assert valid_id in table.stdout
    assert invalid_id in table.stdout
    assert "OperationalError" in table.stdout
    assert INVALID_REASON[:60] in table.stdout, "the table shows the reason truncated"
    assert INVALID_REASON not in table.stdout

    dry = await as_json(settings, "dlq", "replay", "--all", "--consumer", consumer, "--dry-run")
    assert (dry["dry_run"], [r["id"] for r in dry["replayed"]]) == (True, [valid_id, invalid_id])

    replayed = await as_json(settings, "dlq", "replay", "--id", valid_id)
    arrived = [r for r in await read_to_end(settings, Topic.TRIGGERS) if r.key == tenant.encode()]

    assert [r["id"] for r in replayed["replayed"]] == [valid_id]
    assert len(arrived) == 1, "exactly one message on the source topic: the replay (the dry run published none)"
    assert arrived[0].value == encode(message)
    assert decode(arrived[0].value).event_id == message.event_id
    assert [k for k, _ in arrived[0].headers if k.startswith("dlq.")] == ["dlq.replayed_from"]
    assert dict(arrived[0].headers) == {"event_type": b"planning.requested", "dlq.replayed_from": valid_id.encode()}
    partition, offset = (int(part) for part in valid_id.split(":"))
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(dead_letter_replays)
                    .where(dead_letter_replays.c.source_topic == settings.topic(Topic.TRIGGERS))
                    .where(dead_letter_replays.c.event_id == message.event_id)
                )
            )
            .mappings()
            .all()
        )
    assert [(r["dlt_partition"], r["dlt_offset"]) for r in rows] == [(partition, offset)]
    assert rows[0]["replayed_by"]

    again = await as_json(settings, "dlq", "replay", "--id", valid_id)
    again_text = bakeplan(settings, "dlq", "replay", "--id", valid_id)
    after = await as_json(settings, "dlq", "list", "--tenant", tenant)

    assert again["replayed"] == []
    assert [s["id"] for s in again["skipped"]] == [valid_id]
    assert f"skipped {valid_id}: already replayed" in again_text.stdout
    assert "--force" in again_text.stdout
    assert [(r["id"], r["replayed"]) for r in after] == [(valid_id, True), (invalid_id, False)]
    assert len([r for r in await read_to_end(settings, Topic.TRIGGERS) if r.key == tenant.encode()]) == 1

    forced = await as_json(settings, "dlq", "replay", "--id", valid_id, "--force")
    assert [r["id"] for r in forced["replayed"]] == [valid_id]
    assert len([r for r in await read_to_end(settings, Topic.TRIGGERS) if r.key == tenant.encode()]) == 2


async def test_replaying_an_unknown_or_malformed_id_fails_naming_it(settings: Settings) -> None:
    await ensure_topics(settings, Principal.ADMIN)
    unknown = await bakeplan_in_process(settings, "dlq", "replay", "--id", "0:999999999999")
    malformed = await bakeplan_in_process(settings, "dlq", "replay", "--id", "seven")
    neither = await bakeplan_in_process(settings, "dlq", "replay")

    assert unknown.exit_code == 2
    assert "no dead-letter record 0:999999999999" in unknown.stderr
    assert malformed.exit_code == 2
    assert "'seven' is not a dead-letter record id" in malformed.stderr
    assert neither.exit_code == 2
    assert "--id" in neither.stderr
