"""When an order is placed and when it can arrive: lead time, delivery weekdays, cut-off, closed days.

Pure. Rules:
- Placement: the plan is made on `business_date` at `PlanningPolicy.planned_at`. If the supplier has an
  `order_cutoff` and `planned_at` is after it, an order placed now counts as placed the next day.
- A delivery day is one of the supplier's `delivery_weekdays` on which the bakery is open (nobody
  receives goods on a closed day).
- The earliest possible delivery is the first delivery day on or after placement + lead time.
- For a need on day D the delivery is the latest delivery day ≤ D that is not before the earliest
  possible delivery (and, for perishable stock, still usable on D); the order date is that delivery
  minus the lead time, which is then never before placement.
- When no such day exists the order goes out at placement and arrives on the earliest possible
  delivery: it is *late*.
"""

from datetime import date, timedelta

from contracts.planning import Calendar, PlanningPolicy, Supplier

# How far to look for a delivery day: a supplier that delivers less than once in four weeks around a
# closed fortnight cannot serve a bakery's horizon anyway.
DELIVERY_SEARCH_DAYS = 28

ONE_DAY = timedelta(days=1)


def placement_date(supplier: Supplier, *, business_date: date, policy: PlanningPolicy) -> date:
    """The day an order placed now counts as placed (the next day after the supplier's cut-off)."""
    if supplier.order_cutoff is not None and policy.planned_at > supplier.order_cutoff:
        return business_date + ONE_DAY
    return business_date


def is_delivery_day(day: date, supplier: Supplier, calendar: Calendar) -> bool:
    """Whether the supplier delivers on `day` and the bakery is open to receive it."""
    return day.weekday() in supplier.delivery_weekdays and calendar.is_open(day)


def earliest_delivery(supplier: Supplier, lead_time_days: int, *, placed_on: date, calendar: Calendar) -> date | None:
    """The first delivery day on or after `placed_on + lead_time_days`; None if none within the search."""
    day = placed_on + timedelta(days=lead_time_days)
    for _ in range(DELIVERY_SEARCH_DAYS):
        if is_delivery_day(day, supplier, calendar):
            return day
        day += ONE_DAY
    return None


def latest_delivery(supplier: Supplier, *, need_day: date, not_before: date, calendar: Calendar) -> date | None:
    """The latest delivery day in [not_before, need_day]; None if there is none."""
    day = need_day
    while day >= not_before:
        if is_delivery_day(day, supplier, calendar):
            return day
        day -= ONE_DAY
    return None


def next_delivery_after(supplier: Supplier, day: date, *, calendar: Calendar) -> date | None:
    """The first delivery day after `day`; None if none within the search."""
    for offset in range(1, DELIVERY_SEARCH_DAYS + 1):
        candidate = day + timedelta(days=offset)
        if is_delivery_day(candidate, supplier, calendar):
            return candidate
    return None
