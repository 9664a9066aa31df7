"""Properties 3 and 4 of the fault suite (checks.py lists all five and `verify` runs them), about the
components' effects, read from the effect logs, result tables and saga log of the test's tenants:

3. duplicates — no (consumer, event_id) twice in any effect log; at most one effectful `run` per
   (saga, step); a saga's result rows are exactly the lines of the reply the orchestrator recorded
   (for the release step: its purchase orders and their lines); at most one COMPLETED saga per
   (tenant, business date);
4. compensation — at most one `compensate` per (saga, step); exactly one for each step that had
   effects in a COMPENSATED saga, whose rows are then all cancelled, in reverse step order; none in
   a COMPLETED saga, whose rows are all live (plan rows active; purchase orders open, as released).

The procurement worker runs two steps, procurement and release (the pivot, docs/orders.md), into one
effect log: every count is per step.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from uuid import UUID

import orjson
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrator import tables as orchestrator_tables
from orchestrator.saga import STEP_TOPICS
from orchestrator.tables import saga_log, sagas, step_results
from tests.faults.verdict import Verdict
from tests.faults.waits import Scope, saga_rows
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.production import tables as production_tables
from workers.purchase_orders.lifecycle import OPEN_STATUSES
from workers.purchase_orders.tables import purchase_order_lines, purchase_orders

STEP_ORDER = list(STEP_TOPICS)  # forecasting, production, procurement, release

# step → (effect log, result tables, the reply fields whose lines become those tables' rows)
WORKERS: dict[str, tuple[Table, tuple[tuple[Table, str], ...]]] = {
    "forecasting": (forecasting_tables.effect_log, ((forecasting_tables.forecasts, "forecast"),)),
    "production": (
        production_tables.effect_log,
        ((production_tables.batches, "batches"), (production_tables.requirements, "requirements")),
    ),
    "procurement": (procurement_tables.effect_log, ((procurement_tables.purchase_lines, "purchase_lines"),)),
    "release": (procurement_tables.effect_log, ((purchase_orders, "purchase_orders"),)),
}
EFFECT_LOGS: dict[str, Table] = {
    "orchestrator": orchestrator_tables.effect_log,
    "forecasting": forecasting_tables.effect_log,
    "production": production_tables.effect_log,
    "procurement": procurement_tables.effect_log,  # the procurement and release steps
}
# a result row's status in a COMPLETED saga, and in a COMPENSATED one (once undone)
LIVE: dict[Table, frozenset[str]] = {purchase_orders: frozenset(OPEN_STATUSES)}
UNDONE = "cancelled"


# --- 3. duplicates -------------------------------------------------------------------------------


async def check_duplicates(scope: Scope, verdict: Verdict) -> None:
    effects: Counter[str] = Counter()
    async with scope.engine.connect() as conn:
        for name, log in EFFECT_LOGS.items():
            mine = log.c.tenant_id.in_(scope.tenants)
            for row in await conn.execute(select(log.c.kind, func.count()).where(mine).group_by(log.c.kind)):
                effects[f"{name}.{row[0]}"] += int(row[1])
            twice = await conn.execute(
                select(log.c.consumer, log.c.event_id, func.count(), func.array_agg(log.c.kind))
                .where(mine)
                .group_by(log.c.consumer, log.c.event_id)
                .having(func.count() > 1)
            )
            for consumer, event_id, n, kinds in twice:
                verdict.add("duplicates", f"{name}.effect_log: {consumer} applied {event_id} {n} times ({kinds})")
        for step, (log, _) in WORKERS.items():
            reruns = await conn.execute(
                select(log.c.saga_id, func.count())
                .where(
                    log.c.tenant_id.in_(scope.tenants),
                    log.c.step == step,
                    log.c.kind == "run",
                    log.c.affected_rows > 0,
                )
                .group_by(log.c.saga_id)
                .having(func.count() > 1)
            )
            for saga_id, n in reruns:
                verdict.add("duplicates", f"{step} wrote drafts for saga {saga_id} {n} times")
        await _check_rows_match_replies(scope, conn, verdict)
        await _check_releases_happened(scope, conn, verdict)
        # "one plan per tenant and day" is not checked here: the unique index uq_sagas_one_plan_per_day
        # guarantees it (a check of it could never fail), and tests/contract/test_saga_store.py checks
        # that a second day-taking saga is refused, on Postgres and on the in-memory fake alike
    verdict.figures["effects"] = dict(sorted(effects.items()))


async def _check_rows_match_replies(scope: Scope, conn: AsyncConnection, verdict: Verdict) -> None:
    """A saga's stored result rows are exactly the lines of the reply the orchestrator recorded: a
    second run that wrote more (or different) rows shows up as a mismatch."""
    recorded = await conn.execute(
        select(step_results.c.saga_id, step_results.c.step, step_results.c.payload)
        .join(sagas, sagas.c.saga_id == step_results.c.saga_id)
        .where(sagas.c.tenant_id.in_(scope.tenants))
    )
    expected: dict[tuple[Table, UUID], int] = {}
    for saga_id, step, payload in recorded:
        body = orjson.loads(payload)
        for table, field_name in WORKERS[step][1]:
            expected[(table, saga_id)] = len(body[field_name])
        if step == "release":
            expected[(purchase_order_lines, saga_id)] = sum(len(o["lines"]) for o in body["purchase_orders"])
    released_lines = (
        select(purchase_orders.c.saga_id, func.count())
        .join(
            purchase_order_lines,
            (purchase_order_lines.c.tenant_id == purchase_orders.c.tenant_id)
            & (purchase_order_lines.c.po_number == purchase_orders.c.po_number),
        )
        .where(purchase_orders.c.tenant_id.in_(scope.tenants))
        .group_by(purchase_orders.c.saga_id)
    )
    line_counts: dict[UUID, int] = dict((await conn.execute(released_lines)).all())
    for (t, saga_id), n in expected.items():
        if t is purchase_order_lines and line_counts.get(saga_id, 0) != n:
            verdict.add(
                "duplicates",
                f"saga {saga_id}: {line_counts.get(saga_id, 0)} purchase order lines, its release reply has {n}",
            )
    for step, (_, tables) in WORKERS.items():
        for table, _ in tables:
            counts: dict[UUID, int] = dict(
                (
                    await conn.execute(
                        select(table.c.saga_id, func.count())
                        .where(table.c.tenant_id.in_(scope.tenants))
                        .group_by(table.c.saga_id)
                    )
                ).all()
            )
            for (t, saga_id), n in expected.items():
                if t is table and counts.get(saga_id, 0) != n:
                    verdict.add(
                        "duplicates",
                        f"saga {saga_id}: {counts.get(saga_id, 0)} rows in {table.fullname}, its {step} reply has {n}",
                    )


async def _check_releases_happened(scope: Scope, conn: AsyncConnection, verdict: Verdict) -> None:
    """The release checks are not vacuous: completed sagas released purchase orders (the suite's tenants
    take orders at any hour, tests/faults/load.py), counted in the figures."""
    completed = (
        await conn.execute(
            select(func.count())
            .select_from(sagas)
            .where(sagas.c.tenant_id.in_(scope.tenants), sagas.c.status == "COMPLETED")
        )
    ).scalar_one()
    released = (
        await conn.execute(
            select(func.count()).select_from(purchase_orders).where(purchase_orders.c.tenant_id.in_(scope.tenants))
        )
    ).scalar_one()
    verdict.figures["purchase_orders"] = released
    if completed and not released:
        verdict.add("duplicates", f"{completed} COMPLETED sagas released no purchase order: the release went unchecked")


# --- 4. compensation -------------------------------------------------------------------------------


async def check_compensation(scope: Scope, verdict: Verdict) -> None:
    status = {r.saga_id: r.status for r in await saga_rows(scope)}
    async with scope.engine.connect() as conn:
        await _check_reverse_order(conn, [s for s, st in status.items() if st == "COMPENSATED"], verdict)
        for step, (log, tables) in WORKERS.items():
            mine = log.c.tenant_id.in_(scope.tenants) & (log.c.step == step)
            ran = set(
                (await conn.execute(select(log.c.saga_id).where(mine, log.c.kind == "run", log.c.affected_rows > 0)))
                .scalars()
                .all()
            )
            compensated = Counter(
                (await conn.execute(select(log.c.saga_id).where(mine, log.c.kind == "compensate"))).scalars().all()
            )
            for saga_id, n in compensated.items():
                if n > 1:
                    verdict.add("compensation", f"{step} compensated saga {saga_id} {n} times")
                if status.get(saga_id) == "COMPLETED":
                    verdict.add("compensation", f"{step} compensated saga {saga_id}, which COMPLETED")
            for saga_id in ran:
                if status.get(saga_id) == "COMPENSATED" and compensated[saga_id] != 1:
                    verdict.add(
                        "compensation",
                        f"{step} had effects in COMPENSATED saga {saga_id} but compensated it "
                        f"{compensated[saga_id]} times",
                    )
            for table, _ in tables:
                rows = await conn.execute(
                    select(table.c.saga_id, table.c.status, func.count())
                    .where(table.c.tenant_id.in_(scope.tenants))
                    .group_by(table.c.saga_id, table.c.status)
                )
                live = LIVE.get(table, frozenset({"active"}))
                for saga_id, row_status, n in rows:
                    saga_status = status.get(saga_id)
                    if saga_status == "COMPLETED" and row_status not in live:
                        verdict.add(
                            "compensation", f"COMPLETED saga {saga_id}: {n} {row_status} rows in {table.fullname}"
                        )
                    elif saga_status == "COMPENSATED" and row_status != UNDONE:
                        verdict.add(
                            "compensation",
                            f"COMPENSATED saga {saga_id}: {n} {row_status} rows left in {table.fullname}",
                        )
                    elif saga_status == "FAILED" and row_status == "active":
                        verdict.add("compensation", f"FAILED saga {saga_id}: {n} active rows in {table.fullname}")


async def _check_reverse_order(conn: AsyncConnection, saga_ids: Sequence[UUID], verdict: Verdict) -> None:
    """The orchestrator's compensation commands of a saga go out in reverse step order (a repeat
    of a command that went unanswered does not count again)."""
    if not saga_ids:
        return
    commands = await conn.execute(
        select(saga_log.c.saga_id, saga_log.c.step)
        .where(saga_log.c.saga_id.in_(saga_ids), saga_log.c.kind == "CompensateStep")
        .order_by(saga_log.c.id)
    )
    order: dict[UUID, list[str]] = defaultdict(list)
    for saga_id, step in commands:
        if step not in order[saga_id]:
            order[saga_id].append(step)
    for saga_id, steps in order.items():
        if steps != sorted(steps, key=STEP_ORDER.index, reverse=True):
            verdict.add("compensation", f"saga {saga_id} compensated {steps}, not in reverse step order")
