"""The release rule (workers/purchase_orders/release.py): which purchase lines go out as orders, how
they are grouped and numbered, and what the orders say."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import ids
from contracts.errors import PlanningError
from contracts.planning import Ingredient, PurchaseLine
from contracts.purchasing_messages import OrderingSupplier, ReleasePurchaseOrders
from workers.purchase_orders.release import cutoff_passed, release

pytestmark = pytest.mark.unit

SAGA = UUID("5b0b2c1e-9d3a-4f65-8a1e-2c7d9e0f1a22")
MONDAY = date(2026, 11, 30)
BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_MORNING = datetime(2026, 11, 30, 5, 15, tzinfo=UTC)  # 06:15 in Berlin
INGREDIENTS = (
    Ingredient(ingredient_id="butter", name="Butter 82 %", unit="kg", category="dairy"),
    Ingredient(ingredient_id="eggs", name="Eggs M", unit="pcs", category="eggs"),
    Ingredient(ingredient_id="flour", name="Wheat flour T550", unit="kg", category="flour"),
)
SUPPLIERS = (
    OrderingSupplier(supplier_id="mill", name="Northern Mills", order_cutoff=time(12, 0)),
    OrderingSupplier(supplier_id="dairy", name="Alpine Dairy", order_cutoff=time(6, 0)),
    OrderingSupplier(supplier_id="farm", name="Hof Jensen", order_cutoff=None),
)


def a_line(
    supplier: str,
    ingredient: str,
    *,
    order: date = MONDAY,
    delivery: date = MONDAY + timedelta(days=2),
    quantity: float = 25.0,
    price: float = 0.736,
    emergency: bool = False,
) -> PurchaseLine:
    return PurchaseLine(
        line_id=f"{supplier}-{ingredient}-{delivery.isoformat()}",
        supplier_id=supplier,
        ingredient_id=ingredient,
        order_date=order,
        delivery_date=delivery,
        quantity=quantity,
        unit_price=price,
        late=False,
        reason="cover to safety stock",
        emergency=emergency,
    )


def a_command(
    *lines: PurchaseLine, placed_at: datetime = BERLIN_MORNING, business_date: date = MONDAY
) -> ReleasePurchaseOrders:
    return ReleasePurchaseOrders(
        event_id=ids.step_command_id(SAGA, "release", 1),
        tenant_id="kiel-bakery",
        saga_id=SAGA,
        occurred_at=placed_at,
        business_date=business_date,
        placed_at=placed_at.astimezone(BERLIN),
        time_zone="Europe/Berlin",
        tenant_name="Bäckerei Kiel",
        currency="EUR",
        purchase_lines=lines,
        ingredients=INGREDIENTS,
        suppliers=SUPPLIERS,
    )


def test_due_lines_become_one_order_per_supplier_and_delivery_date_with_names_units_and_money() -> None:
    wednesday, thursday = MONDAY + timedelta(days=2), MONDAY + timedelta(days=3)
    command = a_command(
        a_line("mill", "flour", delivery=wednesday, quantity=250.0, price=0.736),
        a_line("farm", "eggs", delivery=wednesday, quantity=360.0, price=0.21),
        a_line("farm", "butter", delivery=wednesday, quantity=12.5, price=7.333),
        a_line("farm", "eggs", delivery=thursday, quantity=180.0, price=0.21),
    )

    result = release(command)

    assert result.held == ()
    assert [(o.supplier_id, o.delivery_date) for o in result.orders] == [
        ("farm", wednesday),
        ("farm", thursday),
        ("mill", wednesday),
    ]
    assert [o.po_number for o in result.orders] == [
        "PO-20261130-5B0B2C1E-01",
        "PO-20261130-5B0B2C1E-02",
        "PO-20261130-5B0B2C1E-03",
    ]
    farm = result.orders[0]
    assert (farm.tenant_name, farm.supplier_name, farm.currency) == ("Bäckerei Kiel", "Hof Jensen", "EUR")
    assert [(x.ingredient_name, x.quantity, x.unit, x.amount) for x in farm.lines] == [
        ("Butter 82 %", 12.5, "kg", 91.66),  # 12.5 × 7.333 = 91.6625, to the cent
        ("Eggs M", 360.0, "pcs", 75.6),
    ]
    assert farm.total == 167.26
    assert farm.order_date == MONDAY
    assert farm.released_at == BERLIN_MORNING
    assert result.orders[2].lines[0].amount == 184.0  # 250 kg × 0.736


def test_a_later_order_date_and_a_passed_cut_off_hold_the_line_with_the_reason() -> None:
    later = a_line("mill", "flour", order=MONDAY + timedelta(days=1))
    dairy = a_line("dairy", "butter")  # Alpine Dairy takes orders until 06:00; it is 06:15 in Berlin
    due = a_line("farm", "eggs")

    result = release(a_command(later, dairy, due))

    assert [line.line_id for o in result.orders for line in o.lines] == [due.line_id]
    assert [(h.line_id, h.reason) for h in result.held] == [
        (dairy.line_id, "cutoff_passed"),
        (later.line_id, "order_date_later"),
    ]
    assert "Alpine Dairy takes orders until 06:00 (Europe/Berlin); released at 2026-11-30 06:15" in result.held[0].note
    assert "a later daily plan orders it" in result.held[1].note


def test_an_emergency_line_goes_out_whatever_its_order_date_and_the_hour() -> None:
    # a low-stock line whose supplier's cut-off passed is placed for tomorrow: it is sent now all the same
    tomorrow = MONDAY + timedelta(days=1)
    emergency = a_line("dairy", "butter", order=tomorrow, emergency=True)

    (order,) = release(a_command(emergency)).orders

    assert order.order_date == tomorrow
    assert [line.line_id for line in order.lines] == [emergency.line_id]


@pytest.mark.parametrize(
    ("placed_at", "business_date", "passed"),
    [
        (datetime(2026, 11, 30, 10, 59, tzinfo=UTC), MONDAY, False),  # 11:59 Berlin
        (datetime(2026, 11, 30, 11, 0, tzinfo=UTC), MONDAY, False),  # 12:00 Berlin: the cut-off itself still counts
        (datetime(2026, 11, 30, 11, 1, tzinfo=UTC), MONDAY, True),  # 12:01 Berlin
        (datetime(2026, 11, 29, 20, 0, tzinfo=UTC), MONDAY, False),  # the evening before: planned ahead
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), MONDAY, True),  # the next morning: Monday's cut-off is past
    ],
)
def test_a_cut_off_passes_on_the_tenants_wall_clock_on_the_business_date(
    placed_at: datetime, business_date: date, passed: bool
) -> None:
    local = placed_at.astimezone(BERLIN)
    assert cutoff_passed(time(12, 0), business_date=business_date, placed_at=local) is passed
    assert cutoff_passed(None, business_date=business_date, placed_at=local) is False


def test_the_same_command_releases_the_same_orders_and_another_saga_numbers_its_own() -> None:
    lines = (a_line("mill", "flour"), a_line("farm", "eggs"))
    first, again = release(a_command(*lines)), release(a_command(*lines))
    assert first == again
    other = a_command(*lines).model_copy(update={"saga_id": UUID("7c1d0e2f-0000-4000-8000-000000000000")})
    assert {o.po_number for o in release(other).orders} == {"PO-20261130-7C1D0E2F-01", "PO-20261130-7C1D0E2F-02"}
    assert {o.po_number for o in first.orders}.isdisjoint(o.po_number for o in release(other).orders)


def test_a_line_the_command_does_not_describe_is_a_planning_error_naming_it() -> None:
    stray = a_line("unknown-mill", "flour")
    with pytest.raises(PlanningError, match=r"names supplier 'unknown-mill'.*rebuild it from the saga's snapshot"):
        release(a_command(stray))
    with pytest.raises(PlanningError, match=r"names 'rye'"):
        release(a_command(a_line("mill", "rye")))


def test_nothing_to_release_is_no_order() -> None:
    assert release(a_command()).orders == ()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([s.supplier_id for s in SUPPLIERS]),
            st.sampled_from([i.ingredient_id for i in INGREDIENTS]),
            st.integers(0, 3),  # order date, days after the business date
            st.integers(0, 5),  # delivery, days after the order date
            st.floats(0.5, 500),
            st.booleans(),
        ),
        max_size=12,
        unique_by=lambda t: (t[0], t[1], t[2] + t[3]),  # one line per supplier × ingredient × delivery date
    ),
    st.integers(0, 23),
)
def test_every_line_is_either_in_exactly_one_order_or_held_and_totals_add_up(
    drawn: list[tuple[str, str, int, int, float, bool]], hour: int
) -> None:
    lines = [
        a_line(
            supplier,
            ingredient,
            order=MONDAY + timedelta(days=order),
            delivery=MONDAY + timedelta(days=order + delivery),
            quantity=round(quantity, 3),
            emergency=emergency,
        )
        for supplier, ingredient, order, delivery, quantity, emergency in drawn
    ]
    result = release(a_command(*lines, placed_at=datetime(2026, 11, 30, hour, tzinfo=UTC)))
    released = [line.line_id for o in result.orders for line in o.lines]
    held = [h.line_id for h in result.held]
    assert sorted(released + held) == sorted(line.line_id for line in lines)
    assert len(set(released)) == len(released)
    assert len({o.po_number for o in result.orders}) == len(result.orders)
    for order in result.orders:
        assert len({(o.supplier_id, o.delivery_date) for o in result.orders}) == len(result.orders)
        assert order.total == round(sum(line.amount for line in order.lines), 2)
    for line in lines:
        if line.emergency:
            assert line.line_id in released
        elif line.order_date > MONDAY:
            assert line.line_id in held
