"""Learning each supplier's real lead time and on-time rate from its receipts (docs/learning.md).

Pure: no I/O, no clock. Time is in days.

A receipt (`SupplierReceipt`) of an item whose master-data lead time is L says two things:
- the **lead time** it took, `received_on − ordered_on`, as a deviation from L (pooled over the
  supplier's items: a supplier that is two days slower is two days slower for all it sells);
- whether it was **on time**: `received_on ≤ expected_on`, the date the order asked for.

Per supplier, only its `RECENT_RECEIPTS` latest receipts count (by receipt day), so a supplier that
changes is followed and the snapshot stays small.

Lead time: a normal–inverse-gamma model of the deviation, with the master data as the prior: mean 0
(the master lead time) worth `PRIOR_RECEIPTS` receipts, and a variance prior of shape `PRIOR_SHAPE`
whose mean is the item's master `lead_time_sd_days`². With n deviations of mean x̄:

    mean  = n·x̄ / (k + n)                                   (k = PRIOR_RECEIPTS)
    σ²    = E[σ² | data] = β_n / (α_n − 1),  α_n = α₀ + n/2,
            β_n = (α₀ − 1)·sd₀² + ½·Σ(x − x̄)² + k·n·x̄² / (2(k + n))

so no receipts give the master data exactly, and many give the observed mean and spread. σ_LT is the
spread of the lead time itself (the posterior mean of σ², not the wider predictive spread, which
would change the master figures before any receipt). The plan orders in whole days: the learned lead
time is the item's master lead time plus the mean, rounded half up, never below 0.

On-time rate: a Beta prior worth `ON_TIME_PRIOR_RECEIPTS` receipts at the master `on_time_rate`;
the posterior mean is `(m·r₀ + on_time) / (m + n)`.

The planner plans with the learned suppliers (`learned_suppliers`), so its lead time, σ_LT, delivery
risk and supplier score all use them; each purchase line from a supplier with receipts records where
its lead time came from (`lead_time_facts`), which `bakeplan explain` shows.

A limit: a supplier asked for a date later than it needs delivers on that date, which hides that it
could be faster; so a learned lead time moves down only through receipts ordered at the lead time it
assumed. The planner orders as late as it can, so its orders are those.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from contracts.planning import Fact, Supplier, SupplierItem, SupplierReceipt

RECENT_RECEIPTS = 30
PRIOR_RECEIPTS = 3.0
PRIOR_SHAPE = 2.0
ON_TIME_PRIOR_RECEIPTS = 5.0

LeadTimeSource = Literal["master_data", "learned"]


@dataclass(frozen=True)
class LeadTimePosterior:
    """A lead time's posterior: mean and standard deviation in days (float, before rounding)."""

    mean_days: float
    sd_days: float


def lead_time_posterior(
    master_lead_days: float,
    master_sd_days: float,
    deviations: Sequence[float],
    *,
    prior_receipts: float = PRIOR_RECEIPTS,
) -> LeadTimePosterior:
    """The item's lead time after `deviations` (observed − master lead time, days). None observed:
    `(master_lead_days, master_sd_days)` exactly. Raises `ValueError` for a negative sd or prior weight."""
    if master_sd_days < 0 or prior_receipts <= 0:
        raise ValueError(
            f"master_sd_days must be ≥ 0 and prior_receipts > 0, got {master_sd_days} and {prior_receipts}"
        )
    n = len(deviations)
    if n == 0:
        return LeadTimePosterior(float(master_lead_days), float(master_sd_days))
    mean = math.fsum(deviations) / n
    squares = math.fsum((x - mean) ** 2 for x in deviations)
    alpha = PRIOR_SHAPE + n / 2
    beta = (
        (PRIOR_SHAPE - 1) * master_sd_days**2 + squares / 2 + prior_receipts * n * mean**2 / (2 * (prior_receipts + n))
    )
    shift = n * mean / (prior_receipts + n)
    return LeadTimePosterior(master_lead_days + shift, math.sqrt(beta / (alpha - 1)))


def on_time_posterior(
    master_rate: float, on_time: Sequence[bool], *, prior_receipts: float = ON_TIME_PRIOR_RECEIPTS
) -> float:
    """The on-time rate after the receipts' on-time flags; none: `master_rate` exactly."""
    if not 0 <= master_rate <= 1 or prior_receipts <= 0:
        raise ValueError(f"master_rate must be in [0, 1] and prior_receipts > 0, got {master_rate}, {prior_receipts}")
    if not on_time:
        return master_rate
    return (prior_receipts * master_rate + sum(on_time)) / (prior_receipts + len(on_time))


def whole_days(days: float) -> int:
    """A lead time the plan can order with: rounded half up, never below 0."""
    return max(0, math.floor(days + 0.5))


