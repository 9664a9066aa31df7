"""Replenishment: lead-time-aware, expiry-aware purchase lines for a day's ingredient requirements.

Pure: no I/O, no clock. "Today" is `business_date`; line ids are uuid5 of the saga, so the same input
always gives the same lines, byte for byte. Quantities are in the ingredient's unit.

The rules live in the modules that apply them:
- `projection`: day-by-day FEFO projection; a lot is usable on days < its expiry.
- `inventory_math`: safety stock per ingredient (statistical or percentage method).
- `ordering`: placement (order cut-off), delivery weekdays, closed days, lateness.
- `terms`: MOQ, whole packs, maximum per line, price tiers.
- `sourcing`: supplier scoring.
- `shelf_life`: category defaults for a missing shelf life.
- `ingredient_planner`: need days, consolidation, shelf-life cap, dual sourcing.
- `order_value`: supplier minimum order value.

This module adds:
- The horizon runs from `business_date` to the last requirement day. Requirements before
  `business_date` are past and ignored; requirements of one ingredient and day are summed.
- Stock lots already expired (expires_on ≤ business_date) or empty do not count. Open orders are
  supply on their delivery date and expire `shelf_life_days` after that. An overdue order (delivery
  date before `business_date`) is not trusted to come today: it counts from its supplier's next
  delivery day after `business_date` (the day after, for an unknown supplier), so a late supplier
  that delivers twice a week does not leave the bakery waiting on a promise.
- Each line's `unit_price` is the effective (tier) price of its quantity.

A low-stock plan (docs/low_stock.md) passes three more inputs:
- `stock_floors`: per ingredient, stock the plan holds at least (the signalled threshold): the safety
  stock is max(computed, floor). A floored ingredient is planned even without requirements, over a
  horizon that reaches at least its earliest possible delivery.
- `occupied_slots`: (supplier, ingredient, delivery date) slots that already have an open line; no line
  is planned on them (at most one open line per slot).
- `flag_emergencies`: a line is an emergency when it must be ordered now — its order date is its
  supplier's placement date (today, or tomorrow after the supplier's cut-off) — so waiting for the next
  daily plan would deliver later.
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID, uuid5

from contracts.errors import PlanningError
from contracts.messages import PlanProcurement
from contracts.planning import (
    Calendar,
    Ingredient,
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    PurchaseLine,
    Reasoning,
    StockLot,
    Supplier,
    SupplierItem,
    SupplierReceipt,
)
from workers.procurement.ingredient_planner import IngredientInputs, PlannedLine, Reach, plan_ingredient
from workers.procurement.inventory_math import (
    delivery_risk,
    economic_order_quantity,
    plan_safety_stock,
    reorder_point,
    safety_stock,
    target_service_level,
)
from workers.procurement.lead_time_learning import LearnedSuppliers, learned_suppliers
from workers.procurement.order_value import apply_min_order_values
from workers.procurement.ordering import earliest_delivery, next_delivery_after, placement_date
from workers.procurement.projection import NEVER, QUANTITY_EPSILON, SupplyLot, project
from workers.procurement.shelf_life import shelf_life_days, shelf_life_source
from workers.procurement.sourcing import offers_by_ingredient, rank_offers
from workers.procurement.terms import effective_unit_price

__all__ = ["economic_order_quantity", "plan_purchases", "reorder_point", "safety_stock"]


def plan_purchases(
    saga_id: UUID,
    ingredients: Sequence[Ingredient],
    stock_lots: Sequence[StockLot],
    suppliers: Sequence[Supplier],
    requirements: Sequence[IngredientRequirement],
    *,
    business_date: date,
    open_orders: Sequence[OpenPurchaseOrder] = (),
    policy: PlanningPolicy = PlanningPolicy(),
    calendar: Calendar = Calendar(),
    stock_floors: Mapping[str, float] | None = None,
    occupied_slots: frozenset[tuple[str, str, date]] = frozenset(),
    flag_emergencies: bool = False,
    receipts: Sequence[SupplierReceipt] = (),
) -> tuple[PurchaseLine, ...]:
    """Purchase lines that hold each ingredient's projected stock at its safety stock.

    Lines are sorted by (order_date, supplier_id, ingredient_id, delivery_date); `line_id` is
    `uuid5(saga_id, "po:{supplier_id}:{ingredient_id}:{delivery_date}")` and unique within the plan.
    Every quantity is > 0, whole packs, ≥ MOQ and ≤ `max_quantity`.

    `stock_floors`, `occupied_slots` ((supplier_id, ingredient_id, delivery_date)) and
    `flag_emergencies` serve low-stock plans (module docstring); no line lands on an occupied slot.
    `receipts` teach the suppliers' lead times, σ_LT and on-time rates (`lead_time_learning`).

    Raises `PlanningError` if a requirement or floor names an ingredient not in `ingredients`, or if
    stock cannot cover an ingredient and no supplier offers (or can deliver) it.
    """
    floors = dict(stock_floors or {})
    learned = learned_suppliers(suppliers, receipts)
    suppliers = learned.suppliers
    ingredients_by_id = {ingredient.ingredient_id: ingredient for ingredient in ingredients}
    for ingredient_id in floors:
        if ingredient_id not in ingredients_by_id:
            raise PlanningError(
                f"saga {saga_id}: a stock floor names unknown ingredient {ingredient_id!r}; "
                "add the ingredient to the master data"
            )
    current = []
    for requirement in requirements:
        if requirement.ingredient_id not in ingredients_by_id:
            raise PlanningError(
                f"saga {saga_id}: a requirement for {requirement.day} names unknown ingredient "
                f"{requirement.ingredient_id!r}; add the ingredient to the master data"
            )
        if requirement.day >= business_date:
            current.append(requirement)
    if not current and not floors:
        return ()
    horizon_days = max((requirement.day - business_date).days + 1 for requirement in current) if current else 1
    open_days = sum(calendar.is_open(business_date + timedelta(days=n)) for n in range(horizon_days))

    needs: dict[str, list[float]] = {}
    variances: dict[str, list[float] | None] = {}
    for requirement in current:
        ingredient_id = requirement.ingredient_id
        index = (requirement.day - business_date).days
        needs.setdefault(ingredient_id, [0.0] * horizon_days)[index] += requirement.quantity
        if ingredient_id not in variances:
            variances[ingredient_id] = [0.0] * horizon_days
        daily = variances[ingredient_id]
        if requirement.quantity_sd is None:
            variances[ingredient_id] = None
        elif daily is not None:
            daily[index] += requirement.quantity_sd**2
    for ingredient_id in floors:
        needs.setdefault(ingredient_id, [0.0] * horizon_days)
        variances.setdefault(ingredient_id, [0.0] * horizon_days)

    supply: dict[str, list[tuple[str, date, date | None, float]]] = {}
    for lot in stock_lots:
        supply.setdefault(lot.ingredient_id, []).append(
            (f"lot:{lot.lot_id}", business_date, lot.expires_on, lot.quantity)
        )
    suppliers_by_id = {supplier.supplier_id: supplier for supplier in suppliers}
    for order in open_orders:
        supply.setdefault(order.ingredient_id, []).append(
            (
                f"open:{order.order_id}",
                _expected_arrival(order, suppliers_by_id.get(order.supplier_id), business_date, calendar),
                None,
                order.quantity,
            )
        )

    offers = offers_by_ingredient(suppliers)
    planned: list[PlannedLine] = []
    for ingredient_id in sorted(needs):
        ingredient = ingredients_by_id[ingredient_id]
        shelf = shelf_life_days(ingredient)
        lots = [
            projected
            for key, arrives_on, expires_on, quantity in supply.get(ingredient_id, [])
            if (projected := _supply_lot(key, arrives_on, expires_on, quantity, shelf, business_date)) is not None
        ]
        daily_variances = variances[ingredient_id]
        daily_sds = None if daily_variances is None else [value**0.5 for value in daily_variances]
        planned.extend(
            _plan_ingredient(
                saga_id,
                ingredient,
                needs[ingredient_id],
                daily_sds,
                lots,
                offers.get(ingredient_id, []),
                open_days=open_days,
                business_date=business_date,
                policy=policy,
                calendar=calendar,
                floor=floors.get(ingredient_id),
                occupied=frozenset(
                    (supplier_id, day)
                    for supplier_id, slot_ingredient, day in occupied_slots
                    if slot_ingredient == ingredient_id
                ),
            )
        )
    apply_min_order_values(planned, horizon_days=horizon_days, window_days=policy.consolidation_window_days)
    lines = [_purchase_line(saga_id, line, learned, flag_emergencies=flag_emergencies) for line in planned]
    lines.sort(key=lambda line: (line.order_date, line.supplier_id, line.ingredient_id, line.delivery_date))
    return tuple(lines)


def _supply_lot(
    key: str, arrives_on: date, expires_on: date | None, quantity: float, shelf: int | None, business_date: date
) -> SupplyLot | None:
    arrives = (arrives_on - business_date).days
    if key.startswith("open:"):
        expires = NEVER if shelf is None else arrives + shelf
    else:
        expires = NEVER if expires_on is None else (expires_on - business_date).days
    if quantity <= QUANTITY_EPSILON or expires <= arrives:
        return None
    return SupplyLot(arrives, expires, quantity, key)


def _plan_ingredient(
    saga_id: UUID,
    ingredient: Ingredient,
    needs: list[float],
    daily_sds: list[float] | None,
    lots: list[SupplyLot],
    offered: Sequence[tuple[Supplier, SupplierItem, int]],
    *,
    open_days: int,
    business_date: date,
    policy: PlanningPolicy,
    calendar: Calendar,
    floor: float | None = None,
    occupied: frozenset[tuple[str, date]] = frozenset(),
) -> list[PlannedLine]:
    horizon_days = len(needs)
    mean_per_open_day = sum(needs) / max(open_days, 1)
    offers = rank_offers(
        offered,
        typical_quantity=mean_per_open_day * max(policy.consolidation_window_days, 1),
    )
    reaches = []
    for offer in offers:
        placed_on = placement_date(offer.supplier, business_date=business_date, policy=policy)
        earliest = earliest_delivery(offer.supplier, offer.item.lead_time_days, placed_on=placed_on, calendar=calendar)
        if earliest is not None:
            reaches.append(Reach(offer, placed_on, earliest))
    if not reaches:
        if any(project(lots, needs).unmet):
            why = "no supplier offers it" if not offers else "no supplier offering it has a delivery day in reach"
            raise PlanningError(
                f"saga {saga_id}: stock does not cover ingredient {ingredient.ingredient_id!r} and {why}; "
                "add a supplier item for it (with delivery weekdays the bakery is open on)"
            )
        return []

    primary = reaches[0].offer.item
    risk = delivery_risk(
        lead_time_days=primary.lead_time_days,
        lead_time_sd_days=primary.lead_time_sd_days,
        on_time_rate=reaches[0].offer.supplier.on_time_rate,
        delivery_weekdays=len(set(reaches[0].offer.supplier.delivery_weekdays)),
    )
    safety = plan_safety_stock(
        needs,
        daily_sds,
        open_days=open_days,
        service_level=target_service_level(
            ingredient_level=ingredient.service_level,
            policy_level=policy.service_level,
            shelf_life_days=shelf_life_days(ingredient),
        ),
        lead_time_days=risk.protection_days,
        lead_time_sd_days=risk.lead_time_sd_days,
    )
    if floor is not None and floor > safety.quantity:
        safety = replace(safety, quantity=floor, method="stock_floor")
    # Stock that runs out before the best supplier can come is bought from whoever comes first.
    reach_day = (min(reach.earliest for reach in reaches) - business_date).days
    if floor is not None:
        # the floor must hold up to the first day a delivery can come, whatever the requirements' horizon
        horizon_days = max(horizon_days, reach_day + 1)
    extended = needs + [0.0] * max(0, reach_day + 1 - len(needs))
    initial = project(lots, extended)
    backlog = sum(initial.unmet[:reach_day])
    initial_stock = initial.stock
    if backlog > QUANTITY_EPSILON:
        extended[reach_day] += backlog
        initial_stock = list(initial.stock)
        initial_stock[reach_day] -= backlog
        # Exact on the backlog day, which the planner looks at first; if that day is short (the usual
        # case) it re-projects after its first line and never reads the later, stale days.
        if initial_stock[reach_day] >= safety.quantity - QUANTITY_EPSILON:
            initial_stock = project(lots, extended).stock
    inputs = IngredientInputs(
        ingredient=ingredient,
        needs=extended,
        horizon_days=horizon_days,
        open_share=max(open_days, 1) / horizon_days,
        lots=lots,
        reaches=reaches,
        safety=safety,
        shelf_life_days=shelf_life_days(ingredient),
        shelf_life_source=shelf_life_source(ingredient),
        business_date=business_date,
        policy=policy,
        calendar=calendar,
        occupied=occupied,
    )
    return plan_ingredient(inputs, backlog, initial_stock)


def _purchase_line(
    saga_id: UUID, line: PlannedLine, learned: LearnedSuppliers, *, flag_emergencies: bool = False
) -> PurchaseLine:
    item = line.reach.offer.item
    supplier_id = line.supplier.supplier_id
    unit_price, tier = effective_unit_price(item, line.quantity)
    facts = dict(line.facts) | learned.facts(supplier_id, item.ingredient_id)
    facts["quantity"] = line.quantity
    facts["unit_price"] = unit_price
    facts["price_tier_min_quantity"] = tier
    if line.late:
        rule = "late_expedite"
        why = f"short before the earliest delivery {line.delivery.isoformat()}; ordered at once (late)"
    elif facts.get("dual_source_part") == "secondary":
        rule = "dual_source_remainder"
        why = f"remainder the best supplier's maximum cannot take, for {facts['need_date']}"
    else:
        rule = "cover_to_safety_stock"
        why = f"stock falls below safety stock {facts['safety_stock']} on {facts['need_date']}"
    days = facts["consolidated_days"]
    reason = (
        f"{why}: {line.packs} × {_amount(item.pack_size)} = {_amount(line.quantity)} from {supplier_id}, "
        f"delivered {line.delivery.isoformat()}, covering {days} day{'s' if days != 1 else ''}"
    )
    if facts.get("shelf_life_cap_exceeded"):
        reason += f"; exceeds the shelf-life cap by {facts['expected_waste']}"
    if facts.get("below_min_order_value"):
        reason += "; order below the supplier's minimum value"
    emergency = flag_emergencies and line.order_date <= line.reach.placed_on
    if flag_emergencies:  # daily lines keep their facts as they were
        facts["emergency"] = emergency
        facts["placed_on"] = line.reach.placed_on.isoformat()
    if emergency:
        reason += (
            f"; EMERGENCY (low stock): must be ordered now, placed {line.reach.placed_on.isoformat()}, "
            "outside the daily cycle"
        )
    return PurchaseLine(
        line_id=str(uuid5(saga_id, f"po:{supplier_id}:{item.ingredient_id}:{line.delivery.isoformat()}")),
        supplier_id=supplier_id,
        ingredient_id=item.ingredient_id,
        order_date=line.order_date,
        delivery_date=line.delivery,
        quantity=line.quantity,
        unit_price=unit_price,
        late=line.late,
        reason=reason,
        reasoning=Reasoning(rule=rule, facts=facts),
        emergency=emergency,
    )


def _amount(quantity: float) -> str:
    """A quantity for a human: at most 3 decimals, no trailing zeros, no exponent."""
    return f"{quantity:.3f}".rstrip("0").rstrip(".")


def _expected_arrival(
    order: OpenPurchaseOrder, supplier: Supplier | None, business_date: date, calendar: Calendar
) -> date:
    """When an open order is expected: its delivery date, or for an overdue one the next delivery day."""
    if order.delivery_date >= business_date:
        return order.delivery_date
    following = None if supplier is None else next_delivery_after(supplier, business_date, calendar=calendar)
    return following or business_date + timedelta(days=1)


def plan_for_command(command: PlanProcurement) -> tuple[PurchaseLine, ...]:
    """The purchase lines for one `PlanProcurement`, exactly as the worker plans them (audit replays
    call this too). A low-stock command (`purpose="low_stock"`) holds its stock floors, keeps off the
    slots of the open orders it was given, and flags emergencies."""
    assert command.saga_id is not None, "step commands always carry their saga"
    low_stock = command.purpose == "low_stock"
    return plan_purchases(
        command.saga_id,
        command.ingredients,
        command.stock_lots,
        command.suppliers,
        command.requirements,
        business_date=command.business_date,
        open_orders=command.open_purchase_orders,
        policy=command.policy,
        calendar=command.calendar,
        stock_floors={floor.ingredient_id: floor.quantity for floor in command.stock_floors},
        occupied_slots=frozenset(
            (order.supplier_id, order.ingredient_id, order.delivery_date) for order in command.open_purchase_orders
        )
        if low_stock
        else frozenset(),
        flag_emergencies=low_stock,
        receipts=command.receipts,
    )
