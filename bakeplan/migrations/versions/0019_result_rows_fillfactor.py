"""result rows fillfactor: the saga results' status move stays on the row's page (a HOT update)

A step writes its result rows as `draft`, and `PlanReady` (or a compensation) moves each of them
once, to `active` (or `cancelled`). With the default fillfactor of 100, a page filled by the step's
inserts has no room for the rows' new versions: every one of the ~1,800 moves of a standard saga
went to another page and added an entry to each of the table's indexes. A fillfactor of 50 keeps
half of each page free for those new versions, so the move is a heap-only-tuple update that touches
no index (`status` is in none of these tables' indexes). Measured alone, 400,000 moves took 2.6 s
with fillfactor 100 (0 % HOT) and 0.35 s with 50 (100 % HOT); the table ended smaller (docs/
benchmarks.md).

Purchase lines are left at 100: `status` is in the predicate of their partial unique index, so
their updates cannot be HOT whatever the fillfactor.

Only pages filled after the upgrade keep the room; existing rows are not rewritten.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULT_TABLES = (("forecasting", "forecasts"), ("production", "batches"), ("production", "requirements"))
FILLFACTOR = 50


def upgrade() -> None:
    for schema, table in RESULT_TABLES:
        op.execute(f"ALTER TABLE {schema}.{table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    for schema, table in RESULT_TABLES:
        op.execute(f"ALTER TABLE {schema}.{table} RESET (fillfactor)")
