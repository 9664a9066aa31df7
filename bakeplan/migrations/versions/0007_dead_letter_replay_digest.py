"""dead-letter replays remember which record they replayed, not only its partition and offset

A re-created dead-letter topic (or Kafka cluster) starts its offsets again at 0 while Postgres keeps
`dead_letter_replays`; without the digest a new parked record at an old offset listed as replayed and
`bakeplan dlq replay` skipped it. Rows from before this revision keep NULL and match by offset as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('dead_letter_replays', sa.Column('record_digest', sa.String(length=64), nullable=True), schema='orchestrator')


def downgrade() -> None:
    op.drop_column('dead_letter_replays', 'record_digest', schema='orchestrator')
