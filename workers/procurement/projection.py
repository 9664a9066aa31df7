"""Day-by-day projection of one ingredient's stock, first-expiry-first-out.

Pure. Days are indices from the business date (0 = business date). A lot is usable on day t when
`arrives <= t < expires`: a lot stops counting ON its expiry day, and an order delivered on day t can
be used that same day. Each day's requirement is taken from the usable lots in order of expiry (then
by `key`, so ties are deterministic); lots that never expire go last. Demand the usable lots cannot
cover is *unmet* that day and is lost (not carried forward).

The projected stock of day t is what is left of the lots usable on day t after its requirement, minus
the unmet demand: negative means a stock-out. The safety stock is held against this number.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# Float noise below this is not a quantity.
QUANTITY_EPSILON = 1e-9

# The expiry index of stock that never expires.
NEVER = 10**9


@dataclass(frozen=True)
class SupplyLot:
    """Stock of one ingredient: a lot on hand, an open order or a planned line (quantities ≥ 0)."""

    arrives: int
    expires: int
    quantity: float
    key: str


@dataclass(frozen=True)
class Projection:
    """Per day: projected stock (all lots), stock without the tracked lot, cumulative use of the tracked lot."""

    stock: list[float]
    others: list[float]
    tracked_used: list[float]
    unmet: list[float]


def project(lots: Sequence[SupplyLot], needs: Sequence[float], *, tracked: SupplyLot | None = None) -> Projection:
    """Project `needs` (one total per day) against `lots`; `tracked` (one of `lots`) is reported apart."""
    # Hot path of the planner (several projections per ingredient): plain lists, no per-day objects.
    ordered = sorted((lot for lot in lots if lot.quantity > 0), key=lambda lot: (lot.expires, lot.key))
    windows = [(index, lot.arrives, lot.expires) for index, lot in enumerate(ordered)]
    left = [lot.quantity for lot in ordered]
    tracked_index = -1 if tracked is None else next(i for i, lot in enumerate(ordered) if lot is tracked)
    stock: list[float] = []
    others: list[float] = []
    tracked_used: list[float] = []
    unmet_by_day: list[float] = []
    used = 0.0
    for day, need in enumerate(needs):
        missing = need
        usable_stock = 0.0
        tracked_left = 0.0
        for index, arrives, expires in windows:
            if not arrives <= day < expires:
                continue
            quantity = left[index]
            if missing > QUANTITY_EPSILON and quantity > 0:
                taken = quantity if quantity < missing else missing
                quantity -= taken
                left[index] = quantity
                missing -= taken
                if index == tracked_index:
                    used += taken
            usable_stock += quantity
            if index == tracked_index:
                tracked_left = quantity
        unmet = missing if missing > QUANTITY_EPSILON else 0.0
        stock.append(usable_stock - unmet)
        others.append(usable_stock - tracked_left - unmet)
        tracked_used.append(used)
        unmet_by_day.append(unmet)
    return Projection(stock, others, tracked_used, unmet_by_day)
