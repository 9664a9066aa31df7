"""Supplier terms of one line: minimum order quantity, whole packs, maximum per line, price tiers.

Pure. Quantities in the ingredient's unit. Rules:
- A line orders whole packs: packs = ceil(max(raw, MOQ) / pack_size) (a quotient within 1e-9 of a whole
  number is that number: 2.1 / 0.3 is 7 packs), quantity = packs · pack_size rounded to 3 decimals.
- `max_quantity` caps a line at the largest whole number of packs ≤ max; if that is below the MOQ or
  zero packs, the item cannot make a valid line at all.
- The effective unit price of a line is the price of the tier with the largest `min_quantity` ≤ the
  line quantity, else the item's `unit_price`.
"""

import math
from dataclasses import dataclass

from contracts.planning import SupplierItem

PACK_EPSILON = 1e-9


@dataclass(frozen=True)
class RoundedQuantity:
    """A raw quantity after MOQ, pack and maximum rules; `quantity` is 0 when the item cannot supply."""

    quantity: float
    packs: int
    moq_applied: bool
    max_binding: bool


def packs_for(quantity: float, pack_size: float) -> int:
    """Whole packs needed to reach `quantity` (rounding up, tolerant of float noise)."""
    return max(0, math.ceil(quantity / pack_size - PACK_EPSILON))


def whole_packs(packs: int, pack_size: float) -> float:
    return round(packs * pack_size, 3)


def max_packs(item: SupplierItem) -> int | None:
    """Most whole packs one line may hold; None: no limit."""
    if item.max_quantity is None:
        return None
    return math.floor(item.max_quantity / item.pack_size + PACK_EPSILON)


def round_to_terms(raw: float, item: SupplierItem) -> RoundedQuantity:
    """The smallest allowed line quantity ≥ `raw`, or the largest allowed one if the maximum binds."""
    moq_applied = item.moq > raw
    packs = max(1, packs_for(max(raw, item.moq), item.pack_size))
    limit = max_packs(item)
    max_binding = limit is not None and packs > limit
    if limit is not None and max_binding:
        packs = limit
        if packs < 1 or whole_packs(packs, item.pack_size) < item.moq - PACK_EPSILON:
            return RoundedQuantity(0.0, 0, moq_applied, True)
    return RoundedQuantity(whole_packs(packs, item.pack_size), packs, moq_applied, max_binding)


def effective_unit_price(item: SupplierItem, quantity: float) -> tuple[float, float | None]:
    """(unit price, tier min_quantity or None) for a line of `quantity`."""
    best: tuple[float, float | None] = (item.unit_price, None)
    for tier in item.price_tiers:
        if tier.min_quantity <= quantity + PACK_EPSILON and (best[1] is None or tier.min_quantity > best[1]):
            best = (tier.unit_price, tier.min_quantity)
    return best
