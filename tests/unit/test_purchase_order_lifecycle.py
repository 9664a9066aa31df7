"""A purchase order's life after release (workers/purchase_orders/lifecycle.py): sent, confirmed,
received in parts, early, late or over, cancelled; what is still to come; why an event is refused."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from contracts.planning import Ingredient, StockLot
from contracts.purchasing_messages import ConfirmedLine, GoodsReceived, OrderConfirmed, OrderSent, ReceivedLine
from workers.purchase_orders.lifecycle import (
    OPEN_STATUSES,
    Order,
    OrderLine,
    cancel,
    cancel_problems,
    confirm,
    confirmation_problems,
    delivery_timing,
    mark_send_failed,
    mark_sent,
    receipt_problems,
    receive,
    resend,
    resend_problems,
)

pytestmark = pytest.mark.unit

WEDNESDAY = date(2026, 12, 2)
INGREDIENTS = {
    "flour": Ingredient(ingredient_id="flour", name="Wheat flour T550", unit="kg", category="flour"),
    "butter": Ingredient(ingredient_id="butter", name="Butter", unit="kg", category="dairy"),
    "sugar": Ingredient(ingredient_id="sugar", name="Sugar", unit="kg", category="sugar"),
}


def an_order(status: str = "released") -> Order:
    return Order(
        tenant_id="kiel",
        po_number="PO-20261130-5B0B2C1E-01",
        supplier_id="mill",
        status=status,  # type: ignore[arg-type]
        delivery_date=WEDNESDAY,
        lines=(
            OrderLine(1, "L-flour", "flour", "Wheat flour T550", "kg", 250.0, 0.74),
            OrderLine(2, "L-butter", "butter", "Butter", "kg", 20.0, 7.2),
            OrderLine(3, "L-sugar", "sugar", "Sugar", "kg", 50.0, 1.1),
        ),
    )


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def a_receipt(receipt_id: str, day: date, **quantities: float) -> GoodsReceived:
    return GoodsReceived(
        event_id=uuid4(),
        tenant_id="kiel",
        occurred_at=at(day),
        po_number="PO-20261130-5B0B2C1E-01",
        receipt_id=receipt_id,
        received_at=at(day),
        lines=tuple(ReceivedLine(line_id=f"L-{name}", quantity=q) for name, q in quantities.items()),
    )


def a_confirmation(delivery: date | None = None, **quantities: float) -> OrderConfirmed:
    return OrderConfirmed(
        event_id=uuid4(),
        tenant_id="kiel",
        occurred_at=at(WEDNESDAY - timedelta(days=1)),
        po_number="PO-20261130-5B0B2C1E-01",
        confirmed_at=at(WEDNESDAY - timedelta(days=1)),
        delivery_date=delivery,
        lines=tuple(ConfirmedLine(line_id=f"L-{name}", quantity=q) for name, q in quantities.items()),
    )


def still_to_come(order: Order) -> dict[str, float]:
    return {line.ingredient_id: line.remaining for line in order.lines}


def test_sent_moves_a_released_order_once_and_is_noted_after() -> None:
    sent = OrderSent(
        event_id=uuid4(),
        tenant_id="kiel",
        occurred_at=at(WEDNESDAY),
        po_number="x",
        sent_at=at(WEDNESDAY),
        channel="email",
    )
    first = mark_sent(an_order(), sent)
    assert first.order.status == "sent"
    assert first.note.startswith("sent by email at 2026-12-02 09:00")
    again = mark_sent(an_order("confirmed"), sent)
    assert again.order.status == "confirmed"
    assert again.note.endswith("(stays confirmed)")


def test_a_failed_send_flags_a_released_order_and_a_resend_then_a_send_clears_it() -> None:
    failed = mark_send_failed(an_order(), channel="email orders@mill.example", attempts=5, error="connection refused")
    assert failed.order.status == "send_failed"
    assert failed.note == "send failed on email orders@mill.example after 5 attempt(s): connection refused"
    assert "send_failed" in OPEN_STATUSES, "a flagged order still counts as supply: its need is not ordered twice"
    assert resend_problems(failed.order) == []
    again = resend(failed.order, "ops")
    assert (again.order.status, again.note) == ("released", "resend requested by ops")
    sent = OrderSent(
        event_id=uuid4(), tenant_id="kiel", occurred_at=at(WEDNESDAY), po_number="x", sent_at=at(WEDNESDAY), channel="x"
    )
    assert mark_sent(failed.order, sent).order.status == "sent", "sent after all (e.g. by another replica)"


@pytest.mark.parametrize("status", ["sent", "confirmed", "partly_received", "received", "cancelled"])
def test_an_order_past_sending_is_not_flagged_nor_resent(status: str) -> None:
    failed = mark_send_failed(an_order(status), channel="webhook https://x.example", attempts=3, error="HTTP 500")
    assert failed.order.status == status
    assert failed.note.endswith(f"(stays {status})")
    assert resend_problems(an_order(status)) == [
        f"resend: order PO-20261130-5B0B2C1E-01 is {status}; only a released or send_failed order is sent"
    ]


def test_a_confirmation_changes_quantities_and_the_delivery_date_and_so_what_is_to_come() -> None:
    friday = WEDNESDAY + timedelta(days=2)
    change = confirm(an_order("sent"), a_confirmation(friday, butter=15.0, sugar=0.0))
    order = change.order
    assert order.status == "confirmed"
    assert order.expected_delivery == friday
    assert still_to_come(order) == {"flour": 250.0, "butter": 15.0, "sugar": 0.0}
    assert change.note == (
        "confirmed at 2026-12-01 09:00 +0000; delivery moved from 2026-12-02 to 2026-12-04; Butter: 15 kg of 20; "
        "Sugar: 0 kg of 50"
    )


@pytest.mark.parametrize("status", ["partly_received", "received", "cancelled"])
def test_an_order_past_confirming_refuses_a_confirmation(status: str) -> None:
    assert confirmation_problems(an_order(status), a_confirmation()) == [
        f"purchasing.order_confirmed: order PO-20261130-5B0B2C1E-01 is {status}"
    ]


def test_a_confirmation_of_an_unknown_or_repeated_line_is_refused_naming_it() -> None:
    event = a_confirmation(flour=200.0, rye=3.0).model_copy(
        update={"lines": (*a_confirmation(flour=200.0, rye=3.0).lines, ConfirmedLine(line_id="L-flour", quantity=1.0))}
    )
    assert confirmation_problems(an_order("released"), event) == [
        "purchasing.order_confirmed lines[1].line_id: unknown line 'L-rye' of order PO-20261130-5B0B2C1E-01",
        "purchasing.order_confirmed lines[2].line_id: line 'L-flour' appears twice",
    ]


def test_a_partial_late_delivery_then_the_rest_early_with_an_over_delivery() -> None:
    order = an_order("confirmed")
    first = receive(order, a_receipt("DN-1", WEDNESDAY + timedelta(days=1), flour=100.0, butter=20.0), INGREDIENTS)
    assert first.order.status == "partly_received"
    assert still_to_come(first.order) == {"flour": 150.0, "butter": 0.0, "sugar": 50.0}
    assert first.note == "receipt DN-1 on 2026-12-03; 1 day(s) late; Wheat flour T550: 100 kg; Butter: 20 kg"
    assert first.lots == (
        StockLot(
            lot_id="PO-20261130-5B0B2C1E-01/1/DN-1",
            ingredient_id="flour",
            quantity=100.0,
            expires_on=date(2026, 12, 3) + timedelta(days=180),  # flour keeps 180 days (its category)
        ),
        StockLot(
            lot_id="PO-20261130-5B0B2C1E-01/2/DN-1",
            ingredient_id="butter",
            quantity=20.0,
            expires_on=date(2026, 12, 13),  # dairy: 10 days
        ),
    )
    rest = receive(first.order, a_receipt("DN-2", WEDNESDAY - timedelta(days=1), flour=160.0, sugar=50.0), INGREDIENTS)
    assert rest.order.status == "received"
    assert still_to_come(rest.order) == {"flour": 0.0, "butter": 0.0, "sugar": 0.0}
    assert "1 day(s) early" in rest.note
    assert "Wheat flour T550: 160 kg (over-delivered by 10 kg)" in rest.note
    sugar = next(lot for lot in rest.lots if lot.ingredient_id == "sugar")
    assert sugar.expires_on is None  # sugar does not perish


def test_a_receipt_names_its_lots_expiry_when_it_knows_it() -> None:
    event = a_receipt("DN-3", WEDNESDAY, butter=20.0)
    event = event.model_copy(
        update={"lines": (ReceivedLine(line_id="L-butter", quantity=20.0, expires_on=date(2026, 12, 20)),)}
    )
    change = receive(an_order(), event, INGREDIENTS)
    assert [lot.expires_on for lot in change.lots] == [date(2026, 12, 20)]
    assert change.order.status == "partly_received"  # flour and sugar are still to come
    assert delivery_timing(WEDNESDAY, WEDNESDAY) == "on time"


def test_a_confirmed_smaller_quantity_is_received_in_full_and_closes_the_order() -> None:
    confirmed = confirm(an_order("sent"), a_confirmation(sugar=0.0, butter=10.0)).order
    change = receive(confirmed, a_receipt("DN-4", WEDNESDAY, flour=250.0, butter=10.0), INGREDIENTS)
    assert change.order.status == "received"


def test_goods_after_an_order_was_received_are_booked_and_it_stays_received() -> None:
    received = receive(an_order(), a_receipt("DN-5", WEDNESDAY, flour=250, butter=20, sugar=50), INGREDIENTS).order
    late_pallet = receive(received, a_receipt("DN-6", WEDNESDAY + timedelta(days=3), flour=25.0), INGREDIENTS)
    assert late_pallet.order.status == "received"
    assert [lot.quantity for lot in late_pallet.lots] == [25.0]
    assert "over-delivered by 25 kg" in late_pallet.note
    assert receipt_problems(received, a_receipt("DN-6", WEDNESDAY, flour=1.0)) == []


def test_a_receipt_with_nothing_received_changes_no_status() -> None:
    change = receive(an_order("sent"), a_receipt("DN-7", WEDNESDAY, flour=0.0), INGREDIENTS)
    assert (change.order.status, change.lots) == ("sent", ())


def test_a_receipt_for_a_cancelled_order_or_an_unknown_line_is_refused_with_the_reason() -> None:
    assert receipt_problems(an_order("cancelled"), a_receipt("DN-8", WEDNESDAY, flour=1.0)) == [
        "purchasing.goods_received: order PO-20261130-5B0B2C1E-01 is cancelled"
    ]
    (problem,) = receipt_problems(an_order(), a_receipt("DN-9", WEDNESDAY, rye=1.0))
    assert problem.startswith(
        "purchasing.goods_received lines[0].line_id: unknown line 'L-rye' of order PO-20261130-5B0B2C1E-01; its lines: "
        "L-flour (Wheat flour T550), L-butter (Butter)"
    )


def test_cancelling_keeps_what_was_received_and_a_closed_order_cannot_be_cancelled() -> None:
    part = receive(an_order(), a_receipt("DN-10", WEDNESDAY, flour=250.0), INGREDIENTS).order
    change = cancel(part, "the mill burnt down")
    assert change.order.status == "cancelled"
    assert change.order.lines[0].received_quantity == 250.0
    assert change.note == "cancelled: the mill burnt down; 2 line(s) no longer expected"
    assert cancel_problems(an_order("received")) == ["cancel: order PO-20261130-5B0B2C1E-01 is received"]
    assert cancel_problems(an_order("cancelled")) == ["cancel: order PO-20261130-5B0B2C1E-01 is cancelled"]
    assert cancel_problems(an_order("sent")) == []
