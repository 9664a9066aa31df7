"""payloads lz4: the message bodies Postgres stores are compressed with lz4 instead of pglz

Every saga message is stored as JSON up to three times: in its writer's outbox, in the
orchestrator's step results, and in the audit archive (plus a claim check when it is too large to
travel inline); the saga's snapshot is stored once more as JSON. Postgres compresses each of those
values when it moves it out of line (TOAST), with pglz by default. For a standard tenant that is
~1 MB of JSON per saga. Measured on this project's payloads (500 outbox and step-result bodies,
62.5 MB): pglz took 620 ms to store them and lz4 130 ms; reading them back 56 against 22 ms; stored,
14 against 15 MB (docs/benchmarks.md).

Only new values are compressed with lz4; values already stored keep pglz and stay readable.

lz4 needs a server built with it (`--with-lz4`: the PGDG and Debian packages, the official images
and the managed services of Postgres 14 and later are). On a server without it, this migration
changes nothing and says so in a NOTICE; the columns keep pglz.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 09:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYLOADS = (
    ("orchestrator", "outbox", "payload"),
    ("forecasting", "outbox", "payload"),
    ("production", "outbox", "payload"),
    ("procurement", "outbox", "payload"),
    ("orchestrator", "step_results", "payload"),
    ("orchestrator", "audit_events", "payload"),
    ("messaging", "claim_checks", "payload"),
    ("orchestrator", "snapshots", "body"),
)


def upgrade() -> None:
    alters = "\n".join(
        f"    ALTER TABLE {schema}.{table} ALTER COLUMN {column} SET COMPRESSION lz4;"
        for schema, table, column in PAYLOADS
    )
    op.execute(
        f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
{alters}
  ELSE
    RAISE NOTICE 'this Postgres server has no lz4 compression: the payload columns keep pglz';
  END IF;
END $$"""
    )


def downgrade() -> None:
    for schema, table, column in PAYLOADS:
        op.execute(f"ALTER TABLE {schema}.{table} ALTER COLUMN {column} SET COMPRESSION default")
