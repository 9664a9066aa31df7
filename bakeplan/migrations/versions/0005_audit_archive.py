"""audit archive: every event of a saga, append-only (a trigger rejects UPDATE, DELETE and TRUNCATE),
hash-chained per tenant

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 16:21:43.745983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Postgres itself keeps the archive append-only: whoever connects as the application role cannot edit
# history; only a superuser who disables the trigger can, and the hash chain then shows it.
REJECT_CHANGES = """
CREATE FUNCTION orchestrator.audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'orchestrator.audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table('audit_chain_heads',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id'),
    schema='orchestrator'
    )
    op.create_table('audit_events',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('saga_id', sa.UUID(), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name='ck_audit_events_direction'),
    sa.PrimaryKeyConstraint('event_id'),
    schema='orchestrator'
    )
    op.create_index('ix_audit_events_saga', 'audit_events', ['saga_id'], unique=False, schema='orchestrator')
    op.create_index('uq_audit_events_tenant_seq', 'audit_events', ['tenant_id', 'seq'], unique=True, schema='orchestrator')
    op.execute(REJECT_CHANGES)
    op.execute(
        "CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON orchestrator.audit_events"
        " FOR EACH ROW EXECUTE FUNCTION orchestrator.audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON orchestrator.audit_events"
        " FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.audit_events_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_no_truncate ON orchestrator.audit_events")
    op.execute("DROP TRIGGER audit_events_no_update_or_delete ON orchestrator.audit_events")
    op.execute("DROP FUNCTION orchestrator.audit_events_append_only()")
    op.drop_index('uq_audit_events_tenant_seq', table_name='audit_events', schema='orchestrator')
    op.drop_index('ix_audit_events_saga', table_name='audit_events', schema='orchestrator')
    op.drop_table('audit_events', schema='orchestrator')
    op.drop_table('audit_chain_heads', schema='orchestrator')
