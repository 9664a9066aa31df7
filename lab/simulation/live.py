"""The bookkeeping of a live world run (`bakeplan world`, docs/world.md): each tenant's truth, world and
ledger, and what the world shipped for which purchase-order line. Pure: no I/O, no clock; the wiring
to the live stack is `bakeplan.world`.
"""

import dataclasses
import re
from dataclasses import dataclass, field
from uuid import UUID

from lab.simulation.report import Ledger, SimulationReport
from lab.simulation.simulator import Terms, warm_world
from lab.simulation.truth import Truth
from lab.simulation.world import World
from lab.synthetic import TenantData
from workers.procurement.channels.config import FileDropTarget, SupplierChannel


@dataclass
class LiveTenant:
    """One tenant of the run: its truth and world, the ledger, and what the world shipped for which PO line."""

    truth: Truth
    seed: int
    terms: Terms
    world: World
    ledger: Ledger
    shipped: dict[str, tuple[str, str]] = field(default_factory=dict)
    """shipment id → (PO number, line id) of a released order's line."""
    before_run: set[str] = field(default_factory=set)
    """shipment ids on their way when the run began (seeded as open orders)."""
    sagas: list[UUID] = field(default_factory=list)
    released: int = 0
    lines: int = 0
    uncounted_supply: int = 0
    """Open PO lines a later snapshot did not count as supply (each would be a need ordered twice)."""
    repeat_lines: int = 0
    """Lines released for an (ingredient, delivery day) an earlier, still open line already covered."""


@dataclass(frozen=True)
class TenantOutcome:
    tenant_id: str
    live: SimulationReport
    offline: SimulationReport
    sagas_completed: int
    days: int
    released: int
    lines: int
    sent_once: int
    uncounted_supply: int
    repeat_lines: int


def tenant_data(truth: Truth, world: World, *, name: str, time_zone: str) -> TenantData:
    """The tenant as bakeplan is told of it on the run's first morning: master data, sales up to
    yesterday, the lots and the orders on their way (the warm world's, as `warm_world` left them)."""
    return TenantData(
        tenant_id=truth.tenant_id,
        name=name,
        timezone=time_zone,
        products=truth.products,
        recipes=truth.recipes,
        ingredients=truth.ingredients,
        stock_lots=tuple(
            lot.model_copy(update={"lot_id": lot_id(lot.lot_id)}) for lot in world.stock_lots() if lot.quantity > 0
        ),
        suppliers=truth.suppliers,
        sales=truth.sales_before(truth.start),
        calendar=truth.calendar,
        components=truth.components,
        capacity=truth.capacity,
        open_purchase_orders=world.open_orders(truth.start),
        policy=truth.policy,
    )


def open_tenant(truth: Truth, seed: int) -> LiveTenant:
    terms = Terms.of(truth)
    world = warm_world(truth, terms, seed=seed)
    ledger = Ledger(holding_cost_rate_per_year=truth.policy.holding_cost_rate_per_year)
    for ingredient_id, value in world.stock_values().items():
        ledger.received(ingredient_id, value, perishable=ingredient_id in terms.perishable)
    return LiveTenant(
        truth=truth,
        seed=seed,
        terms=terms,
        world=world,
        ledger=ledger,
        before_run={s.order_id for s in world.in_flight()},
    )


def file_drop_channels(tenants: list[LiveTenant]) -> list[SupplierChannel]:
    """Every supplier of the run's tenants takes its orders by file drop, into `<tenant>/<supplier>` under
    the channels' file-drop root (the caller makes the directories)."""
    channels = []
    for tenant in tenants:
        for supplier in tenant.truth.suppliers:
            directory = f"{tenant.truth.tenant_id}/{supplier.supplier_id}"
            channels.append(
                SupplierChannel(
                    tenant_id=tenant.truth.tenant_id,
                    supplier_id=supplier.supplier_id,
                    target=FileDropTarget(directory=directory),
                )
            )
    return channels


def live_truth(truth: Truth, tenant_id: str) -> Truth:
    """`truth` under the tenant id the live run gives it."""
    return dataclasses.replace(truth, tenant_id=tenant_id)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def lot_id(world_lot_id: str) -> str:
    """A world lot's id (`initial:I0004`, `SO000012`) as bakeplan's ids are written (no `:`)."""
    return _UNSAFE.sub("-", world_lot_id)
