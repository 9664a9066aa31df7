"""The learning test (issue 15, docs/learning.md): a supplier truly slower than its master data, planned
with and without learning from receipts, on the same world.

`learning_trial` runs the `bakeplan` policy twice over the same days, demand and supplier luck, with
one supplier truly needing `extra_days` more than its master data says: once planning on master
data alone, once learning lead times from the receipts the world books from the first simulated day
on (the world's goods-in makes them as the live system's does, and the morning snapshot carries them:
`policies.morning_snapshot`); and a third time with the supplier as punctual as its master data says,
for reference. It reports the fill rates of both, on the whole run and from the morning
the learning plan first orders with the learned lead time (master + `extra_days` for every item of
the supplier), and how many of the supplier's receipts it had learned from by then (N).

Pure: no I/O, no clock; deterministic for its arguments.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from lab.simulation.policies import BakeplanPolicy
from lab.simulation.report import Ledger
from lab.simulation.simulator import DEFAULT_START, Terms, live_day, warm_world, with_slower_suppliers
from lab.simulation.truth import Truth, synthetic_truth
from lab.synthetic import Profile
from workers.procurement.lead_time_learning import learned_suppliers, whole_days


@dataclass(frozen=True)
class Run:
    """One run's fill rates: over every day, and before and after `LearningTrial.learned_on`."""

    fill_rate: float
    fill_rate_before: float | None
    fill_rate_after: float | None
    stockout_days: int


@dataclass(frozen=True)
class LearningTrial:
    profile: str
    seed: int
    days: int
    supplier_id: str
    supplier_name: str
    extra_days: int
    learned_on: date | None
    """The first morning whose plan orders from the supplier with master + `extra_days` (None: never)."""
    receipts_when_learned: int | None
    """N: the supplier's receipts the plan had learned from on that morning."""
    without_learning: Run
    with_learning: Run
    punctual: Run
    """The same days with the supplier as fast as its master data says, planned on master data: the
    fill rate the late supplier costs."""


def slowed_supplier(truth: Truth) -> str:
    """The supplier the trial slows by default: the one offering most of the tenant's used ingredients
    (ties: the smaller id), so that its lead time matters to the plan."""
    used = {ingredient for per_unit in truth.use_per_unit.values() for ingredient in per_unit}
    return min(
        truth.suppliers, key=lambda s: (-sum(item.ingredient_id in used for item in s.items), s.supplier_id)
    ).supplier_id


@dataclass
class _Day:
    demanded: float
    made: float
    stockout: bool


def _run(truth: Truth, *, seed: int, learning: bool) -> tuple[list[_Day], dict[date, int]]:
    """The per-day figures of one run, and for each morning the number of the slowed supplier's
    receipts whose learned shift rounds to its true extra days (only with `learning`)."""
    terms = Terms.of(truth)
    world = warm_world(truth, terms, seed=seed)
    ledger = Ledger(holding_cost_rate_per_year=truth.policy.holding_cost_rate_per_year)
    policy = BakeplanPolicy(truth, seed, learning=learning)
    supplier_id, extra = next(iter(truth.lead_time_bias_days.items()), ("", 0))
    days: list[_Day] = []
    learned: dict[date, int] = {}
    for offset in range(truth.days):
        day = truth.start + timedelta(days=offset)
        before = (ledger.units_demanded, ledger.units_made, ledger.stockout_days)
        live_day(truth, world, ledger, policy, terms, day, seed=seed)
        if learning:  # the receipts booked by this morning: what its plan learned from
            learning_now = learned_suppliers(truth.suppliers, world.receipts(since=truth.start)).learning
            found = learning_now.get(supplier_id)
            if found is not None and whole_days(found.shift_days) >= extra:
                learned[day] = found.receipts
        days.append(
            _Day(
                ledger.units_demanded - before[0],
                ledger.units_made - before[1],
                ledger.stockout_days > before[2],
            )
        )
    return days, learned


def _fill(days: list[_Day]) -> float | None:
    demanded = sum(d.demanded for d in days)
    return None if demanded == 0 else round(sum(d.made for d in days) / demanded, 4)


def learning_trial(
    *,
    profile: Profile = "small",
    seed: int = 1,
    days: int = 56,
    extra_days: int = 2,
    supplier_id: str | None = None,
    start: date = DEFAULT_START,
) -> LearningTrial:
    """Both runs on a synthetic tenant whose `supplier_id` (default: `slowed_supplier`) truly needs
    `extra_days` more than its master data says (module docstring). Raises `ValueError` for an
    unknown supplier or `days` < 1."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    punctual_truth = synthetic_truth(profile=profile, seed=seed, days=days, start=start)
    chosen = supplier_id or slowed_supplier(punctual_truth)
    truth = with_slower_suppliers(punctual_truth, {chosen: extra_days})
    punctual, _ = _run(punctual_truth, seed=seed, learning=False)
    plain, _ = _run(truth, seed=seed, learning=False)
    learning, learned = _run(truth, seed=seed, learning=True)
    learned_on = min(learned, default=None)
    cut = None if learned_on is None else (learned_on - truth.start).days

    def summary(run: list[_Day]) -> Run:
        return Run(
            fill_rate=_fill(run) or 0.0,
            fill_rate_before=None if cut is None else _fill(run[:cut]),
            fill_rate_after=None if cut is None else _fill(run[cut:]),
            stockout_days=sum(d.stockout for d in run),
        )

    return LearningTrial(
        profile=profile,
        seed=seed,
        days=days,
        supplier_id=chosen,
        supplier_name=next(s.name for s in truth.suppliers if s.supplier_id == chosen),
        extra_days=extra_days,
        learned_on=learned_on,
        receipts_when_learned=None if learned_on is None else learned[learned_on],
        without_learning=summary(plain),
        with_learning=summary(learning),
        punctual=summary(punctual),
    )
