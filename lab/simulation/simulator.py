"""The day loop: write off, receive, plan and order, make to demand, count; and the warm-up before it.

See the package docstring.

Pure: no I/O, no clock; every random draw comes from streams seeded by the run's seed.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import get_args

from contracts.planning import Supplier
from lab.simulation.demand_csv import csv_truth
from lab.simulation.policies import Policy, PurchasingPolicy, WarmUpPolicy, make_policy
from lab.simulation.report import Ledger, SimulationReport
from lab.simulation.truth import Truth, cheapest_item, initial_lots, synthetic_truth
from lab.simulation.world import QUANTITY_EPSILON, World, delivery_dates
from lab.synthetic import PROFILES, Profile

DEFAULT_START = date(2025, 1, 6)  # a Monday; any fixed date keeps runs reproducible
# Three weeks: the opening stock covers at most 14 days and a purchase line about 8, so every
# ingredient has been reordered on the policy at least once. Stock value and stock on order at the
# end are the same after 14, 21, 28, 42 or 70 days (standard tenants, seeds 1–8); 21 leaves a margin.
WARM_UP_DAYS = 21


def simulate(
    *,
    days: int,
    seed: int,
    profile: Profile,
    policy: Policy,
    demand: Mapping[str, Mapping[date, float]] | None = None,
    start: date | None = None,
    progress: Callable[[int], None] | None = None,
    lead_time_bias_days: Mapping[str, int] | None = None,
    learning: bool = False,
) -> SimulationReport:
    """Run `policy` for `days` days on a synthetic tenant of `profile` (or on `demand`) and measure it.

    Deterministic for its arguments. `progress` is called with the number of days done after each
    day. With `demand`, the simulated period is its last `days` days and `start` must be None.
    `lead_time_bias_days` (supplier_id → days) makes suppliers truly slower than their master data;
    `learning` lets the `bakeplan` policy learn lead times from the receipts of the simulated days
    (docs/learning.md).

    Raises `ValueError` for an unknown policy or profile, `days` < 1, `start` given with `demand`,
    or `demand` too short to leave a day of history, or a bias for an unknown supplier;
    `PlanningError` if a planner rejects the data.
    """
    if policy not in get_args(Policy):
        raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(get_args(Policy))}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    if days < 1:
        raise ValueError(f"days must be at least 1 to simulate anything, got {days}")
    if demand is not None and start is not None:
        raise ValueError("start cannot be given with demand: the simulated period is the demand's last days")
    if demand is not None:
        truth = csv_truth(demand, profile=profile, seed=seed, days=days)
    else:
        truth = synthetic_truth(profile=profile, seed=seed, days=days, start=start or DEFAULT_START)
    if lead_time_bias_days:
        truth = with_slower_suppliers(truth, lead_time_bias_days)
    ledger = run(truth, policy=policy, seed=seed, progress=progress, learning=learning)
    return ledger.report(policy=policy, days=days, seed=seed, profile=profile)


@dataclass(frozen=True)
class Terms:
    """What the day loop looks up about the suppliers: each ingredient's cheapest price (the opening
    stock's value), each item's lead time, and which ingredients perish."""

    prices: Mapping[str, float]
    lead_times: Mapping[tuple[str, str], int]
    suppliers: Mapping[str, Supplier]
    perishable: frozenset[str]
    extra_lead_times: Mapping[str, int]

    @classmethod
    def of(cls, truth: Truth) -> "Terms":
        prices = {}
        for ingredient in truth.ingredients:
            offer = cheapest_item(truth.suppliers, ingredient.ingredient_id)
            prices[ingredient.ingredient_id] = offer[1].unit_price if offer else 0.0
        return cls(
            prices=prices,
            lead_times={
                (s.supplier_id, item.ingredient_id): item.lead_time_days for s in truth.suppliers for item in s.items
            },
            suppliers={supplier.supplier_id: supplier for supplier in truth.suppliers},
            perishable=frozenset(i.ingredient_id for i in truth.ingredients if i.shelf_life_days is not None),
            extra_lead_times=dict(truth.lead_time_bias_days),
        )


def warm_up_days(truth: Truth) -> int:
    """How many days the world runs before `truth.start`: `WARM_UP_DAYS`, but at most half the known
    history, so that the warm-up's first plan still has history to forecast from."""
    return min(WARM_UP_DAYS, truth.day_index(truth.start) // 2)


def warm_world(truth: Truth, terms: Terms, *, seed: int) -> World:
    """The world on the morning of `truth.start`, before that day's write-off and deliveries.

    It opens `warm_up_days(truth)` days earlier with `initial_lots` of that day and lives those days
    of known demand under `WarmUpPolicy` (bakeplan's purchasing, a full plan once a week), with the
    suppliers' random lateness of `seed`. What it ends with (lots of every age, shipments on their
    way) is the state of a bakery that has run on bakeplan's policy for those weeks. Nothing of the
    warm-up is measured.
    """
    days = warm_up_days(truth)
    first = truth.start - timedelta(days=days)
    world = World(truth.ingredients, initial_lots(truth, on=first), terms.prices)
    unmeasured = Ledger(holding_cost_rate_per_year=truth.policy.holding_cost_rate_per_year)
    purchasing = WarmUpPolicy(truth, seed, last_day=truth.start - timedelta(days=1))
    for offset in range(days):
        live_day(truth, world, unmeasured, purchasing, terms, first + timedelta(days=offset), seed=seed)
    return world


def with_slower_suppliers(truth: Truth, lead_time_bias_days: Mapping[str, int]) -> Truth:
    """`truth` whose suppliers truly need the given days more than their master data says; raises
    `ValueError` naming the known suppliers for an unknown one."""
    known = {supplier.supplier_id for supplier in truth.suppliers}
    unknown = sorted(set(lead_time_bias_days) - known)
    if unknown:
        raise ValueError(
            f"unknown supplier(s) {', '.join(unknown)}; the tenant's suppliers: {', '.join(sorted(known))}"
        )
    return replace(truth, lead_time_bias_days=dict(lead_time_bias_days))


def run(
    truth: Truth,
    *,
    policy: Policy,
    seed: int,
    progress: Callable[[int], None] | None = None,
    learning: bool = False,
    on_day: Callable[[date, World], None] | None = None,
) -> Ledger:
    """Simulate `truth.days` days from `truth.start` under `policy`, from the warm world
    (`warm_world`); the ledger holds the totals. The stock on hand at the start counts as received.
    With `learning`, the `bakeplan` policy learns from the receipts booked from `truth.start` on.
    `on_day` sees the world at the end of each simulated day."""
    terms = Terms.of(truth)
    world = warm_world(truth, terms, seed=seed)
    ledger = Ledger(holding_cost_rate_per_year=truth.policy.holding_cost_rate_per_year)
    for ingredient_id, value in world.stock_values().items():
        ledger.received(ingredient_id, value, perishable=ingredient_id in terms.perishable)
    purchasing = make_policy(policy, truth, seed, learning=learning)
    for offset in range(truth.days):
        day = truth.start + timedelta(days=offset)
        live_day(truth, world, ledger, purchasing, terms, day, seed=seed)
        if on_day is not None:
            on_day(day, world)
        if progress is not None:
            progress(offset + 1)
    return ledger


def live_day(
    truth: Truth, world: World, ledger: Ledger, purchasing: PurchasingPolicy, terms: Terms, day: date, *, seed: int
) -> None:
    """One day: write off what expires, receive what arrives, order under `purchasing`, make to demand."""
    ledger.expired(world.write_off(day), terms.perishable)
    for shipment in world.receive(day):
        order = shipment.order
        ledger.received(
            order.ingredient_id, order.quantity * order.unit_price, perishable=order.ingredient_id in terms.perishable
        )
    orders = purchasing.orders(day, world)
    ordering_suppliers = sorted({order.supplier_id for order in orders})
    ledger.ordered(len(ordering_suppliers), sum(terms.suppliers[s].order_cost for s in ordering_suppliers))
    for order in orders:
        planned, arrives = delivery_dates(
            order,
            terms.suppliers[order.supplier_id],
            lead_time_days=terms.lead_times[order.supplier_id, order.ingredient_id],
            ordered_on=day,
            seed=seed,
            extra_lead_time_days=terms.extra_lead_times.get(order.supplier_id, 0),
        )
        world.place(order, ordered_on=day, planned_on=planned, arrives_on=arrives)
    make_to_demand(truth, world, ledger, day)


def make_to_demand(truth: Truth, world: World, ledger: Ledger, day: date) -> None:
    """Bake each product's true demand of `day` as far as the lots allow, products in id order."""
    index = truth.day_index(day)
    needed: dict[str, float] = {}
    demanded: dict[str, int] = {}
    for product in truth.products:
        units = truth.demand[product.product_id][index]
        if units:
            demanded[product.product_id] = units
            for ingredient_id, quantity in truth.use_per_unit.get(product.product_id, {}).items():
                needed[ingredient_id] = needed.get(ingredient_id, 0.0) + units * quantity
    short = [i for i, quantity in needed.items() if quantity > world.on_hand(i) + QUANTITY_EPSILON]
    lost_units = 0.0
    for product in sorted(truth.products, key=lambda p: p.product_id):
        units = demanded.get(product.product_id, 0)
        if not units:
            continue
        use = truth.use_per_unit.get(product.product_id, {})
        makeable = min(
            (world.on_hand(i) / quantity for i, quantity in use.items() if quantity > 0), default=float(units)
        )
        made = max(0.0, min(float(units), makeable))
        for ingredient_id, quantity in use.items():
            world.consume(ingredient_id, min(made * quantity, world.on_hand(ingredient_id)))
        lost = units - made
        lost_units += lost
        ledger.sold(demanded=units, made=made, lost_margin=lost * (product.unit_price - product.unit_cost))
    ledger.end_of_day(
        stock_value=world.stock_value(), lost_units=lost_units, needed=sorted(needed), short=sorted(short)
    )
