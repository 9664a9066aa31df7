"""The live feeds applied to Postgres (docs/feeds.md): one event, one transaction, exactly once.

`Feeds.apply` handles the orchestrator's consumer `orchestrator-feeds` on `Topic.FEEDS`: claim the
inbox (a re-sent event id does nothing), take the tenant's master-data lock (the one an import takes,
so a feed and an import never interleave), check the event (`orchestrator.feeds`), apply it, and
archive it in the audit chain. An event that cannot be applied raises `PermanentError`: its
transaction rolls back, inbox claim included, and the consumer parks it with the reason, so
`bakeplan dlq replay` can apply it once the data is fixed. The next snapshot reads every applied
change (a snapshot's REPEATABLE READ transaction sees a feed's transaction whole or not at all).
"""

import logging
from collections.abc import Callable, Collection
from datetime import date, datetime

from sqlalchemy import Table, and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.messages import MasterDataChanged, SalesDayClosed, StockCounted
from contracts.topics import Topic
from infra import tracing
from infra.messaging import inbox as inbox_store
from orchestrator import audit
from orchestrator import masterdata as md
from orchestrator.feeds import NOT_FED, day_closed_problems, row_change, sales_changes, stock_count_problems
from orchestrator.ports import Inbound
from orchestrator.tables import inbox
from orchestrator.tenant_files_store import TENANT_FILE_TABLES, read_rows

log = logging.getLogger(__name__)

CONSUMER = "orchestrator-feeds"
_SHOWN_PROBLEMS = 20


class Feeds:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime],
        *,
        dedupe: bool = True,
        audit_keys: audit.AuditKeys = audit.DEV_AUDIT_KEYS,
    ) -> None:
        """`dedupe=False` is the fault suite's mutation switch (see `PostgresStores`)."""
        self._engine = engine
        self._clock = clock
        self._dedupe = dedupe
        self._audit_keys = audit_keys

    async def apply(self, message: Message) -> None:
        """Apply one feed event. Raises `PermanentError` (the event is parked) when it cannot be."""
        if not isinstance(message, SalesDayClosed | StockCounted | MasterDataChanged):
            raise PermanentError(
                f"the feeds consumer does not handle {message.event_type} (tenant {message.tenant_id})"
            )
        async with tracing.transaction(self._engine, "orchestrator") as conn:
            claimed = await inbox_store.claim(
                conn,
                inbox,
                consumer=CONSUMER,
                event_id=message.event_id,
                tenant_id=message.tenant_id,
                digest=content_digest(message),
            )
            if not claimed and self._dedupe:
                return
            tenant_id = message.tenant_id
            await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"tenant_files:{tenant_id}"))))
            if not await md.tenant_exists(conn, tenant_id):
                raise PermanentError(
                    f"{message.event_type} {message.event_id}: unknown tenant {tenant_id!r}; create it "
                    "(`bakeplan import` or `bakeplan seed`) or fix the tenant id, then `bakeplan dlq replay`"
                )
            match message:
                case SalesDayClosed():
                    summary = await _close_day(conn, message)
                case StockCounted():
                    summary = await _count_stock(conn, message)
                case MasterDataChanged():
                    summary = await _change_row(conn, message)
            await audit.record(
                conn, inbound=Inbound(message, Topic.FEEDS, None), at=self._clock(), keys=self._audit_keys
            )
        log.info("tenant %s: %s %s applied: %s", tenant_id, message.event_type, message.event_id, summary)


def _refuse(message: Message, problems: list[str]) -> PermanentError:
    shown = problems[:_SHOWN_PROBLEMS]
    more = f"; … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return PermanentError(
        f"{message.event_type} {message.event_id} of tenant {message.tenant_id} not applied: " + "; ".join(shown) + more
    )


async def _existing(conn: AsyncConnection, table: Table, column: str, tenant_id: str, ids: Collection[str]) -> set[str]:
    if not ids:
        return set()
    found = await conn.execute(
        select(table.c[column]).where(table.c.tenant_id == tenant_id, table.c[column].in_(sorted(set(ids))))
    )
    return set(found.scalars())


