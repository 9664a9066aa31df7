"""tenant notifications: where each bakery hears of its plans and alerts

`tenant_notifications` (one row per tenant: a TenantNotifications, an email or webhook target, as
JSON) in the procurement schema, next to the suppliers' channels (docs/channels.md, "Notifications").

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tenant_notifications',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('notifications', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id'),
    schema='procurement'
    )


def downgrade() -> None:
    op.drop_table('tenant_notifications', schema='procurement')
