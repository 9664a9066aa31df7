"""Day-by-day inventory simulation of a bakery's ingredient purchasing, and the policies it compares.

Pure: no I/O, no clock; deterministic for a seed. Quantities are in the ingredient's unit, demand in
pieces, money in the tenant's currency. The modelling choices, in the order of a simulated day:

Truth. A synthetic tenant (`generate_tenant(..., components=True)`) whose history is the profile's
history length followed by the `days` simulated days, ending the day before `start + days`; or,
with `demand`, real sales (see `demand_csv`): the last `days` days are simulated, the rest is known
history (pieces rounded half up, a day without any row closed). Sales are demand: history is
uncensored (a lost sale in the simulation does not lower the history the planners see). Products
carry no finished stock; closed days have no demand.

Warm start. The same for every policy: the world runs `WARM_UP_DAYS` (21) days of known demand
before `start`, at most half the known history (`simulator.warm_world`), under `WarmUpPolicy`:
bakeplan's purchasing every morning on the requirements of a full plan made once a week (and fresh
on the last warm-up morning). It opens with one fresh lot per used ingredient of the mean daily use
of the 28 days before it × (cheapest lead time + 7) days, capped at shelf life − 1 days, valued at
the cheapest unit price (`truth.initial_lots`). The first simulated morning thus finds lots of every
age and orders on their way, as a bakery running on the policy has; the stock on hand then counts
as received for the waste rate, and nothing of the warm-up is measured. `warm_start` gives a
synthetic tenant the same state (what `bakeplan seed` writes).

Morning of day d. (1) Lots whose expiry day has come (`expires_on <= d`) are written off: a lot is
usable on the days before its `expires_on`, the planners' rule; the write-off is waste, valued at
the lot's unit price. (2) Shipments arriving on d become lots expiring `d + shelf_life_days`
(never, without a shelf life). (3) The policy orders (see `policies`); the plan is made at
`policy.planned_at`, before every generated order cut-off, so an order placed on d counts for d.
Each supplier ordered from on d is one order costing `Supplier.order_cost`; the world does not
enforce MOQ, min order value or maximum (the policies do or do not). (4) Delivery: planned on the
line's `delivery_date`, but not before `d + max(1, lead_time_days)` of the ordered item (a supplier
cannot beat its lead time), moved to the supplier's next delivery weekday; it arrives then with
probability `on_time_rate`, else 1–3 days later (again on a delivery weekday). The draw depends on
(seed, supplier, order day, planned day), so policies meet the same supplier luck. The policies see
open orders at their planned date; one due by this morning that has not come is reported as due
yesterday at the latest, i.e. overdue, and the planner decides when to expect it. The world draws no
lead_time_sd_days of its own: the generator sets it to the spread of this on-time model.

Day d. Each product's demand is the true sales of d, made to demand (so policies differ only in
purchasing): products in product_id order take as many pieces (pieces are divisible here) as the
lots allow, consuming every ingredient of the recipe, components exploded into their ingredients
on the baking day (the dough base made a day ahead is not modelled in the world; the planners
still plan its ingredients a day early). Ingredients are taken first-expiry-first-out. What cannot
be made is lost: lost_sales_value = lost pieces × (unit_price − unit_cost). An ingredient is short on
d when the day's full demand needs more of it than is on hand before baking.

Metrics (`report.Ledger`). fill_rate = pieces made / pieces demanded. stockout_days = days with any
lost sale. cycle_service_level = share of replenishment cycles without a shortage, where a cycle of
an ingredient runs from one delivery (or the start) to the next, and only cycles in which the
ingredient was needed count. waste_rate = expired / received value over perishable ingredients
(value, because kg, litres and pieces do not add up; within one ingredient it is the quantity
share). avg_inventory_value = mean end-of-day stock value; holding_cost = Σ daily stock value ×
holding_cost_rate_per_year / 365; total_cost = ordering + holding + lost_sales_value + waste_value.

Policies. `bakeplan`: `plan_snapshot` on the morning's snapshot (sales up to yesterday, lots, open
orders, horizon 14 days); lines with order_date <= d are placed (today's and overdue ones).
`perfect`: the procurement step on the true ingredient needs of the next 14 days (quantity_sd 0)
— an upper bound for the forecast and schedule. `minmax` and `reorder-level`: see `baselines`.
"""

from lab.simulation.policies import Policy
from lab.simulation.report import SimulationReport
from lab.simulation.simulator import WARM_UP_DAYS, simulate
from lab.simulation.warm_start import warm_start

__all__ = ["WARM_UP_DAYS", "Policy", "SimulationReport", "simulate", "warm_start"]
