"""tenant binding: inbox claims bound to tenant and content, compensations keyed by saga and tenant,
durable delivery attempts

- every component's `inbox` gets `tenant_id` (in the key) and `content_sha256`: the same event id of
  another tenant is another claim, the same id with other content is refused (docs/security.md);
  claims made before this revision keep `tenant_id` '' and count as claims of every tenant;
- the workers' `compensations` (and procurement's `release_compensations`) are keyed by
  (saga_id, tenant_id): a compensation naming another tenant's saga cannot block that tenant's step;
- `delivery_attempts` per component: how often the record a consumer group is at began to be handled,
  so a message that kills its process is parked after N deliveries (docs/reliability.md).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ('orchestrator', 'forecasting', 'production', 'procurement')
COMPENSATIONS = (
    ('forecasting', 'compensations'),
    ('production', 'compensations'),
    ('procurement', 'compensations'),
    ('procurement', 'release_compensations'),
)


def upgrade() -> None:
    for schema in SCHEMAS:
        op.add_column('inbox', sa.Column('tenant_id', sa.String(length=64), server_default='', nullable=False), schema=schema)
        op.add_column('inbox', sa.Column('content_sha256', sa.String(length=64), nullable=True), schema=schema)
        op.drop_constraint('inbox_pkey', 'inbox', schema=schema, type_='primary')
        op.create_primary_key('inbox_pkey', 'inbox', ['consumer', 'event_id', 'tenant_id'], schema=schema)
        op.create_table('delivery_attempts',
        sa.Column('consumer_group', sa.String(length=300), nullable=False),
        sa.Column('topic', sa.String(length=300), nullable=False),
        sa.Column('kafka_partition', sa.Integer(), nullable=False),
        sa.Column('record_offset', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('consumer_group', 'topic', 'kafka_partition'),
        schema=schema
        )
    for schema, table in COMPENSATIONS:
        op.drop_constraint(f'{table}_pkey', table, schema=schema, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, ['saga_id', 'tenant_id'], schema=schema)


def downgrade() -> None:
    for schema, table in COMPENSATIONS:
        op.drop_constraint(f'{table}_pkey', table, schema=schema, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, ['saga_id'], schema=schema)
    for schema in SCHEMAS:
        op.drop_table('delivery_attempts', schema=schema)
        op.drop_constraint('inbox_pkey', 'inbox', schema=schema, type_='primary')
        op.execute(f'DELETE FROM {schema}.inbox a USING {schema}.inbox b '
                   'WHERE a.consumer = b.consumer AND a.event_id = b.event_id AND a.ctid > b.ctid')
        op.create_primary_key('inbox_pkey', 'inbox', ['consumer', 'event_id'], schema=schema)
        op.drop_column('inbox', 'content_sha256', schema=schema)
        op.drop_column('inbox', 'tenant_id', schema=schema)
