"""What "no need is ordered twice" means, checked on two consecutive daily plans of one tenant
(the integration tier runs it in process, the e2e tier on the real stack)."""

from collections.abc import Sequence
from datetime import date

from contracts.planning import PlanningSnapshot, PurchaseLine
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import PurchaseOrdersReleased


def coverage(line: PurchaseLine) -> tuple[date, date]:
    """The need days a purchase line covers (its reasoning's `coverage_from` … `coverage_to`)."""
    facts = line.reasoning.facts if line.reasoning else {}
    first, last = facts.get("coverage_from"), facts.get("coverage_to")
    assert isinstance(first, str), f"line {line.line_id} has no coverage facts"
    assert isinstance(last, str), f"line {line.line_id} has no coverage facts"
    return date.fromisoformat(first), date.fromisoformat(last)


def released_lines(orders: Sequence[PurchaseOrder], lines: Sequence[PurchaseLine]) -> list[PurchaseLine]:
    """The purchase lines that went out in `orders`."""
    released = {line.line_id for order in orders for line in order.lines}
    return [line for line in lines if line.line_id in released]


def assert_counted_as_supply(release: PurchaseOrdersReleased, next_snapshot: PlanningSnapshot) -> None:
    """Every line of `release`'s orders is open supply of the next snapshot: its whole quantity on its
    delivery date (nothing was received), as `po:<po_number>/<line_id>`."""
    supply = {o.order_id: o for o in next_snapshot.open_purchase_orders}
    for order in release.purchase_orders:
        for line in order.lines:
            counted = supply.get(f"po:{order.po_number}/{line.line_id}")
            assert counted is not None, f"{order.po_number} {line.ingredient_id} is not supply of the next plan"
            assert (counted.supplier_id, counted.ingredient_id) == (order.supplier_id, line.ingredient_id)
            assert (counted.quantity, counted.delivery_date) == (line.quantity, order.delivery_date)


def ordered_again(first: Sequence[PurchaseLine], second: Sequence[PurchaseLine]) -> list[str]:
    """Lines of `second` that order a need day a line of `first` already covered: for the same
    ingredient, a need day inside the first line's coverage (`coverage_from` … the day before its
    `coverage_to`). The last covered day is left out: the next plan's forecast is a day newer, and
    when it ends a hair lower than the first plan expected, topping up that day is a new need."""
    found = []
    for line in second:
        start, end = coverage(line)
        for earlier in first:
            first_day, last_day = coverage(earlier)
            if earlier.ingredient_id == line.ingredient_id and start < last_day and first_day <= end:
                found.append(
                    f"{line.ingredient_id}: need days {first_day}…{last_day} were ordered on day 1 (line "
                    f"{earlier.line_id}), and day 2 orders {start}…{end} again (line {line.line_id})"
                )
    return found


def assert_no_need_ordered_twice(first: Sequence[PurchaseLine], second: Sequence[PurchaseLine]) -> None:
    again = ordered_again(first, second)
    assert not again, "; ".join(again)
