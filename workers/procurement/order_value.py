"""Supplier minimum order value: fill an order (all lines of one supplier and delivery date) up to it.

Pure. Orders are visited by supplier, then delivery date. When an order's value (Σ quantity ×
effective unit price) is below `Supplier.min_order_value`:
1. Later lines of the same supplier, delivered within the consolidation window after it, are brought
   into it (earliest first, then by ingredient) while it is still short — only lines that are not
   late, whose ingredient is not yet in the order, that the supplier can still deliver that early, and
   whose stock, arriving earlier, still keeps to the end of the horizon (so no stock expires unused
   within the horizon because of the move). The moved line keeps its quantity and records
   `pulled_forward_from`.
2. Its lines are topped up, in ingredient order, by whole packs while each stays within its shelf-life
   cap and `max_quantity`. Only lines whose stock is still usable at the end of the horizon are topped
   up: the extra is used after the horizon, and cannot push another line's stock past its expiry
   within the horizon. Lines without a shelf life have no cap.
3. If it is still short, it is kept as it is and every line records `below_min_order_value`.
"""

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

from workers.procurement.ingredient_planner import PlannedLine
from workers.procurement.projection import NEVER
from workers.procurement.terms import PACK_EPSILON, effective_unit_price, max_packs, whole_packs

# Tier prices can drop as packs are added; a few rounds settle any realistic tier table.
TOP_UP_ROUNDS = 4
MONEY_EPSILON = 1e-9

OrderKey = tuple[str, date]


def order_value(lines: Sequence[PlannedLine]) -> float:
    """Σ quantity × effective unit price of the lines, in money."""
    return sum(line.quantity * effective_unit_price(line.reach.offer.item, line.quantity)[0] for line in lines)


def apply_min_order_values(lines: Sequence[PlannedLine], *, horizon_days: int, window_days: int) -> None:
    """Fill orders below their supplier's minimum value in place; record the outcome in each line's facts."""
    orders: dict[OrderKey, list[PlannedLine]] = {}
    for line in lines:
        orders.setdefault((line.supplier.supplier_id, line.delivery), []).append(line)
    for key in sorted(orders):
        order = orders[key]
        if not order:
            continue  # every line was brought into an earlier order
        minimum = order[0].supplier.min_order_value
        if order_value(order) < minimum - MONEY_EPSILON:
            _pull_forward(key, orders, minimum, horizon_days=horizon_days, window_days=window_days)
            for line in sorted(order, key=lambda line: line.reach.offer.item.ingredient_id):
                if line.lot.expires < horizon_days:
                    continue
                for _ in range(TOP_UP_ROUNDS):
                    missing = minimum - order_value(order)
                    if missing <= MONEY_EPSILON:
                        break
                    _add_packs(line, missing)
        value = order_value(order)
        for line in order:
            line.facts["order_value"] = round(value, 2)
            line.facts["min_order_value"] = minimum
            line.facts["below_min_order_value"] = value < minimum - MONEY_EPSILON


def _pull_forward(
    key: OrderKey, orders: dict[OrderKey, list[PlannedLine]], minimum: float, *, horizon_days: int, window_days: int
) -> None:
    supplier_id, delivery = key
    order = orders[key]
    last = delivery + timedelta(days=window_days)
    later = sorted(other for other in orders if other[0] == supplier_id and delivery < other[1] <= last)
    for other in later:
        for line in sorted(orders[other], key=lambda line: line.reach.offer.item.ingredient_id):
            if order_value(order) >= minimum - MONEY_EPSILON:
                return
            shift = (line.delivery - delivery).days
            expires = line.lot.expires if line.lot.expires == NEVER else line.lot.expires - shift
            ingredients = {planned.reach.offer.item.ingredient_id for planned in order}
            if (
                line.late
                or line.reach.offer.item.ingredient_id in ingredients
                or line.reach.earliest > delivery
                or expires < horizon_days
            ):
                continue
            orders[other].remove(line)
            line.facts["pulled_forward_from"] = line.delivery.isoformat()
            line.delivery = delivery
            line.order_date = delivery - timedelta(days=line.reach.offer.item.lead_time_days)
            line.lot = replace(line.lot, arrives=line.lot.arrives - shift, expires=expires)
            order.append(line)


def _add_packs(line: PlannedLine, missing_value: float) -> None:
    item = line.reach.offer.item
    price = effective_unit_price(item, line.quantity)[0]
    if price <= 0:
        return
    room = math.ceil(missing_value / (price * item.pack_size) - PACK_EPSILON)
    limit = max_packs(item)
    if limit is not None:
        room = min(room, limit - line.packs)
    if line.shelf_life_cap != math.inf:
        room = min(room, math.floor((line.shelf_life_cap - line.quantity) / item.pack_size + PACK_EPSILON))
    if room <= 0:
        return
    line.packs += room
    line.quantity = whole_packs(line.packs, item.pack_size)
    line.lot = replace(line.lot, quantity=line.quantity)
    line.facts["min_order_topup_packs"] = int(str(line.facts.get("min_order_topup_packs") or 0)) + room
    line.facts["packs"] = line.packs