async def _close_day(conn: AsyncConnection, event: SalesDayClosed) -> str:
    tenant_id, day = event.tenant_id, event.business_date
    known = await _existing(conn, md.products, "product_id", tenant_id, [line.product_id for line in event.lines])
    if problems := day_closed_problems(event, known):
        raise _refuse(event, problems)
    store = md.store_sales
    where = and_(store.c.tenant_id == tenant_id, store.c.store_id == event.store_id, store.c.day == day)
    before = {r.product_id: r.units for r in await conn.execute(select(store.c.product_id, store.c.units).where(where))}
    after = {line.product_id: line.units for line in event.lines}
    changes = sales_changes(before, after)
    await conn.execute(delete(store).where(where))
    if after:
        rows = [
            {"tenant_id": tenant_id, "store_id": event.store_id, "day": day, "product_id": p, "units": u}
            for p, u in after.items()
        ]
        await conn.execute(insert(store), rows)
        # a product the store sold nothing of was still on sale that day: a 0, not a missing day
        sales = md.daily_sales
        opened = [{"tenant_id": tenant_id, "product_id": p, "day": day, "units": 0} for p in after]
        await conn.execute(pg_insert(sales).values(opened).on_conflict_do_nothing())
    if changes:
        await _add_to_daily_sales(conn, tenant_id, day, changes)
    return f"store {event.store_id} on {day}: {len(after)} product(s), {len(changes)} changed"


async def _add_to_daily_sales(conn: AsyncConnection, tenant_id: str, day: date, changes: dict[str, int]) -> None:
    sales = md.daily_sales
    for product_id, delta in changes.items():
        key = and_(sales.c.tenant_id == tenant_id, sales.c.product_id == product_id, sales.c.day == day)
        await conn.execute(update(sales).where(key).values(units=func.greatest(sales.c.units + delta, 0)))


async def _count_stock(conn: AsyncConnection, event: StockCounted) -> str:
    tenant_id, lots = event.tenant_id, md.stock_lots
    mentioned = [*(event.ingredient_ids or ()), *(lot.ingredient_id for lot in event.lots)]
    known = await _existing(conn, md.ingredients, "ingredient_id", tenant_id, mentioned)
    problems = stock_count_problems(event, known)
    scope = lots.c.tenant_id == tenant_id
    if event.ingredient_ids is not None:
        scope = and_(scope, lots.c.ingredient_id.in_(list(event.ingredient_ids)))
        # lot ids are unique per tenant: a counted lot may not reuse the id of a lot the count keeps
        kept = await conn.execute(
            select(lots.c.lot_id, lots.c.ingredient_id).where(
                lots.c.tenant_id == tenant_id,
                lots.c.ingredient_id.not_in(list(event.ingredient_ids)),
                lots.c.lot_id.in_([lot.lot_id for lot in event.lots]),
            )
        )
        problems += [
            f"inventory.stock_counted lot {r.lot_id!r}: already a lot of ingredient {r.ingredient_id!r}, which "
            "this partial count keeps; lot ids are unique per tenant"
            for r in kept
        ]
    if problems:
        raise _refuse(event, problems)
    removed = (await conn.execute(delete(lots).where(scope))).rowcount
    if event.lots:
        await conn.execute(insert(lots), [{"tenant_id": tenant_id, **lot.model_dump()} for lot in event.lots])
    what = "full count" if event.ingredient_ids is None else f"count of {len(event.ingredient_ids)} ingredient(s)"
    return f"{what}: {removed} lot(s) replaced by {len(event.lots)}"


async def _change_row(conn: AsyncConnection, event: MasterDataChanged) -> str:
    tenant_id = event.tenant_id
    current = await read_rows(conn, tenant_id, skip=NOT_FED)
    assert current is not None, "the tenant exists: checked in this transaction"
    change = row_change(event, current)
    if change.problems:
        raise _refuse(event, change.problems)
    if change.entity == "tenant":
        assert change.row is not None
        values = {k: v for k, v in change.row.items() if v is not None}
        await conn.execute(update(md.tenants).where(md.tenants.c.tenant_id == tenant_id).values(**values))
        return "tenant settings replaced"
    table = TENANT_FILE_TABLES[change.entity]
    key = and_(table.c.tenant_id == tenant_id, *(table.c[k] == v for k, v in change.key.items()))
    removed = (await conn.execute(delete(table).where(key))).rowcount
    if change.row is not None:
        await conn.execute(insert(table).values(tenant_id=tenant_id, **change.row))
        return f"{change.entity} {_key_text(change.key)} {'replaced' if removed else 'added'}"
    if change.entity == "products" and removed:
        # a removed product's sales history goes with it (docs/feeds.md)
        for sales in (md.daily_sales, md.store_sales):
            product = change.key["product_id"]
            await conn.execute(delete(sales).where(sales.c.tenant_id == tenant_id, sales.c.product_id == product))
    return f"{change.entity} {_key_text(change.key)} {'removed' if removed else 'was not there'}"


def _key_text(key: dict[str, object]) -> str:
    return "/".join(str(v) for v in key.values())
