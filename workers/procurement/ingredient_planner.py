"""Purchase lines for one ingredient: hold projected stock at safety stock, consolidated, within shelf life.

Pure. Days are indices from the business date (see `projection`). Rules, in the order they apply:
1. The best-scored deliverable offer (`sourcing`) is the primary supplier; the safety stock (`inventory_math`)
   uses its lead time. E is the earliest possible delivery of any deliverable offer (`ordering`): stock
   that runs out before the primary can come is bought from whoever comes first.
2. Demand before E that stock cannot meet cannot be saved by a new order. The caller sums it (the
   backlog) into day E's requirement, so the line delivered on E (ordered at once, flagged late)
   makes it up.
3. From E on, the first day whose projected stock is below the safety stock (or, past the horizon, below
   zero) is a need day D. A line is delivered on the latest delivery day ≤ D (still usable on D) and
   covers the days D..C where C = D + consolidation window - 1, stretched to the day before the
   supplier's next delivery (no earlier delivery could replace it) and cut to the horizon and to the
   day before the line's stock would expire, less the days the safety stock lasts (SS ÷ mean daily
   need, rounded up; never before D): first-expiry-first-out uses the older lot's safety stock first,
   so the share this lot carries is used only after the next delivery and needs those days to go.
4. Raw quantity: the least q with which projected stock stays ≥ the safety stock on every day D..C,
   measured by projecting the new lot as unlimited and taking
   q = max(use of the lot by C, max over t of safety stock - other stock(t) + use of the lot by t).
5. Shelf-life cap: what the lot will be used for before it expires (its projected use within the
   horizon plus, past the horizon, the mean daily requirement × share of open days × days left): never
   order more than will be used before it expires. If MOQ/pack rounding exceeds the cap the next offer
   by score whose rounded quantity fits is used; if none fits, the offer with the least expected waste
   (the better-scored on a tie) orders its rounded quantity anyway and the line records
   `shelf_life_cap_exceeded` and the expected waste (a stock-out stops the bakery; a partly wasted pack
   does not).
6. `max_quantity` caps the line to whole packs. With `policy.dual_source` the remainder goes to the next
   offer by score that can deliver in time; otherwise the line records `uncovered_quantity`.
7. A need day no offer can serve (no delivery day in reach with stock still usable on it) gets no line;
   the search moves on to the next day.
"""

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from contracts.planning import Calendar, Fact, Ingredient, PlanningPolicy, Supplier
from workers.procurement.inventory_math import SafetyStock
from workers.procurement.ordering import latest_delivery, next_delivery_after
from workers.procurement.projection import NEVER, QUANTITY_EPSILON, SupplyLot, project
from workers.procurement.sourcing import Offer
from workers.procurement.terms import round_to_terms

# Stands in for "as much as needed" when measuring how much of a new lot would be used.
UNLIMITED = 1e12


@dataclass(frozen=True)
class Reach:
    """An offer with its placement date and earliest possible delivery."""

    offer: Offer
    placed_on: date
    earliest: date


@dataclass
class PlannedLine:
    """A purchase line in the making (quantities in the ingredient's unit)."""

    reach: Reach
    delivery: date
    order_date: date
    late: bool
    quantity: float
    packs: int
    shelf_life_cap: float
    lot: SupplyLot
    covered_to: int
    facts: dict[str, Fact] = field(default_factory=dict)

    @property
    def supplier(self) -> Supplier:
        return self.reach.offer.supplier


@dataclass(frozen=True)
class IngredientInputs:
    ingredient: Ingredient
    needs: list[float]  # per day index, horizon plus any days up to the primary's earliest delivery
    horizon_days: int
    open_share: float  # open days / horizon days, to extrapolate use past the horizon
    lots: list[SupplyLot]  # stock on hand and open orders
    reaches: list[Reach]  # deliverable offers, best first
    safety: SafetyStock
    shelf_life_days: int | None
    shelf_life_source: str
    business_date: date
    policy: PlanningPolicy
    calendar: Calendar
    occupied: frozenset[tuple[str, date]] = frozenset()  # (supplier, delivery) slots with an open line already


