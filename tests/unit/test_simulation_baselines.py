"""Known-answer tests of the ERP reorder rules the simulation compares bakeplan against."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.planning import PriceTier, SupplierItem
from lab.simulation.baselines import (
    minmax_order_quantity,
    reorder_level_quantity,
    tier_price,
    to_supplier_terms,
)

pytestmark = pytest.mark.unit


def an_item(*, moq: float = 0, pack_size: float = 25) -> SupplierItem:
    return SupplierItem(ingredient_id="flour", unit_price=1.0, lead_time_days=2, moq=moq, pack_size=pack_size)


def test_minmax_orders_up_to_max_in_whole_packs_when_below_min() -> None:
    # min = 10 × (2 + 2) = 40; max = 40 + 7 × 10 = 110; 110 − 30 = 80 → 4 packs of 25
    assert minmax_order_quantity(daily_use=10, lead_time_days=2, position=30, item=an_item()) == 100


def test_minmax_orders_nothing_at_min_or_without_use() -> None:
    assert minmax_order_quantity(daily_use=10, lead_time_days=2, position=40, item=an_item()) == 0
    assert minmax_order_quantity(daily_use=0, lead_time_days=2, position=-5, item=an_item()) == 0


def test_minmax_raises_a_small_order_to_the_moq() -> None:
    # max − position = 110 − 39 = 71 < MOQ 150 → 150 (6 packs)
    assert minmax_order_quantity(daily_use=10, lead_time_days=2, position=39, item=an_item(moq=150)) == 150


def test_reorder_level_orders_the_reorder_qty_at_the_level() -> None:
    # level = 10 × (2 + 1) = 30; projected 30 <= level → max(70, 0) = 70 → 7 packs of 10
    assert reorder_level_quantity(daily_use=10, lead_time_days=2, position=30, item=an_item(pack_size=10)) == 70


def test_reorder_level_orders_the_gap_when_it_exceeds_the_reorder_qty() -> None:
    # level = 10 × (9 + 1) = 100; projected 20 → max(70, 80) = 80 → 4 packs of 25 = 100
    assert reorder_level_quantity(daily_use=10, lead_time_days=9, position=20, item=an_item()) == 100


def test_reorder_level_orders_nothing_above_the_level() -> None:
    assert reorder_level_quantity(daily_use=10, lead_time_days=2, position=30.5, item=an_item()) == 0


def test_tier_price_is_the_largest_reached_tier() -> None:
    item = an_item().model_copy(
        update={
            "price_tiers": (PriceTier(min_quantity=100, unit_price=0.9), PriceTier(min_quantity=300, unit_price=0.8))
        }
    )

    assert [tier_price(item, q) for q in (99, 100, 299, 300, 1000)] == [1.0, 0.9, 0.9, 0.8, 0.8]


@given(
    quantity=st.floats(min_value=0.001, max_value=10_000),
    moq_packs=st.integers(min_value=0, max_value=5),
    pack_size=st.sampled_from([0.5, 1.0, 2.5, 10.0, 25.0, 30.0]),
)
def test_supplier_terms_cover_the_quantity_the_moq_in_whole_packs(
    quantity: float, moq_packs: int, pack_size: float
) -> None:
    item = an_item(moq=moq_packs * pack_size, pack_size=pack_size)

    ordered = to_supplier_terms(quantity, item)

    assert ordered >= quantity - 1e-9
    assert ordered >= item.moq
    assert ordered / pack_size == pytest.approx(round(ordered / pack_size))
    assert ordered - pack_size < max(quantity, item.moq)  # no pack more than needed
