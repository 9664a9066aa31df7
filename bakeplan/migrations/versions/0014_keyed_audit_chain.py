"""keyed audit chain: each archived link names the audit key its HMAC was made with

`orchestrator.audit_events.key_id`: the id of the key (`BAKEPLAN_AUDIT_KEY_ID`) whose HMAC-SHA256 is
the row's `hash`; NULL on rows archived before this revision, whose `hash` is a plain sha256 link
(docs/security.md). Adding a nullable column rewrites no row, so the append-only trigger is not involved.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('key_id', sa.String(length=32), nullable=True), schema='orchestrator')


def downgrade() -> None:
    op.drop_column('audit_events', 'key_id', schema='orchestrator')