def plan_ingredient(inputs: IngredientInputs, backlog: float, initial_stock: list[float]) -> list[PlannedLine]:
    """The lines of one ingredient by the rules in the module docstring.

    `inputs.needs` include the backlog; `initial_stock` is their projected stock before any line. It
    must be exact from the primary's earliest delivery up to the first day short of safety stock;
    later days may be stale (the planner re-projects before reading past that day).
    """
    return _Planner(inputs, backlog).run(initial_stock)


class _Planner:
    def __init__(self, inputs: IngredientInputs, backlog: float) -> None:
        self.inputs = inputs
        self.backlog = backlog
        self.lots = list(inputs.lots)
        self.lines: list[PlannedLine] = []
        self.taken: set[tuple[str, date]] = set(inputs.occupied)
        self.earliest = (min(reach.earliest for reach in inputs.reaches) - inputs.business_date).days

    def target(self, day: int) -> float:
        return self.inputs.safety.quantity if day < self.inputs.horizon_days else 0.0

    def run(self, initial_stock: list[float]) -> list[PlannedLine]:
        cursor = self.earliest
        stock = initial_stock
        while True:
            need_day = next(
                (t for t in range(cursor, len(stock)) if stock[t] < self.target(t) - QUANTITY_EPSILON), None
            )
            if need_day is None:
                return self.lines
            primary = self._choose(need_day, stock[need_day], exclude=None)
            if primary is None:
                cursor = need_day + 1
                stock = project(self.lots, self.inputs.needs).stock  # the caller may pass later days stale
                continue
            self._add(primary)
            covered_to = primary.covered_to
            if primary.facts["max_cap_binding"] and self.inputs.policy.dual_source:
                secondary = self._choose(need_day, stock[need_day], exclude=primary.supplier.supplier_id)
                if secondary is not None:
                    secondary.facts["dual_source_part"] = "secondary"
                    primary.facts["dual_source_part"] = "primary"
                    primary.facts["uncovered_quantity"] = 0.0
                    self._add(secondary)
                    covered_to = max(covered_to, secondary.covered_to)
            cursor = covered_to + 1
            if cursor >= len(self.inputs.needs):
                return self.lines
            stock = project(self.lots, self.inputs.needs).stock

    def _add(self, line: PlannedLine) -> None:
        self.lines.append(line)
        self.lots.append(line.lot)
        self.taken.add((line.supplier.supplier_id, line.delivery))

    def _choose(self, need_day: int, stock_before: float, *, exclude: str | None) -> PlannedLine | None:
        available: list[PlannedLine] = []
        for rank, reach in enumerate(self.inputs.reaches, start=1):
            if reach.offer.supplier.supplier_id == exclude:
                continue
            line = self._size(reach, need_day, stock_before, rank)
            if line is None:
                continue
            if not line.facts["shelf_life_cap_exceeded"]:
                return line
            available.append(line)
        # No offer fits the shelf life: the one that wastes least, the better-scored on a tie.
        return min(available, key=_expected_waste) if available else None

    def _size(self, reach: Reach, need_day: int, stock_before: float, rank: int) -> PlannedLine | None:
        inputs = self.inputs
        item = reach.offer.item
        supplier = reach.offer.supplier
        need_date = inputs.business_date + timedelta(days=need_day)
        shelf = inputs.shelf_life_days
        not_before = reach.earliest
        if shelf is not None:
            not_before = max(not_before, need_date - timedelta(days=shelf - 1))
        delivery = latest_delivery(supplier, need_day=need_date, not_before=not_before, calendar=inputs.calendar)
        if delivery is None or (supplier.supplier_id, delivery) in self.taken:
            return None
        arrives = (delivery - inputs.business_date).days
        expires = NEVER if shelf is None else arrives + shelf
        last_day = len(inputs.needs) - 1
        covered_to = need_day + max(inputs.policy.consolidation_window_days, 1) - 1
        following = next_delivery_after(supplier, delivery, calendar=inputs.calendar)
        if following is not None:
            covered_to = max(covered_to, (following - inputs.business_date).days - 1)
        covered_to = min(covered_to, expires - 1, last_day)
        if expires != NEVER and inputs.safety.mean_demand_per_day > QUANTITY_EPSILON:
            # FEFO uses the older lot's safety stock first, so this lot's own share of safety stock is
            # used only after the next delivery: leave it the days to do that before it expires.
            safety_days = math.ceil(inputs.safety.quantity / inputs.safety.mean_demand_per_day - 1e-9)
            covered_to = max(need_day, min(covered_to, expires - 1 - safety_days))

        key = f"plan:{delivery.isoformat()}:{supplier.supplier_id}:{reach.offer.position}"
        probe = SupplyLot(arrives, expires, UNLIMITED, key)
        measured = project([*self.lots, probe], inputs.needs, tracked=probe)
        used = measured.tracked_used
        raw = used[covered_to]
        for t in range(need_day, covered_to + 1):
            raw = max(raw, self.target(t) - measured.others[t] + used[t])
        # Up to the next thousandth, so that rounding never leaves the target a hair short.
        raw = math.ceil(raw * 1000 - 1e-6) / 1000
        rounded = round_to_terms(raw, item)
        if rounded.quantity <= 0:
            return None

        cap = math.inf
        if expires != NEVER:
            used_in_arrays = used[min(expires, len(used)) - 1]
            days_past = max(0, expires - len(inputs.needs))
            cap = used_in_arrays + inputs.safety.mean_demand_per_day * inputs.open_share * days_past
        over_cap = rounded.quantity > cap + 1e-6
        late = self.backlog > QUANTITY_EPSILON and need_day == self.earliest
        order_date = reach.placed_on if late else delivery - timedelta(days=item.lead_time_days)
        uncovered = max(0.0, raw - rounded.quantity) if rounded.max_binding else 0.0
        safety = inputs.safety
        facts: dict[str, Fact] = {
            "need_date": need_date.isoformat(),
            "need": round(inputs.needs[need_day] - (self.backlog if late else 0.0), 3),
            "projected_stock_before": round(stock_before, 3),
            "safety_stock": round(safety.quantity, 3),
            "safety_stock_method": safety.method,
            "z": None if safety.z is None else round(safety.z, 4),
            "mean_demand_per_day": round(safety.mean_demand_per_day, 3),
            "sd_d": None if safety.demand_sd_per_day is None else round(safety.demand_sd_per_day, 3),
            "lead_time_days": item.lead_time_days,
            "sd_lt_days": round(item.lead_time_sd_days, 3),
            "protection_days": round(safety.lead_time_days, 3),
            "sd_lt_with_delivery_risk_days": round(safety.lead_time_sd_days, 3),
            "earliest_delivery": reach.earliest.isoformat(),
            "coverage_from": need_date.isoformat(),
            "coverage_to": (inputs.business_date + timedelta(days=covered_to)).isoformat(),
            "consolidated_days": covered_to - need_day + 1,
            "raw_quantity": raw,
            "moq": item.moq,
            "moq_applied": rounded.moq_applied,
            "pack_size": item.pack_size,
            "packs": rounded.packs,
            "max_quantity": item.max_quantity,
            "max_cap_binding": rounded.max_binding,
            "uncovered_quantity": round(uncovered, 3),
            "shelf_life_days": shelf,
            "shelf_life_source": inputs.shelf_life_source,
            "shelf_life_cap": None if cap == math.inf else round(cap, 3),
            "shelf_life_cap_exceeded": over_cap,
            "expected_waste": round(max(0.0, rounded.quantity - cap), 3) if over_cap else 0.0,
            "supplier_score": reach.offer.score,
            "supplier_rank": rank,
            "late": late,
            "backlog": round(self.backlog, 3) if late else 0.0,
            "dual_source_part": None,
        }
        lot = SupplyLot(arrives, expires, rounded.quantity, key)
        return PlannedLine(
            reach, delivery, order_date, late, rounded.quantity, rounded.packs, cap, lot, covered_to, facts
        )


def _expected_waste(line: PlannedLine) -> float:
    waste = line.facts["expected_waste"]
    assert isinstance(waste, float | int), "every sized line records its expected waste"
    return float(waste)
