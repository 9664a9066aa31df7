"""Unit tests of the inventory formulas and the per-ingredient safety-stock choice."""

import math

import pytest

from workers.procurement.inventory_math import (
    PERCENTAGE_OF_LEAD_TIME_DEMAND,
    plan_safety_stock,
    service_z,
)
from workers.procurement.replenishment import economic_order_quantity, reorder_point, safety_stock

pytestmark = pytest.mark.unit


def test_safety_stock_with_certain_lead_time() -> None:
    assert safety_stock(service_level=0.95, demand_sd_per_day=20, lead_time_days=3, mean_demand_per_day=100) == (
        pytest.approx(56.98, abs=0.005)
    )


def test_safety_stock_and_reorder_point_with_uncertain_lead_time() -> None:
    arguments = {
        "service_level": 0.90,
        "mean_demand_per_day": 50.0,
        "demand_sd_per_day": 5.0,
        "lead_time_days": 6.0,
        "lead_time_sd_days": 2.0,
    }

    assert safety_stock(**arguments) == pytest.approx(129.11, abs=0.005)
    assert reorder_point(**arguments) == pytest.approx(429.11, abs=0.005)


def test_economic_order_quantity() -> None:
    eoq = economic_order_quantity(annual_demand=50_000, order_cost=20, holding_cost_per_unit_year=0.25)

    assert eoq == pytest.approx(2828.4, abs=0.05)


def test_eoq_needs_a_positive_holding_cost() -> None:
    with pytest.raises(ValueError, match="holding cost"):
        economic_order_quantity(annual_demand=100, order_cost=5, holding_cost_per_unit_year=0)


def test_z_comes_from_the_normal_distribution_not_a_table() -> None:
    assert service_z(0.95) == pytest.approx(1.6448536, abs=1e-6)
    assert service_z(0.5) == 0.0
    with pytest.raises(ValueError, match="service level"):
        service_z(1.0)


def test_statistical_method_aggregates_daily_deviations_over_open_days() -> None:
    # Two open days at 100 ± 20 (sd of 12 and 16 within one day add in quadrature), two open days empty.
    safety = plan_safety_stock(
        [100.0, 100.0, 0.0, 0.0],
        [20.0, math.hypot(12, 16), 0.0, 0.0],
        open_days=4,
        service_level=0.95,
        lead_time_days=2,
        lead_time_sd_days=0.0,
    )

    assert safety.method == "statistical"
    assert safety.mean_demand_per_day == 50
    assert safety.demand_sd_per_day == pytest.approx(math.sqrt((400 + 400) / 4))
    assert safety.quantity == pytest.approx(1.6448536 * math.sqrt(2 * 200), abs=1e-4)


def test_percentage_method_when_a_deviation_is_unknown() -> None:
    safety = plan_safety_stock(
        [30.0, 30.0], None, open_days=2, service_level=0.95, lead_time_days=4, lead_time_sd_days=1.0
    )

    assert (safety.method, safety.z, safety.demand_sd_per_day) == ("percentage", None, None)
    assert safety.quantity == pytest.approx(PERCENTAGE_OF_LEAD_TIME_DEMAND * 30 * 4)


def test_percentage_method_keeps_a_day_of_buffer_for_same_day_suppliers() -> None:
    safety = plan_safety_stock([10.0], None, open_days=1, service_level=0.9, lead_time_days=0, lead_time_sd_days=0)

    assert safety.quantity == pytest.approx(PERCENTAGE_OF_LEAD_TIME_DEMAND * 10)


def test_delivery_risk_covers_the_gap_between_delivery_days_and_late_slips() -> None:
    from workers.procurement.inventory_math import delivery_risk

    daily = delivery_risk(lead_time_days=2, lead_time_sd_days=0.0, on_time_rate=1.0, delivery_weekdays=7)
    assert (daily.protection_days, daily.lead_time_sd_days) == (2, 0.0)
    # Three delivery days a week (gap 7/3), 85 % on time: 6 + 7/3 − 1 days, sqrt(0.5² + 0.85·0.15·(7/3)²).
    sparse = delivery_risk(lead_time_days=6, lead_time_sd_days=0.5, on_time_rate=0.85, delivery_weekdays=3)
    assert sparse.protection_days == pytest.approx(7.3333, abs=1e-4)
    assert sparse.lead_time_sd_days == pytest.approx(0.97168, abs=1e-5)
