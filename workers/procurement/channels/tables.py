"""The supplier channels' tables in the procurement schema (migration 0010).

- `po_deliveries`: one row per purchase order and channel, the delivery record. `sending` is written
  before a send, `sent` or `send_failed` after it; a row left in `sending` is a send whose outcome was
  never recorded (a crash in between), which the next delivery of the order sends again.
- `supplier_channels`: where each supplier of a tenant takes its orders, a `SupplierChannel` as JSON
  (`bakeplan channels set`). Nothing secret: the signing keys and the relay's password are settings.
- `tenant_notifications` (migration 0015): where each tenant hears of its plans and alerts, a
  `TenantNotifications` as JSON (`bakeplan notify set`).

`deliveries_table` builds the delivery table on any `MetaData`, so the contract tests create it in a
schema of their own.
"""

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from workers.procurement.tables import SCHEMA, metadata

__all__ = ["SCHEMA", "deliveries_table", "metadata", "po_deliveries", "supplier_channels", "tenant_notifications"]


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
        CheckConstraint("status IN ('sending', 'sent', 'send_failed')", name="po_deliveries_status"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="po_deliveries_sent_at"),
    )


po_deliveries = deliveries_table(metadata)
supplier_channels = Table(
    "supplier_channels",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("supplier_id", String(64), primary_key=True),
    Column("channel", JSONB, nullable=False),  # a SupplierChannel (channels/config.py) as JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
tenant_notifications = Table(
    "tenant_notifications",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("notifications", JSONB, nullable=False),  # a TenantNotifications (channels/config.py) as JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
