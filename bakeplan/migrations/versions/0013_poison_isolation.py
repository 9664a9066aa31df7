"""one bad thing must not stop everything: parked outbox rows, claim checks, scan quarantine

Every outbox gets `claim_sha256` (its payload went by claim check), `parked_at` and `park_reason` (a row Kafka refused for good is set aside, the rows
behind it leave); `messaging.claim_checks` holds payloads too large to travel inline, keyed by their
SHA-256; `orchestrator.scan_quarantine` counts the failures of one item of a background scan (a saga
past its deadline, a schedule, a tenant's low-stock signals) and quarantines it after too many.
docs/resilience.md.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX_SCHEMAS = ("orchestrator", "forecasting", "production", "procurement")


def upgrade() -> None:
    for schema in OUTBOX_SCHEMAS:
        op.add_column("outbox", sa.Column("claim_sha256", sa.String(length=64), nullable=True), schema=schema)
        op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
        op.add_column("outbox", sa.Column("park_reason", sa.Text(), nullable=True), schema=schema)
    op.execute("CREATE SCHEMA IF NOT EXISTS messaging")
    op.create_table(
        "claim_checks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
        schema="messaging",
    )
    op.create_table(
        "scan_quarantine",
        sa.Column("scan", sa.String(length=40), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scan", "item"),
        schema="orchestrator",
    )


def downgrade() -> None:
    op.drop_table("scan_quarantine", schema="orchestrator")
    op.drop_table("claim_checks", schema="messaging")
    op.execute("DROP SCHEMA IF EXISTS messaging")
    for schema in OUTBOX_SCHEMAS:
        op.drop_column("outbox", "park_reason", schema=schema)
        op.drop_column("outbox", "parked_at", schema=schema)
        op.drop_column("outbox", "claim_sha256", schema=schema)
