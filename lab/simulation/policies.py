"""The four purchasing policies a run can use, behind one `orders(day, world)` method.

Pure: no I/O, no clock. `bakeplan` runs the whole daily plan on what a tenant would know that
morning; `perfect` runs only the procurement step on the true future needs (an upper bound);
`minmax` and `reorder-level` are the ERP rules in `baselines`. `WarmUpPolicy` is bakeplan at a
lower cost, for the weeks a world runs before its first day (`simulator.warm_world`).
"""

from datetime import date, timedelta
from typing import Literal, Protocol, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.planning import IngredientRequirement, PlanningSnapshot, PurchaseLine
from lab.simulation.baselines import RulePolicy, minmax_order_quantity, reorder_level_quantity
from lab.simulation.truth import Truth
from lab.simulation.world import Order, World
from workers.chain import plan_snapshot, purchase_for, schedule_snapshot
from workers.procurement.replenishment import plan_purchases

Policy = Literal["bakeplan", "minmax", "reorder-level", "perfect"]
POLICIES: tuple[str, ...] = get_args(Policy)
HORIZON_DAYS = 14
# The warm-up's full plan (forecast and schedule) is made once a week; purchasing runs every day.
REPLAN_EVERY_DAYS = 7
_SAGA_NAMESPACE = uuid5(NAMESPACE_URL, "https://bakeplan.invalid/simulation")


class PurchasingPolicy(Protocol):
    def orders(self, day: date, world: World) -> list[Order]:
        """The lines to place this morning, given the stock and shipments the bakery knows of."""
        ...


def saga_id_for(seed: int, day: date) -> UUID:
    """A deterministic saga id per run seed and simulated day (the planners derive line ids from it)."""
    return uuid5(_SAGA_NAMESPACE, f"{seed}:{day.isoformat()}")


def _placed_today(lines: tuple[PurchaseLine, ...], day: date) -> list[Order]:
    """Lines due today or overdue (order_date <= day); later ones are re-planned tomorrow."""
    return [
        Order(
            supplier_id=line.supplier_id,
            ingredient_id=line.ingredient_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            delivery_date=line.delivery_date,
        )
        for line in lines
        if line.order_date <= day
    ]


def morning_snapshot(
    truth: Truth, day: date, world: World, *, horizon_days: int = HORIZON_DAYS, learning: bool = False
) -> PlanningSnapshot:
    """What the bakery knows on the morning of `day`: sales up to yesterday, its lots and open orders;
    with `learning`, the receipts booked from `truth.start` on (as the live snapshot reads them)."""
    return PlanningSnapshot(
        tenant_id=truth.tenant_id,
        business_date=day,
        horizon_days=horizon_days,
        products=truth.products,
        recipes=truth.recipes,
        ingredients=truth.ingredients,
        stock_lots=world.stock_lots(),
        suppliers=truth.suppliers,
        sales=truth.sales_before(day),
        calendar=truth.calendar,
        components=truth.components,
        capacity=truth.capacity,
        open_purchase_orders=world.open_orders(day),
        policy=truth.policy,
        receipts=world.receipts(since=truth.start) if learning else (),
    )


class BakeplanPolicy:
    """`plan_snapshot` on a snapshot of the morning: sales up to yesterday, lots, open orders, horizon 14;
    with `learning`, the receipts of the simulated days too. `last_lines` are the morning's lines."""

    def __init__(self, truth: Truth, seed: int, *, learning: bool = False):
        self._truth = truth
        self._seed = seed
        self._learning = learning
        self.last_lines: tuple[PurchaseLine, ...] = ()

    def orders(self, day: date, world: World) -> list[Order]:
        snapshot = morning_snapshot(self._truth, day, world, learning=self._learning)
        plan = plan_snapshot(snapshot, saga_id=saga_id_for(self._seed, day))
        self.last_lines = plan.purchase_lines
        return _placed_today(plan.purchase_lines, day)


class WarmUpPolicy:
    """bakeplan's purchasing every morning, on the requirements of a full plan made once a week.

    A full plan (forecast and schedule) costs 3–5 times what purchasing alone does, so the warm-up
    makes it every `REPLAN_EVERY_DAYS` days, counted back from `last_day` (so the last morning before
    the first real plan has a fresh one), over a horizon long enough to cover 14 days ahead of every
    morning until the next. Each morning then plans purchasing (the procurement worker's own
    function) on the next `HORIZON_DAYS` days of those requirements with that morning's lots and
    open orders, and places what is due today or overdue, like `BakeplanPolicy`.
    """

    def __init__(self, truth: Truth, seed: int, *, last_day: date):
        self._truth = truth
        self._seed = seed
        self._last_day = last_day
        self._requirements: tuple[IngredientRequirement, ...] | None = None

    def orders(self, day: date, world: World) -> list[Order]:
        saga_id = saga_id_for(self._seed, day)
        snapshot = morning_snapshot(self._truth, day, world, horizon_days=HORIZON_DAYS + REPLAN_EVERY_DAYS - 1)
        if self._requirements is None or (self._last_day - day).days % REPLAN_EVERY_DAYS == 0:
            self._requirements = schedule_snapshot(snapshot, saga_id=saga_id)[1].requirements
        until = day + timedelta(days=HORIZON_DAYS)
        ahead = tuple(r for r in self._requirements if day <= r.day < until)
        return _placed_today(purchase_for(snapshot, ahead, saga_id=saga_id), day)


class PerfectPolicy:
    """The procurement step fed with the true ingredient needs of the next 14 days (quantity_sd = 0)."""

    def __init__(self, truth: Truth, seed: int):
        self._truth = truth
        self._seed = seed

    def orders(self, day: date, world: World) -> list[Order]:
        t = self._truth
        requirements = sorted(
            (
                IngredientRequirement(
                    ingredient_id=ingredient_id, day=need_day, quantity=round(quantity, 3), quantity_sd=0.0
                )
                for ingredient_id, by_day in t.ingredient_needs(day, HORIZON_DAYS).items()
                for need_day, quantity in by_day.items()
                if round(quantity, 3) > 0
            ),
            key=lambda r: (r.day, r.ingredient_id),
        )
        lines = plan_purchases(
            saga_id_for(self._seed, day),
            t.ingredients,
            world.stock_lots(),
            t.suppliers,
            requirements,
            business_date=day,
            open_orders=world.open_orders(day),
            policy=t.policy,
            calendar=t.calendar,
        )
        return _placed_today(lines, day)


def make_policy(policy: Policy, truth: Truth, seed: int, *, learning: bool = False) -> PurchasingPolicy:
    """The policy called `policy`; raises `ValueError` naming the choices for an unknown one, or for
    `learning` with a policy that does not learn (only `bakeplan` does)."""
    if learning and policy != "bakeplan":
        raise ValueError(f"policy {policy!r} does not learn lead times; learning works with the bakeplan policy")
    if policy == "bakeplan":
        return BakeplanPolicy(truth, seed, learning=learning)
    if policy == "perfect":
        return PerfectPolicy(truth, seed)
    if policy == "minmax":
        return RulePolicy(truth, minmax_order_quantity)
    if policy == "reorder-level":
        return RulePolicy(truth, reorder_level_quantity)
    raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")


__all__ = [
    "HORIZON_DAYS",
    "POLICIES",
    "BakeplanPolicy",
    "Policy",
    "PurchasingPolicy",
    "WarmUpPolicy",
    "make_policy",
    "morning_snapshot",
    "saga_id_for",
]
