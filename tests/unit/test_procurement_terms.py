"""Unit tests of supplier line terms and supplier scoring in isolation."""

import pytest

from contracts.planning import PriceTier, Supplier, SupplierItem
from workers.procurement.sourcing import offers_by_ingredient, rank_offers
from workers.procurement.terms import effective_unit_price, round_to_terms

pytestmark = pytest.mark.unit


def an_item(
    *, moq: float = 0, pack_size: float = 1, max_quantity: float | None = None, price: float = 1.0
) -> SupplierItem:
    return SupplierItem(
        ingredient_id="flour",
        unit_price=price,
        lead_time_days=1,
        moq=moq,
        pack_size=pack_size,
        max_quantity=max_quantity,
        price_tiers=(PriceTier(min_quantity=100, unit_price=0.7), PriceTier(min_quantity=50, unit_price=0.8)),
    )


def test_the_maximum_rounds_down_to_whole_packs() -> None:
    rounded = round_to_terms(100, an_item(pack_size=25, max_quantity=60))

    assert (rounded.quantity, rounded.packs, rounded.max_binding) == (50, 2, True)


def test_an_item_whose_maximum_is_below_its_moq_cannot_supply() -> None:
    rounded = round_to_terms(5, an_item(moq=30, pack_size=10, max_quantity=25))

    assert (rounded.quantity, rounded.packs) == (0, 0)


def test_a_tiny_need_still_orders_one_pack() -> None:
    rounded = round_to_terms(0.001, an_item(pack_size=25))

    assert (rounded.quantity, rounded.packs, rounded.moq_applied) == (25, 1, False)


@pytest.mark.parametrize(
    ("quantity", "price", "tier"), [(49.9, 1.0, None), (50, 0.8, 50), (99, 0.8, 50), (100, 0.7, 100)]
)
def test_the_tier_with_the_largest_minimum_reached_sets_the_price(
    quantity: float, price: float, tier: float | None
) -> None:
    assert effective_unit_price(an_item(), quantity) == (price, tier)


def test_every_item_of_every_supplier_is_an_offer_ranked_by_score() -> None:
    cheap = Supplier(supplier_id="b", name="B", items=(an_item(price=0.5),), quality_score=0.0)
    dear = Supplier(supplier_id="a", name="A", items=(an_item(price=1.0),))

    ranked = rank_offers(offers_by_ingredient((cheap, dear))["flour"], typical_quantity=10)

    # b: 0.5 + 0.2 + 0.2 + 0 = 0.9; a: 0.25 + 0.2 + 0.2 + 0.1 = 0.75
    assert [(offer.supplier.supplier_id, offer.score) for offer in ranked] == [("b", 0.9), ("a", 0.75)]
