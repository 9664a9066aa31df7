"""A saga's result rows move from `draft` to `active` (or `cancelled`) on their own page: heap-only-tuple
updates that add no index entries (migration 0019, fillfactor 50). With the default fillfactor a page
filled by the step's inserts has no room, and every move went to another page: 0 % HOT.

Checked on a real Postgres with a standard tenant's real plan, written as the worker shell writes its
drafts and moved by `set_status`, counting the moving transaction's own updates
(`pg_stat_xact_user_tables`, before and after)."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lab.tenants import seeded_tenant
from workers.chain import plan_snapshot
from workers.forecasting.tables import forecasts
from workers.production.tables import batches, requirements
from workers.shell.results import ResultStatus, set_status, write_drafts

pytestmark = pytest.mark.integration
TODAY = date(2026, 5, 4)
TENANT = seeded_tenant("hot-moves", profile="standard", seed=2, today=TODAY, components=True)

_UPDATES = text(
    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE schemaname = :schema AND relname = :name"
)


async def _updates(conn: AsyncConnection, table: Table) -> tuple[int, int]:
    """(updates, of them HOT) to `table` that `conn`'s backend has not yet reported: the current
    transaction's, and since Postgres 15 maybe earlier ones' too, so callers take a difference."""
    row = (await conn.execute(_UPDATES, {"schema": table.schema, "name": table.name})).one()
    return int(row.n_tup_upd), int(row.n_tup_hot_upd)


async def _plan_drafts(engine: AsyncEngine, tenant_id: str) -> tuple[uuid.UUID, dict[str, int]]:
    """A standard tenant's plan written as drafts, one transaction per step as the workers do;
    returns the saga id and the rows written per table."""
    saga_id = uuid.uuid4()
    plan = plan_snapshot(TENANT.planning_snapshot(business_date=TODAY, horizon_days=14), saga_id=saga_id)
    common = {"saga_id": saga_id, "tenant_id": tenant_id, "status": "draft"}
    written: dict[str, int] = {}
    step_rows: list[tuple[Table, Sequence[Any]]] = [
        (forecasts, plan.forecast),
        (batches, plan.batches),
        (requirements, plan.requirements),
    ]
    for table, lines in step_rows:
        async with engine.begin() as conn:
            written[table.name] = await write_drafts(conn, table, [{**common, **line.model_dump()} for line in lines])
    return saga_id, written


async def _move_all(
    engine: AsyncEngine, saga_id: uuid.UUID, tenant_id: str, to: ResultStatus
) -> dict[str, tuple[int, int]]:
    """Moves the saga's drafts to `to` in one transaction; (rows moved, HOT updates) per table."""
    seen: dict[str, tuple[int, int]] = {}
    async with engine.begin() as conn:
        for table in (forecasts, batches, requirements):
            updates_before, hot_before = await _updates(conn, table)
            moved = await set_status(conn, table, saga_id=saga_id, tenant_id=tenant_id, to=to, only_from="draft")
            updates, hot = await _updates(conn, table)
            assert updates - updates_before == moved
            seen[table.name] = (moved, hot - hot_before)
    return seen


async def test_activating_a_plan_moves_every_row_on_its_own_page(engine: AsyncEngine, tenant_id: str) -> None:
    saga_id, written = await _plan_drafts(engine, tenant_id)
    assert min(written.values()) > 50  # a real plan: hundreds of rows per table
    seen = await _move_all(engine, saga_id, tenant_id, "active")
    for name, (moved, hot) in seen.items():
        assert moved == written[name], name
        # Same-length values fit exactly in the room kept; the last page the step shares may fall short.
        assert hot >= 0.95 * moved, f"{name}: {hot} of {moved} moves were HOT"


async def test_cancelling_a_plan_moves_most_rows_on_their_own_page(engine: AsyncEngine, tenant_id: str) -> None:
    """`cancelled` is four bytes longer than `draft`: on a page filled to the kept room, its last
    rows may not fit, and those moves go elsewhere."""
    saga_id, written = await _plan_drafts(engine, tenant_id)
    seen = await _move_all(engine, saga_id, tenant_id, "cancelled")
    for name, (moved, hot) in seen.items():
        assert moved == written[name], name
        assert hot >= 0.8 * moved, f"{name}: {hot} of {moved} moves were HOT"
