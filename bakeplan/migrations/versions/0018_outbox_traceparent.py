"""outbox traceparent: the trace context of the transaction that wrote each outbox row

A nullable `traceparent` (W3C Trace Context, 55 characters) on every component's outbox. The relay
publishes it as the record's `traceparent` header, so a consumer continues the writer's trace
(docs/tracing.md). NULL when no trace was current (tracing off, or a scan's own transaction).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX_SCHEMAS = ('orchestrator', 'forecasting', 'production', 'procurement')


def upgrade() -> None:
    for schema in OUTBOX_SCHEMAS:
        op.add_column('outbox', sa.Column('traceparent', sa.String(length=55), nullable=True), schema=schema)


def downgrade() -> None:
    for schema in OUTBOX_SCHEMAS:
        op.drop_column('outbox', 'traceparent', schema=schema)
