"""Inventory formulas: safety stock, reorder point, economic order quantity, and the per-ingredient choice.

Pure. Quantities are in the ingredient's unit, time in days, money in the tenant's currency.

Safety stock, statistical method (demand and lead time independent and normal):
    SS = z · sqrt(L · sd_d² + d² · sd_LT²),   z = NormalDist().inv_cdf(service_level)
Reorder point: d · L + SS. EOQ: sqrt(2 · D · K / h).

Choice per ingredient (`plan_safety_stock`):
- *statistical* when every requirement of the ingredient carries `quantity_sd`. The service level is
  `Ingredient.service_level`, else `PlanningPolicy.service_level`. d is the mean daily requirement over
  the horizon's open days. sd_d aggregates the requirements' `quantity_sd`: requirements of one day add
  in quadrature (independent products), and sd_d is the root mean square of the daily deviations over
  the same open days (so that sd_d² is the mean daily variance, consistent with d). L and sd_LT come
  from the chosen supplier and item, adjusted for how it delivers (`delivery_risk`).
- *percentage* when any requirement lacks `quantity_sd` (the history is too short to trust a
  deviation): SS = PERCENTAGE_OF_LEAD_TIME_DEMAND · d · max(L, 1). The one-day floor keeps a buffer
  even for same-day suppliers. z is reported as None.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

# Half of the demand over the lead time: a common rule of thumb when no deviation is known.
PERCENTAGE_OF_LEAD_TIME_DEMAND = 0.5

SafetyStockMethod = Literal["statistical", "percentage", "stock_floor"]  # stock_floor: a low-stock threshold


@dataclass(frozen=True)
class DeliveryRisk:
    """The lead time and its spread that safety stock must cover for one supplier item."""

    protection_days: float
    lead_time_sd_days: float


def delivery_risk(
    *, lead_time_days: int, lead_time_sd_days: float, on_time_rate: float, delivery_weekdays: int
) -> DeliveryRisk:
    """Lead time and spread as a supplier with few delivery days and late deliveries makes them.

    A supplier delivering on `delivery_weekdays` days a week comes every `gap = 7 / delivery_weekdays`
    days on average. Stock must last until the delivery after next can arrive, so the protection
    period is `L + gap − 1` days (just L for a supplier delivering daily). A late delivery slips at
    least to the next delivery day: with probability `1 − on_time_rate` the lead time grows by about
    `gap`, a Bernoulli spread of `gap · sqrt(p · (1 − p))` that adds in quadrature to the item's own
    `lead_time_sd_days`.
    """
    gap = 7 / max(1, min(7, delivery_weekdays))
    p = min(1.0, max(0.0, on_time_rate))
    slip_variance = p * (1 - p) * gap * gap
    return DeliveryRisk(
        protection_days=lead_time_days + gap - 1,
        lead_time_sd_days=math.sqrt(lead_time_sd_days * lead_time_sd_days + slip_variance),
    )


# Stock that keeps for months costs a few percent a year to hold, while running out of it stops
# production: such ingredients get at least this cycle service level.
LONG_LIFE_DAYS = 90
LONG_LIFE_SERVICE_LEVEL = 0.99


def target_service_level(*, ingredient_level: float | None, policy_level: float, shelf_life_days: int | None) -> float:
    """The ingredient's own service level when set; else the policy's, raised for long-life stock.

    `shelf_life_days` is the effective shelf life (category default included; None never expires).
    From LONG_LIFE_DAYS on the level is at least LONG_LIFE_SERVICE_LEVEL.
    """
    if ingredient_level is not None:
        return ingredient_level
    if shelf_life_days is None or shelf_life_days >= LONG_LIFE_DAYS:
        return max(policy_level, LONG_LIFE_SERVICE_LEVEL)
    return policy_level


def service_z(service_level: float) -> float:
    """The standard normal quantile of a cycle service level in (0, 1); raises `ValueError` outside."""
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be strictly between 0 and 1, got {service_level}")
    return NormalDist().inv_cdf(service_level)


def safety_stock(
    *,
    service_level: float,
    demand_sd_per_day: float,
    lead_time_days: float,
    mean_demand_per_day: float = 0.0,
    lead_time_sd_days: float = 0.0,
) -> float:
    """z · sqrt(L · sd_d² + d² · sd_LT²) in the ingredient's unit; 0 for a service level of exactly 0.5."""
    variance = lead_time_days * demand_sd_per_day**2 + mean_demand_per_day**2 * lead_time_sd_days**2
    return max(0.0, service_z(service_level) * math.sqrt(max(variance, 0.0)))


def reorder_point(
    *,
    service_level: float,
    mean_demand_per_day: float,
    demand_sd_per_day: float,
    lead_time_days: float,
    lead_time_sd_days: float = 0.0,
) -> float:
    """Stock level that triggers an order: demand over the lead time plus safety stock."""
    return mean_demand_per_day * lead_time_days + safety_stock(
        service_level=service_level,
        demand_sd_per_day=demand_sd_per_day,
        lead_time_days=lead_time_days,
        mean_demand_per_day=mean_demand_per_day,
        lead_time_sd_days=lead_time_sd_days,
    )


def economic_order_quantity(*, annual_demand: float, order_cost: float, holding_cost_per_unit_year: float) -> float:
    """Wilson's lot size sqrt(2·D·K/h); raises `ValueError` if the holding cost is not positive."""
    if holding_cost_per_unit_year <= 0:
        raise ValueError(f"holding cost per unit and year must be positive, got {holding_cost_per_unit_year}")
    return math.sqrt(2 * max(annual_demand, 0.0) * max(order_cost, 0.0) / holding_cost_per_unit_year)


@dataclass(frozen=True)
class SafetyStock:
    """The safety stock of one ingredient and the numbers behind it."""

    quantity: float
    method: SafetyStockMethod
    z: float | None
    mean_demand_per_day: float
    demand_sd_per_day: float | None
    lead_time_days: float
    lead_time_sd_days: float


def plan_safety_stock(
    daily_quantities: Sequence[float],
    daily_sds: Sequence[float] | None,
    *,
    open_days: int,
    service_level: float,
    lead_time_days: float,
    lead_time_sd_days: float,
) -> SafetyStock:
    """Safety stock of one ingredient by the rule in the module docstring.

    `daily_quantities` are the per-day requirement totals over the horizon; `daily_sds` the per-day
    deviations (already added in quadrature), or None when any requirement lacks one. `open_days` is
    the number of open days in the horizon (at least 1 is used).
    """
    days = max(open_days, 1)
    mean = sum(daily_quantities) / days
    if daily_sds is None:
        quantity = PERCENTAGE_OF_LEAD_TIME_DEMAND * mean * max(lead_time_days, 1)
        return SafetyStock(quantity, "percentage", None, mean, None, lead_time_days, lead_time_sd_days)
    sd = math.sqrt(sum(value * value for value in daily_sds) / days)
    quantity = safety_stock(
        service_level=service_level,
        demand_sd_per_day=sd,
        lead_time_days=lead_time_days,
        mean_demand_per_day=mean,
        lead_time_sd_days=lead_time_sd_days,
    )
    return SafetyStock(quantity, "statistical", service_z(service_level), mean, sd, lead_time_days, lead_time_sd_days)
