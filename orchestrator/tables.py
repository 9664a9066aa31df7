"""The orchestrator's own schema: saga state, recorded snapshots, step results, the timeline."""

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from infra.messaging.tables import (
    dead_letter_replays_table,
    delivery_attempts_table,
    effect_log_table,
    inbox_table,
    outbox_table,
    quarantine_table,
)

SCHEMA = "orchestrator"
metadata = MetaData(schema=SCHEMA)

sagas = Table(
    "sagas",
    metadata,
    Column("saga_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("state", JSONB, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("trigger_event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("snapshot_sha256", String(64), nullable=False),
    Column("next_deadline", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # daily: the daily plan; low_stock: a procurement-only saga started by low-stock signals
    Column("kind", String(16), nullable=False, server_default="daily"),
    # when the retention job pruned the saga's timeline, step results and snapshot (orchestrator/retention.py);
    # the saga row itself stays: it keeps a day's plan taken (invariant 5) and replay finds the saga by it
    Column("pruned_at", DateTime(timezone=True)),
    # invariant 5: at most one live or completed daily plan per tenant and business date
    Index(
        "uq_sagas_one_plan_per_day",
        "tenant_id",
        "business_date",
        unique=True,
        postgresql_where=text("kind = 'daily' AND status IN ('RUNNING', 'COMPENSATING', 'COMPLETED')"),
    ),
    # at most one running procurement-only saga per tenant, whatever the number of replicas
    Index(
        "uq_sagas_one_running_low_stock",
        "tenant_id",
        unique=True,
        postgresql_where=text("kind = 'low_stock' AND status IN ('RUNNING', 'COMPENSATING')"),
    ),
    Index("ix_sagas_due", "next_deadline", postgresql_where=text("status IN ('RUNNING', 'COMPENSATING')")),
    Index("ix_sagas_tenant", "tenant_id", "created_at"),
    Index(
        "ix_sagas_prunable",
        "updated_at",
        postgresql_where=text("pruned_at IS NULL AND status IN ('COMPLETED', 'COMPENSATED', 'FAILED')"),
    ),
    Index("ix_sagas_snapshot", "snapshot_sha256"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

step_results = Table(
    "step_results",
    metadata,
    Column("saga_id", UUID(as_uuid=True), primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

saga_log = Table(
    "saga_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("saga_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("step", String(32)),
    Column("detail", Text, nullable=False, server_default=""),
)

outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
delivery_attempts = delivery_attempts_table(metadata, SCHEMA)
effect_log = effect_log_table(metadata, SCHEMA)
dead_letter_replays = dead_letter_replays_table(metadata, SCHEMA)
scan_quarantine = quarantine_table(metadata, SCHEMA)

# the daily schedule of each tenant (orchestrator/scheduling.py) and every decision it made
schedules = Table(
    "schedules",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("time_zone", String(64), nullable=False),
    Column("run_at", Time, nullable=False),
    Column("cutoff", Time, nullable=False),
    Column("closed_weekdays", ARRAY(SmallInteger), nullable=False, server_default="{}"),
    Column("closed_dates", ARRAY(Date), nullable=False, server_default="{}"),
    Column("paused", Boolean, nullable=False, server_default="false"),
    Column("last_decided", Date),
    Column("next_due_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_schedules_next_due", "next_due_at"),
)

schedule_decisions = Table(
    "schedule_decisions",
    metadata,
    # one decision per tenant and business date, whatever the number of scheduler replicas
    Column("tenant_id", String(64), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("outcome", String(32), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("trigger_event_id", UUID(as_uuid=True)),
)

# low-stock signals (orchestrator/low_stock.py): pending while saga_id is NULL, then the saga they started
low_stock_signals = Table(
    "low_stock_signals",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("ingredient_id", String(64), nullable=False),
    Column("quantity_on_hand", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("saga_id", UUID(as_uuid=True)),
    Index("ix_low_stock_signals_pending", "tenant_id", "received_at", postgresql_where=text("saga_id IS NULL")),
    Index("ix_low_stock_signals_saga", "saga_id"),
)

# the audit archive (orchestrator/audit.py): every event a saga consumed or emitted, append-only, hash-chained
# per tenant; a trigger created by migration 0005 rejects UPDATE and DELETE
audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    # NULL for a low-stock signal: it arrives before any saga (low_stock_signals.saga_id links it later)
    Column("saga_id", UUID(as_uuid=True)),
    Column("seq", BigInteger, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("direction", String(3), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # the audit key the link's HMAC was made with (migration 0014); NULL: an older, unkeyed sha256 link
    Column("key_id", String(32)),
    # set when the payload is stored without its snapshot, which orchestrator.snapshots holds under this
    # SHA-256 (migration 0016, orchestrator/audit_snapshots.py); `payload_sha256` is the whole message's
    Column("snapshot_sha256", String(64)),
    CheckConstraint("direction IN ('in', 'out')", name="ck_audit_events_direction"),
    Index("uq_audit_events_tenant_seq", "tenant_id", "seq", unique=True),
    Index("ix_audit_events_saga", "saga_id"),
    Index("ix_audit_events_snapshot", "snapshot_sha256", postgresql_where=text("snapshot_sha256 IS NOT NULL")),
)

# the head of each tenant's chain, locked by every append so that one tenant's appends serialise
audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
