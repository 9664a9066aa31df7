"""The delivery records' table, `procurement.po_deliveries`: one row per purchase order and channel.

Not yet in `workers.procurement.tables.metadata` and the Alembic history: the migration that adds it
comes with the purchase-order lifecycle (docs/channels.md, "For the integrator"). `deliveries_table`
builds it on any `MetaData`, so the contract tests create it in a schema of their own.
"""

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Integer, MetaData, String, Table, Text

SCHEMA = "procurement"


def deliveries_table(metadata: MetaData) -> Table:
    return Table(
        "po_deliveries",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("po_number", String(64), primary_key=True),
        Column("channel_key", String(64), primary_key=True),  # "<kind>:<digest of the target>"
        Column("channel_kind", String(16), nullable=False),
        Column("target", Text, nullable=False),  # what a person reads: recipients, URL or directory
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("sends", Integer, nullable=False),
        Column("receipt", Text),
        Column("last_error", Text),
        Column("permanent", Boolean, nullable=False),
        Column("first_recorded_at", DateTime(timezone=True), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True)),
        CheckConstraint("status IN ('sent', 'send_failed')", name="po_deliveries_status"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="po_deliveries_sent_at"),
    )


metadata = MetaData(schema=SCHEMA)
po_deliveries = deliveries_table(metadata)
