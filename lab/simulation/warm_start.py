"""A synthetic tenant started warm: the stock and open orders of a bakery that has run on bakeplan for weeks.

`generate_tenant` draws master data and a sales history that ends yesterday, but its stock is a
random 1–6 days of use with nothing on order, so its first plan is firefighting (about half the
purchase lines of a standard tenant are late). `warm_start` keeps everything the generator drew and
replaces only the stock lots and the open purchase orders by the end state of the simulation's world
(`simulator.warm_world`) run over the tenant's own last weeks of sales:

- the world opens `warm_up_days` days before today (21, at most half the history) with the
  simulator's opening stock, and lives each day: expired lots written off, deliveries received,
  bakeplan's purchasing (`WarmUpPolicy`), the day's true sales made from the lots first-expiry-first-out;
- suppliers are late as in the simulation (1–3 days, with probability 1 − on_time_rate); the draws
  depend on the seed and the tenant id, so two tenants of one seed have different luck;
- then the morning of today: lots whose expiry day has come are written off, today's deliveries
  arrive. What is left are the stock lots (ids `L00001`, … by ingredient and expiry; pieces rounded
  down to whole ones) and the orders on their way (ids `PO00001`, … by delivery date). An order
  whose planned delivery day has passed carries the day it will arrive, as its supplier would have
  confirmed it.

Pure: no I/O, no clock. The same `(tenant, seed, today)` always gives the same state.
"""

import dataclasses
import math
import zlib
from datetime import date, timedelta

from contracts.planning import OpenPurchaseOrder, StockLot
from lab.simulation.simulator import Terms, warm_world
from lab.simulation.truth import Truth
from lab.simulation.world import Shipment, World
from lab.synthetic import TenantData

# A lot of pieces keeps its whole pieces; what is left below this is float noise, not a piece.
_PIECE_EPSILON = 1e-6


def tenant_truth(tenant: TenantData, *, today: date) -> Truth:
    """The tenant as the simulation's truth: its sales history is the known demand, `today` the first
    day after it (nothing is simulated beyond). Products carry no finished stock, as in the simulation.

    Raises `ValueError` when the tenant has no sales, or its histories do not all end yesterday.
    """
    if not tenant.sales:
        raise ValueError(f"tenant {tenant.tenant_id!r} has no sales history to warm up on; generate it with products")
    start = tenant.sales[0].start_date
    for history in tenant.sales:
        end = history.start_date + timedelta(days=len(history.daily_units))
        if history.start_date != start or end != today:
            raise ValueError(
                f"tenant {tenant.tenant_id!r}: the sales of {history.product_id!r} run from {history.start_date} "
                f"to {end - timedelta(days=1)}; every product's history must start on {start} and end on "
                f"{today - timedelta(days=1)} (the day before today) to warm up on it"
            )
    return Truth(
        tenant_id=tenant.tenant_id,
        products=tuple(p.model_copy(update={"finished_stock_units": 0}) for p in tenant.products),
        recipes=tenant.recipes,
        ingredients=tenant.ingredients,
        suppliers=tenant.suppliers,
        calendar=tenant.calendar,
        components=tenant.components,
        capacity=tenant.capacity,
        policy=tenant.policy,
        history_start=start,
        start=today,
        days=0,
        demand={history.product_id: history.daily_units for history in tenant.sales},
    )


def warm_start(tenant: TenantData, *, seed: int, today: date) -> TenantData:
    """`tenant` with the stock lots and open orders it has after weeks on bakeplan's policy (module docstring).

    Everything else (products, recipes, ingredients, suppliers, sales, calendar, capacity) is kept.
    Raises `ValueError` as `tenant_truth` does; `PlanningError` if a planner rejects the tenant's data.
    """
    truth = tenant_truth(tenant, today=today)
    luck = zlib.crc32(f"{seed}:{tenant.tenant_id}:warm-start".encode())
    world = warm_world(truth, Terms.of(truth), seed=luck)
    world.write_off(today)
    world.receive(today)
    return dataclasses.replace(
        tenant, stock_lots=_stock_lots(world, tenant), open_purchase_orders=_open_orders(world, today)
    )


def _stock_lots(world: World, tenant: TenantData) -> tuple[StockLot, ...]:
    in_pieces = {i.ingredient_id for i in tenant.ingredients if i.unit == "pcs"}
    lots: list[StockLot] = []
    for lot in world.stock_lots():
        quantity = math.floor(lot.quantity + _PIECE_EPSILON) if lot.ingredient_id in in_pieces else lot.quantity
        if quantity > 0:
            lots.append(
                StockLot(
                    lot_id=f"L{len(lots) + 1:05d}",
                    ingredient_id=lot.ingredient_id,
                    quantity=float(quantity),
                    expires_on=lot.expires_on,
                )
            )
    return tuple(lots)


def _expected(shipment: Shipment, today: date) -> date:
    """Its planned day, or for one whose planned day has passed the day it will come."""
    return shipment.planned_on if shipment.planned_on > today else shipment.arrives_on


def _open_orders(world: World, today: date) -> tuple[OpenPurchaseOrder, ...]:
    shipments = sorted(
        world.in_flight(),
        key=lambda s: (_expected(s, today), s.order.supplier_id, s.order.ingredient_id, s.order_id),
    )
    return tuple(
        OpenPurchaseOrder(
            order_id=f"PO{n:05d}",
            supplier_id=s.order.supplier_id,
            ingredient_id=s.order.ingredient_id,
            quantity=s.order.quantity,
            delivery_date=_expected(s, today),
        )
        for n, s in enumerate(shipments, start=1)
    )
