"""retention: what the retention job needs to prune in small batches

Indexes by age on every component's inbox, published outbox rows and effect log and on the claim
checks, so each of the job's batches reads only the rows it deletes; `sagas.pruned_at` (when a
finished saga's timeline, step results and snapshot were pruned) with a partial index of the sagas
still to prune, and an index on `sagas.snapshot_sha256` (a snapshot is pruned once no kept saga
refers to it). docs/retention.md.

`audit_events.snapshot_sha256`: a `SnapshotTaken` is archived without its snapshot, which
`orchestrator.snapshots` holds once under that SHA-256 (orchestrator/audit_snapshots.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPONENTS = ('orchestrator', 'forecasting', 'production', 'procurement')
TERMINAL = "pruned_at IS NULL AND status IN ('COMPLETED', 'COMPENSATED', 'FAILED')"


def upgrade() -> None:
    for schema in COMPONENTS:
        op.create_index(f'ix_{schema}_inbox_received_at', 'inbox', ['received_at'], schema=schema)
        op.create_index(
            f'ix_{schema}_outbox_published_at', 'outbox', ['published_at'], schema=schema,
            postgresql_where=sa.text('published_at IS NOT NULL'),
        )
        op.create_index(f'ix_{schema}_effect_log_at', 'effect_log', ['at'], schema=schema)
    op.create_index('ix_claim_checks_created_at', 'claim_checks', ['created_at'], schema='messaging')
    op.add_column('sagas', sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=True), schema='orchestrator')
    op.create_index(
        'ix_sagas_prunable', 'sagas', ['updated_at'], schema='orchestrator', postgresql_where=sa.text(TERMINAL)
    )
    op.create_index('ix_sagas_snapshot', 'sagas', ['snapshot_sha256'], schema='orchestrator')
    op.add_column('audit_events', sa.Column('snapshot_sha256', sa.String(length=64), nullable=True), schema='orchestrator')
    op.create_index(
        'ix_audit_events_snapshot', 'audit_events', ['snapshot_sha256'], schema='orchestrator',
        postgresql_where=sa.text('snapshot_sha256 IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_audit_events_snapshot', table_name='audit_events', schema='orchestrator',
        postgresql_where=sa.text('snapshot_sha256 IS NOT NULL'),
    )
    op.drop_column('audit_events', 'snapshot_sha256', schema='orchestrator')
    op.drop_index('ix_sagas_snapshot', table_name='sagas', schema='orchestrator')
    op.drop_index('ix_sagas_prunable', table_name='sagas', schema='orchestrator', postgresql_where=sa.text(TERMINAL))
    op.drop_column('sagas', 'pruned_at', schema='orchestrator')
    op.drop_index('ix_claim_checks_created_at', table_name='claim_checks', schema='messaging')
    for schema in COMPONENTS:
        op.drop_index(f'ix_{schema}_effect_log_at', table_name='effect_log', schema=schema)
        op.drop_index(f'ix_{schema}_outbox_published_at', table_name='outbox', schema=schema)
        op.drop_index(f'ix_{schema}_inbox_received_at', table_name='inbox', schema=schema)
