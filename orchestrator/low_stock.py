"""Low-stock signals and the procurement-only sagas they start (docs/low_stock.md).

`record` handles one `LowStockObserved`: claim the inbox, check tenant and ingredient, store the signal
as pending. `scan` (a loop in the orchestrator process) starts ONE procurement-only saga per tenant
for all its pending signals once the oldest is older than the debounce window and no procurement-only
saga of the tenant is running. Replicas never start two: the pending signals are locked with
`FOR UPDATE SKIP LOCKED`, the saga and trigger ids derive from the signals, and a unique partial
index allows one running low-stock saga per tenant (a loser's insert does nothing; its signals stay
pending for the next saga).

The saga's one step is procurement; its `PlanProcurement` is built here, from a fresh snapshot
adjusted by `low_stock_rules.low_stock_inputs`, and the adjusted snapshot is what the saga records.
Replies, deadlines and compensation then run through `Orchestrator` like any saga.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts import ids
from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.messages import LowStockObserved, ProcurementPlanned, ProductionScheduled
from contracts.planning import IngredientRequirement
from contracts.purchasing_messages import PurchaseOrdersReleased
from contracts.topics import Topic
from infra.messaging.consumer import is_transient
from orchestrator.engine import SagaDefinition
from orchestrator.low_stock_rules import RECORDED_LINES_LOOKBACK_DAYS, PendingTenant, due_tenants, low_stock_inputs
from orchestrator.ports import Inbound, SagaKind, UnitOfWork, UnitOfWorkFactory
from orchestrator.quarantine import MemoryQuarantine, Quarantine, Scan
from orchestrator.saga_start import NewSaga, SagaInputs, start_saga

log = logging.getLogger(__name__)


class LowStock:
    def __init__(
        self,
        stores: UnitOfWorkFactory,
        definition: SagaDefinition,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None],
        *,
        debounce: timedelta,
        horizon_days: int,
        quarantine: Quarantine | None = None,
    ) -> None:
        """`definition` is the procurement-only saga's; `on_commit` wakes the outbox relay; a tenant
        whose saga fails to start is counted in `quarantine`, and skipped once quarantined."""
        self._quarantine = quarantine or MemoryQuarantine()
        self._stores = stores
        self._definition = definition
        self._clock = clock
        self._on_commit = on_commit
        self._debounce = debounce
        self._horizon_days = horizon_days

    async def record(self, message: Message) -> None:
        """Store one low-stock signal as pending. Raises `PermanentError` (the message is parked) for
        an unknown tenant or ingredient."""
        if not isinstance(message, LowStockObserved):
            raise PermanentError(
                f"the low-stock consumer does not handle {message.event_type} (tenant {message.tenant_id})"
            )
        async with self._stores() as uow:
            if not await uow.inbox.claim(message.event_id, tenant_id=message.tenant_id, digest=content_digest(message)):
                return
            if not await uow.masterdata.tenant_exists(message.tenant_id):
                raise PermanentError(
                    f"low-stock event {message.event_id}: unknown tenant {message.tenant_id!r}; "
                    "seed it (`bakeplan seed`) or fix the tenant id"
                )
            if not await uow.masterdata.ingredient_exists(message.tenant_id, message.ingredient_id):
                raise PermanentError(
                    f"low-stock event {message.event_id} of tenant {message.tenant_id}: unknown ingredient "
                    f"{message.ingredient_id!r}; add it to the tenant's master data or fix ingredient_id"
                )
            now = self._clock()
            await uow.signals.add(message, received_at=now)
            await uow.audit.record(inbound=Inbound(message, Topic.LOW_STOCK, None), at=now)

    async def scan(self, *, limit: int = 100) -> int:
        """Start the procurement-only sagas that are due; returns how many this call started."""
        now = self._clock()
        async with self._stores() as uow:
            oldest = await uow.signals.oldest_pending()
            if not oldest:
                return 0
            running = await uow.sagas.live_low_stock_tenants(oldest)
        failing = await self._quarantine.failing(Scan.LOW_STOCK)
        held = {item for item, f in failing.items() if f.quarantined}
        pending = [
            PendingTenant(tenant, received, tenant in running)
            for tenant, received in oldest.items()
            if tenant not in held
        ]
        started = 0
        for tenant_id in due_tenants(pending, now=now, window=self._debounce)[:limit]:
            # each tenant in its own unit of work: one that raises is counted, the others go on
            try:
                started += await self._start(tenant_id, now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception("tenant %s: procurement-only saga not started; its signals stay pending", tenant_id)
                await self._quarantine.failed(Scan.LOW_STOCK, tenant_id, tenant_id=tenant_id, error=exc, at=now)
                continue
            if tenant_id in failing:
                await self._quarantine.cleared(Scan.LOW_STOCK, tenant_id)
        if started:
            self._on_commit()
        return started

    async def _start(self, tenant_id: str, now: datetime) -> bool:
        async with self._stores() as uow:
            signals = await uow.signals.lock_pending(tenant_id)
            # another replica holds them, or started a saga for them since the scan read them
            if not signals or now - signals[0].received_at < self._debounce:
                return False
            local = now.astimezone(ZoneInfo(await uow.masterdata.time_zone(tenant_id)))
            business_date = local.date()
            trigger_id = ids.low_stock_trigger_id(tenant_id, (s.event_id for s in signals))

            async def read_inputs() -> SagaInputs:
                snapshot = await uow.masterdata.snapshot(
                    tenant_id, business_date=business_date, horizon_days=self._horizon_days
                )
                recorded, released = await _recorded_lines(uow, tenant_id, business_date)
                inputs = low_stock_inputs(
                    snapshot,
                    signals,
                    requirements=await _daily_requirements(uow, tenant_id, business_date),
                    recorded=recorded,
                    local_time=local.time(),
                    released=released,
                )
                return SagaInputs(inputs.snapshot, low_stock=inputs)

            ingredients = ", ".join(sorted({s.ingredient_id for s in signals}))
            new = NewSaga(
                SagaKind.LOW_STOCK,
                tenant_id,
                business_date,
                trigger_id,
                f"by {len(signals)} low-stock signal(s) for {ingredients}",
            )
            # refused while a low-stock saga of this tenant runs: its signals wait for the next one
            if await start_saga(uow, self._definition, new, read_inputs, now=now) is None:
                return False
            await uow.signals.assign([s.event_id for s in signals], new.saga_id)
        log.info("tenant %s: procurement-only saga %s started for %d signal(s)", tenant_id, new.saga_id, len(signals))
        return True


async def _daily_requirements(
    uow: UnitOfWork, tenant_id: str, business_date: date
) -> tuple[IngredientRequirement, ...]:
    """The requirements of the tenant's completed daily plan for `business_date`; none without one."""
    replies = await uow.sagas.completed_results(tenant_id, "production", daily_on=business_date, low_stock_since=None)
    schedules = [reply for reply in replies if isinstance(reply, ProductionScheduled)]
    return schedules[0].requirements if schedules else ()


async def _recorded_lines(
    uow: UnitOfWork, tenant_id: str, business_date: date
) -> tuple[list[ProcurementPlanned], set[str]]:
    """The recorded procurement results of the tenant's completed sagas whose lines may still be open
    (today's daily plan and the low-stock sagas of the last `RECORDED_LINES_LOOKBACK_DAYS` days), and the
    ids of their lines those sagas released as purchase orders (the snapshot counts those orders)."""
    since = business_date - timedelta(days=RECORDED_LINES_LOOKBACK_DAYS)
    replies = await uow.sagas.completed_results(tenant_id, "procurement", daily_on=business_date, low_stock_since=since)
    releases = await uow.sagas.completed_results(tenant_id, "release", daily_on=business_date, low_stock_since=since)
    released = {
        line.line_id
        for reply in releases
        if isinstance(reply, PurchaseOrdersReleased)
        for order in reply.purchase_orders
        for line in order.lines
    }
    return [reply for reply in replies if isinstance(reply, ProcurementPlanned)], released