@dataclass(frozen=True)
class SupplierLearning:
    """What a supplier's receipts taught: how many counted, the mean deviation and spread of their lead
    times from master data, and the on-time rates before (master data) and after."""

    supplier_id: str
    receipts: int
    mean_deviation_days: float
    shift_days: float
    observed_sd_days: float
    master_on_time_rate: float
    on_time_rate: float
    first_received: str
    last_received: str


@dataclass(frozen=True)
class LearnedSuppliers:
    """The suppliers as the plan uses them, and what was learned per supplier with receipts."""

    suppliers: tuple[Supplier, ...]
    learning: Mapping[str, SupplierLearning]
    master: Mapping[tuple[str, str], SupplierItem]

    def facts(self, supplier_id: str, ingredient_id: str) -> dict[str, Fact]:
        """Where the lead time of a line from this supplier item came from, for its reasoning: nothing
        for a supplier without receipts (its lines read as before: master data)."""
        learned = self.learning.get(supplier_id)
        master = self.master.get((supplier_id, ingredient_id))
        if learned is None or master is None:
            return {}
        return {
            "lead_time_source": "learned",
            "lead_time_receipts": learned.receipts,
            "master_lead_time_days": master.lead_time_days,
            "master_sd_lt_days": round(master.lead_time_sd_days, 3),
            "observed_lead_time_mean_days": round(master.lead_time_days + learned.mean_deviation_days, 3),
            "learned_lead_time_mean_days": round(master.lead_time_days + learned.shift_days, 3),
            "observed_lead_time_sd_days": round(learned.observed_sd_days, 3),
            "master_on_time_rate": learned.master_on_time_rate,
            "learned_on_time_rate": round(learned.on_time_rate, 4),
            "receipts_from": learned.first_received,
            "receipts_to": learned.last_received,
        }


def recent(receipts: Sequence[SupplierReceipt], *, limit: int = RECENT_RECEIPTS) -> dict[str, list[SupplierReceipt]]:
    """Per supplier its latest `limit` receipts, oldest first (by receipt day, then expected day,
    ingredient and reference, so the same receipts in any order give the same choice)."""
    by_supplier: dict[str, list[SupplierReceipt]] = defaultdict(list)
    for receipt in receipts:
        by_supplier[receipt.supplier_id].append(receipt)
    return {
        supplier_id: sorted(
            found, key=lambda r: (r.received_on, r.expected_on, r.ordered_on, r.ingredient_id, r.reference)
        )[-limit:]
        for supplier_id, found in sorted(by_supplier.items())
    }


def learned_suppliers(suppliers: Sequence[Supplier], receipts: Sequence[SupplierReceipt]) -> LearnedSuppliers:
    """`suppliers` with lead times, σ_LT and on-time rates learned from `receipts` (module docstring).

    A supplier without receipts is returned as it is (the same object); receipts of a supplier or item
    the master data does not know are ignored (an item no longer sold still teaches its supplier's
    delay when it is known)."""
    master = {(s.supplier_id, item.ingredient_id): item for s in suppliers for item in s.items}
    by_supplier = recent([r for r in receipts if (r.supplier_id, r.ingredient_id) in master])
    result: list[Supplier] = []
    learning: dict[str, SupplierLearning] = {}
    for supplier in suppliers:
        found = by_supplier.get(supplier.supplier_id, [])
        if not found:
            result.append(supplier)
            continue
        deviations = [
            float((r.received_on - r.ordered_on).days - master[r.supplier_id, r.ingredient_id].lead_time_days)
            for r in found
        ]
        on_time = [r.received_on <= r.expected_on for r in found]
        rate = on_time_posterior(supplier.on_time_rate, on_time)
        items = []
        for item in supplier.items:
            posterior = lead_time_posterior(item.lead_time_days, item.lead_time_sd_days, deviations)
            items.append(
                item.model_copy(
                    update={"lead_time_days": whole_days(posterior.mean_days), "lead_time_sd_days": posterior.sd_days}
                )
            )
        result.append(supplier.model_copy(update={"items": tuple(items), "on_time_rate": rate}))
        mean = math.fsum(deviations) / len(deviations)
        learning[supplier.supplier_id] = SupplierLearning(
            supplier_id=supplier.supplier_id,
            receipts=len(found),
            mean_deviation_days=mean,
            shift_days=len(found) * mean / (PRIOR_RECEIPTS + len(found)),
            observed_sd_days=math.sqrt(math.fsum((x - mean) ** 2 for x in deviations) / len(deviations)),
            master_on_time_rate=supplier.on_time_rate,
            on_time_rate=rate,
            first_received=found[0].received_on.isoformat(),
            last_received=found[-1].received_on.isoformat(),
        )
    return LearnedSuppliers(tuple(result), learning, master)
