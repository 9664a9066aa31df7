"""What a simulation run measures: service, waste, inventory and the costs that add up to `total_cost`.

Pure: no I/O, no clock. Money is in the tenant's currency; rates are shares in [0, 1].
"""

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from lab.simulation.world import Expired


@dataclass(frozen=True)
class SimulationReport:
    """The outcome of one run; money rounded to cents, rates to 4 decimals.

    `total_cost = ordering_cost + holding_cost + lost_sales_value + waste_value`, exactly (the goods bought are
    paid under every policy, so they are not a cost of the policy; what is wasted of them is).
    """

    policy: str
    days: int
    seed: int
    profile: str
    fill_rate: float
    cycle_service_level: float
    stockout_days: int
    waste_rate: float
    waste_value: float
    avg_inventory_value: float
    ordering_cost: float
    holding_cost: float
    lost_sales_value: float
    total_cost: float
    orders: int


@dataclass
class _Cycle:
    needed: bool = False
    short: bool = False


@dataclass
class Ledger:
    """Running totals of one run; `report` turns them into a `SimulationReport`."""

    holding_cost_rate_per_year: float
    units_demanded: float = 0.0
    units_made: float = 0.0
    stockout_days: int = 0
    lost_sales_value: float = 0.0
    waste_value: float = 0.0
    perishable_received_value: float = 0.0
    perishable_expired_value: float = 0.0
    orders: int = 0
    ordering_cost: float = 0.0
    holding_cost: float = 0.0
    stock_value_sum: float = 0.0
    days: int = 0
    cycles: int = 0
    cycles_without_stockout: int = 0
    _open_cycles: dict[str, _Cycle] = field(default_factory=dict)

    def received(self, ingredient_id: str, value: float, *, perishable: bool) -> None:
        """Stock came in (a delivery, or the opening stock); a delivery also starts a new cycle."""
        if perishable:
            self.perishable_received_value += value
        self._close_cycle(ingredient_id)

    def expired(self, lots: Iterable[Expired], perishable: AbstractSet[str]) -> None:
        for lot in lots:
            self.waste_value += lot.value
            if lot.ingredient_id in perishable:
                self.perishable_expired_value += lot.value

    def ordered(self, supplier_orders: int, cost: float) -> None:
        self.orders += supplier_orders
        self.ordering_cost += cost

    def sold(self, *, demanded: float, made: float, lost_margin: float) -> None:
        """One product's day: `lost_margin` is the lost units × (unit_price − unit_cost)."""
        self.units_demanded += demanded
        self.units_made += made
        self.lost_sales_value += lost_margin

    def end_of_day(self, *, stock_value: float, lost_units: float, needed: Iterable[str], short: Iterable[str]) -> None:
        """Close a day: end-of-day stock value, whether any sale was lost, which ingredients ran short."""
        self.days += 1
        self.stock_value_sum += stock_value
        self.holding_cost += stock_value * self.holding_cost_rate_per_year / 365
        if lost_units > 1e-9:
            self.stockout_days += 1
        for ingredient_id in needed:
            self._open_cycles.setdefault(ingredient_id, _Cycle()).needed = True
        for ingredient_id in short:
            self._open_cycles.setdefault(ingredient_id, _Cycle()).short = True

    def _close_cycle(self, ingredient_id: str) -> None:
        cycle = self._open_cycles.pop(ingredient_id, None)
        if cycle is not None and cycle.needed:
            self.cycles += 1
            self.cycles_without_stockout += not cycle.short

    def report(self, *, policy: str, days: int, seed: int, profile: str) -> SimulationReport:
        for ingredient_id in sorted(self._open_cycles):
            self._close_cycle(ingredient_id)
        # The total is the sum of the rounded parts, so the report adds up to the cent.
        parts = [
            round(part, 2) for part in (self.ordering_cost, self.holding_cost, self.lost_sales_value, self.waste_value)
        ]
        total = sum(parts)
        return SimulationReport(
            policy=policy,
            days=days,
            seed=seed,
            profile=profile,
            fill_rate=round(self.units_made / self.units_demanded, 4) if self.units_demanded else 1.0,
            cycle_service_level=round(self.cycles_without_stockout / self.cycles, 4) if self.cycles else 1.0,
            stockout_days=self.stockout_days,
            waste_rate=(
                round(self.perishable_expired_value / self.perishable_received_value, 4)
                if self.perishable_received_value
                else 0.0
            ),
            waste_value=round(self.waste_value, 2),
            avg_inventory_value=round(self.stock_value_sum / self.days, 2) if self.days else 0.0,
            ordering_cost=round(self.ordering_cost, 2),
            holding_cost=round(self.holding_cost, 2),
            lost_sales_value=round(self.lost_sales_value, 2),
            total_cost=round(total, 2),
            orders=self.orders,
        )
