"""The newsvendor rule: how many pieces to bake when unsold pieces are waste and missing pieces are lost sales.

Pure: standard library only. Demand of one product on one day is taken as normal; the quantity that
balances the two costs is the demand quantile at the critical ratio

    critical ratio = (price - cost) / (price - salvage)      (underage / (underage + overage))

where underage = price - cost (the margin lost on a missing piece) and overage = cost - salvage (what
an unsold piece loses). The ratio is strictly between 0 and 1 exactly when salvage < cost < price.
"""

import math
from statistics import NormalDist

# The 90 % quantile of the standard normal: p10 and p90 of a normal lie this many sds either side of
# the mean, so (p90 - p10) / (2 * Z_P90) recovers the sd from a forecast's 80 % interval.
Z_P90 = NormalDist().inv_cdf(0.9)

_STANDARD_NORMAL = NormalDist()


def critical_ratio(*, price: float, cost: float, salvage: float = 0.0) -> float:
    """The service level (probability of selling out is 1 - ratio) that maximises expected profit.

    `price`, `cost` and `salvage` are money per piece. Raises `ValueError` saying what to fix unless
    salvage < cost < price: at cost ≥ price no piece is worth baking, at cost ≤ salvage every unsold
    piece earns money and the quantity has no bound.
    """
    if min(price, cost, salvage) < 0:
        raise ValueError(
            f"price {price}, cost {cost} and salvage {salvage} must not be negative; fix the product's money fields"
        )
    if price <= salvage:
        raise ValueError(f"price {price} must be above salvage {salvage}; lower salvage_value or raise unit_price")
    if cost >= price:
        raise ValueError(
            f"cost {cost} must be below price {price}, else no piece is worth baking; fix unit_cost or unit_price"
        )
    if cost <= salvage:
        raise ValueError(
            f"cost {cost} must be above salvage {salvage}, else every unsold piece earns money and the "
            "quantity is unbounded; lower salvage_value below unit_cost"
        )
    return (price - cost) / (price - salvage)


def newsvendor_z(*, price: float, cost: float, salvage: float = 0.0) -> float:
    """Standard-normal quantile at the critical ratio: the quantity is mean + z·sd. Raises as `critical_ratio`."""
    return _STANDARD_NORMAL.inv_cdf(critical_ratio(price=price, cost=cost, salvage=salvage))


def newsvendor_quantity(mean: float, sd: float, *, price: float, cost: float, salvage: float = 0.0) -> float:
    """Pieces to stock against normal demand(mean, sd): mean + z·sd at the critical ratio, at least 0.

    `mean` and `sd` are pieces; money per piece as in `critical_ratio`. The result is continuous (not
    rounded). Raises `ValueError` for a negative mean or sd and for the economics `critical_ratio`
    rejects. Example: mean 100, sd 20, price 1.2, cost 0.4 → ratio 2/3, z ≈ 0.4307, ≈ 108.61.
    """
    if mean < 0 or sd < 0 or math.isnan(mean) or math.isnan(sd):
        raise ValueError(f"demand mean {mean} and sd {sd} must be numbers ≥ 0; fix the forecast line")
    return max(0.0, mean + newsvendor_z(price=price, cost=cost, salvage=salvage) * sd)


def demand_sd(units: float, p10: float | None, p90: float | None) -> tuple[float, bool]:
    """The sd (pieces) of a forecast line's demand and whether it came from the forecast's quantiles.

    With both p10 and p90: (p90 - p10) / (2 · Z_P90), the sd of the normal with that 80 % interval.
    Without either: sqrt(units), the sd of a Poisson count with that mean, flagged as not from
    quantiles (the uncertainty is a guess). Raises `ValueError` if p90 is below p10.
    """
    if p10 is None or p90 is None:
        return math.sqrt(units), False
    if p90 < p10:
        raise ValueError(f"p90 {p90} is below p10 {p10}; the forecast's quantiles must be ordered")
    return (p90 - p10) / (2 * Z_P90), True
