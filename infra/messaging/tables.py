"""Outbox, inbox, effect-log and dead-letter replay tables; every component has its own set in its own schema."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID


def outbox_table(metadata: MetaData, schema: str) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(64), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        # a row Kafka refused for good (too large, a topic that refuses it): set aside with the reason,
        # so the rows behind it leave (infra/messaging/outbox.py, docs/resilience.md)
        # set when the payload went by claim check: `payload` is then the reference (claim_checks.sha256)
        Column("claim_sha256", String(64)),
        Column("parked_at", DateTime(timezone=True)),
        Column("park_reason", Text),
        # the W3C trace context of the transaction that wrote the row, published as its `traceparent`
        # header (infra/tracing.py, docs/tracing.md); NULL when no trace was current (migration 0018)
        Column("traceparent", String(55)),
        Index(f"ix_{schema}_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        # the retention job's batches (orchestrator/retention.py): published rows by age
        Index(f"ix_{schema}_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
        schema=schema,
    )


CLAIMS_SCHEMA = "messaging"
claims_metadata = MetaData(schema=CLAIMS_SCHEMA)

claim_checks = Table(
    "claim_checks",
    claims_metadata,
    # content-addressed: the same payload is stored once, whoever wrote it and however often
    Column("sha256", String(64), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_claim_checks_created_at", "created_at"),  # the retention job's batches
)
"""Payloads too large to travel inline (`Settings.claim_check_bytes`): the outbox row carries a
reference, the consumer shell resolves it (infra/messaging/claim_check.py). Shared by every component."""


def quarantine_table(metadata: MetaData, schema: str) -> Table:
    """Items a background scan failed on (`infra.messaging.quarantine`): failures in a row, and once
    there were too many, when the item was quarantined (skipped by the scan until an operator clears it)."""
    return Table(
        "scan_quarantine",
        metadata,
        Column("scan", String(40), primary_key=True),
        Column("item", String(200), primary_key=True),
        Column("tenant_id", String(64), nullable=False),
        Column("failures", Integer, nullable=False),
        Column("last_error", Text, nullable=False),
        Column("first_failed_at", DateTime(timezone=True), nullable=False),
        Column("last_failed_at", DateTime(timezone=True), nullable=False),
        Column("quarantined_at", DateTime(timezone=True)),
        schema=schema,
    )


def inbox_table(metadata: MetaData, schema: str) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        # the claim is bound to the tenant and the content (infra/messaging/inbox.py); '' and NULL on
        # claims made before migration 0012
        Column("tenant_id", String(64), primary_key=True, server_default=""),
        Column("content_sha256", String(64)),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(f"ix_{schema}_inbox_received_at", "received_at"),  # the retention job's batches
        schema=schema,
    )


def effect_log_table(metadata: MetaData, schema: str) -> Table:
    """One row per committed effect (a step run, a compensation, an activation, a saga transition),
    written in the effect's own transaction. Deliberately without a unique key: a duplicate that a
    unique index elsewhere absorbed still shows up here, so the fault suite can count it."""
    return Table(
        "effect_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("saga_id", UUID(as_uuid=True)),
        Column("tenant_id", String(64), nullable=False),
        Column("step", String(32)),
        Column("affected_rows", Integer, nullable=False, server_default="0"),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(f"ix_{schema}_effect_log_saga", "saga_id"),
        Index(f"ix_{schema}_effect_log_at", "at"),  # the retention job's batches
        schema=schema,
    )


def compensations_table(metadata: MetaData, schema: str, *, name: str = "compensations") -> Table:
    """The sagas a worker has compensated: a compensation runs once, and a step command that
    arrives after it (late, or replayed from the dead-letter topic) makes no effects. A worker with
    two steps keeps one such table per step (`name`)."""
    return Table(
        name,
        metadata,
        Column("saga_id", UUID(as_uuid=True), primary_key=True),
        # in the key (migration 0012): a compensation naming another tenant's saga records its own row
        # and can neither cancel nor block that tenant's step (docs/security.md, "Tenant binding")
        Column("tenant_id", String(64), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("reason", Text, nullable=False, server_default=""),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


def dead_letter_replays_table(metadata: MetaData, schema: str) -> Table:
    """The latest replay of each dead-letter record, keyed by where it sits on the topic (partition, offset).

    Written by `infra.messaging.dead_letter_replay` only after Kafka acknowledged the replayed record;
    `record_digest` tells a replayed record from a new one at the same offset after the topic is re-created.
    """
    return Table(
        "dead_letter_replays",
        metadata,
        Column("dlt_partition", Integer, primary_key=True),
        Column("dlt_offset", BigInteger, primary_key=True),
        Column("source_topic", String(200), nullable=False),
        Column("event_id", UUID(as_uuid=True)),
        # dead_letter_records.record_digest; NULL on rows written before migration 0007
        Column("record_digest", String(64)),
        Column("replayed_by", String(200), nullable=False),
        Column("replayed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


def delivery_attempts_table(metadata: MetaData, schema: str) -> Table:
    """Deliveries of the record a consumer group is at, per partition (infra/messaging/attempts.py).

    One row per (group, topic, partition): `record_offset` is the record being handled and `attempts`
    how often its handling began. Written before the handler runs, in its own transaction, so a
    delivery that killed the process still counts."""
    return Table(
        "delivery_attempts",
        metadata,
        Column("consumer_group", String(300), primary_key=True),
        Column("topic", String(300), primary_key=True),
        Column("kafka_partition", Integer, primary_key=True),
        Column("record_offset", BigInteger, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )
