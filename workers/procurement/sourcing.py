"""Which supplier an ingredient is bought from: a weighted score over price, lead time and reliability.

Pure. Every supplier item for the ingredient is an offer. Criteria, each normalised to [0, 1] with 1
best, and weights:
- price (0.5): the effective unit price, tiers included, of a typical line — the ingredient's mean
  daily requirement times the consolidation window (at least one day), rounded to the item's terms —
  as cheapest / this (1 when both are free, 0 when only the cheapest is free);
- lead time (0.2): (1 + shortest lead time) / (1 + this lead time);
- on-time rate (0.2): `Supplier.on_time_rate` as is;
- quality (0.1): `Supplier.quality_score` as is.
The score is rounded to 6 decimals; ties go to the smaller supplier_id (then the item's position in
the supplier's list). The best offer is the single source; the rest are fallbacks in score order.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.planning import Supplier, SupplierItem
from workers.procurement.terms import effective_unit_price, round_to_terms

PRICE_WEIGHT = 0.5
LEAD_TIME_WEIGHT = 0.2
ON_TIME_WEIGHT = 0.2
QUALITY_WEIGHT = 0.1


@dataclass(frozen=True)
class Offer:
    supplier: Supplier
    item: SupplierItem
    position: int
    typical_price: float
    score: float


def offers_by_ingredient(suppliers: Sequence[Supplier]) -> dict[str, list[tuple[Supplier, SupplierItem, int]]]:
    """Every (supplier, item, position) offering each ingredient, in input order."""
    offers: dict[str, list[tuple[Supplier, SupplierItem, int]]] = {}
    for supplier in suppliers:
        for position, item in enumerate(supplier.items):
            offers.setdefault(item.ingredient_id, []).append((supplier, item, position))
    return offers


def rank_offers(offers: Sequence[tuple[Supplier, SupplierItem, int]], *, typical_quantity: float) -> list[Offer]:
    """Offers best first by the weighted score in the module docstring."""
    if not offers:
        return []
    prices = []
    for _, item, _ in offers:
        rounded = round_to_terms(typical_quantity, item)
        prices.append(effective_unit_price(item, rounded.quantity or item.pack_size)[0])
    cheapest = min(prices)
    fastest = min(item.lead_time_days for _, item, _ in offers)
    ranked = []
    for (supplier, item, position), price in zip(offers, prices, strict=True):
        price_score = 1.0 if price <= cheapest else (cheapest / price if price > 0 else 1.0)
        lead_score = (1 + fastest) / (1 + item.lead_time_days)
        score = (
            PRICE_WEIGHT * price_score
            + LEAD_TIME_WEIGHT * lead_score
            + ON_TIME_WEIGHT * supplier.on_time_rate
            + QUALITY_WEIGHT * supplier.quality_score
        )
        ranked.append(Offer(supplier, item, position, price, round(score, 6)))
    ranked.sort(key=lambda offer: (-offer.score, offer.supplier.supplier_id, offer.position))
    return ranked
