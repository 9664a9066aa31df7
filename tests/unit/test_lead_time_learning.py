"""Unit tests of learning lead times and on-time rates from receipts: the posteriors, the suppliers the
plan uses, what a purchase line records, and the receipts the world books (docs/learning.md)."""

from datetime import date, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bakeplan.cli.explain_views import lead_time_text
from contracts.planning import PlanningSnapshot, SupplierReceipt
from lab.simulation.learning import learning_trial
from lab.simulation.world import Order, World, delivery_dates
from orchestrator.replay_explain import lead_time_source
from orchestrator.snapshot_reader import RECEIPTS_PER_SUPPLIER
from tests.unit.test_procurement_replenishment import a_supplier, an_ingredient, daily_needs, day
from workers.procurement.lead_time_learning import (
    ON_TIME_PRIOR_RECEIPTS,
    PRIOR_RECEIPTS,
    RECENT_RECEIPTS,
    lead_time_posterior,
    learned_suppliers,
    on_time_posterior,
    recent,
    whole_days,
)
from workers.procurement.replenishment import plan_purchases

pytestmark = pytest.mark.unit

ORDERED = date(2024, 5, 6)
SAGA = UUID("6f1c1f0e-2b1a-4c55-9d8e-0a6b3c2d1e02")

deviations = st.lists(st.integers(min_value=-3, max_value=10).map(float), max_size=60)
leads = st.integers(min_value=0, max_value=14)
sds = st.floats(min_value=0, max_value=5, allow_nan=False)


def a_receipt(
    took_days: int,
    *,
    supplier_id: str = "mill",
    ingredient_id: str = "flour",
    asked_days: int | None = None,
    ordered_on: date = ORDERED,
    reference: str = "",
) -> SupplierReceipt:
    return SupplierReceipt(
        supplier_id=supplier_id,
        ingredient_id=ingredient_id,
        ordered_on=ordered_on,
        expected_on=ordered_on + timedelta(days=took_days if asked_days is None else asked_days),
        received_on=ordered_on + timedelta(days=took_days),
        reference=reference,
    )


@given(leads, sds)
def test_no_receipts_give_the_master_data_exactly(lead: int, sd: float) -> None:
    posterior = lead_time_posterior(lead, sd, [])

    assert (posterior.mean_days, posterior.sd_days) == (lead, sd)
    assert on_time_posterior(0.87, []) == 0.87


@given(leads, sds, st.integers(min_value=-3, max_value=10), st.integers(min_value=0, max_value=3))
def test_many_receipts_give_the_observed_mean_and_spread(lead: int, sd: float, shift: int, spread: int) -> None:
    observed = [float(shift - spread), float(shift + spread)] * 500

    posterior = lead_time_posterior(lead, sd, observed)

    assert posterior.mean_days == pytest.approx(lead + shift, abs=PRIOR_RECEIPTS * abs(shift) / len(observed) + 1e-9)
    # E[σ²] differs from the observed variance by at most (2·sd₀² + k·x̄² + 2·s²) / n
    bound = (2 * sd**2 + PRIOR_RECEIPTS * shift**2 + 2 * spread**2) / len(observed)
    assert posterior.sd_days**2 == pytest.approx(spread**2, abs=bound)


@given(leads, sds, deviations)
def test_the_mean_lies_between_the_master_data_and_the_observed_mean_by_the_prior_weight(
    lead: int, sd: float, observed: list[float]
) -> None:
    posterior = lead_time_posterior(lead, sd, observed)

    if observed:
        mean = sum(observed) / len(observed)
        assert posterior.mean_days == pytest.approx(lead + len(observed) * mean / (PRIOR_RECEIPTS + len(observed)))
        assert min(lead, lead + mean) - 1e-9 <= posterior.mean_days <= max(lead, lead + mean) + 1e-9
    assert posterior.sd_days >= 0


def test_few_receipts_move_the_lead_time_part_of_the_way() -> None:
    """Three receipts two days late against a prior worth three: half way, spread from the disagreement."""
    posterior = lead_time_posterior(3, 0.0, [2.0, 2.0, 2.0])

    assert posterior.mean_days == pytest.approx(4.0)
    # β = 3·3·4 / (2·6) = 3, α = 2 + 1.5: σ² = 3 / 2.5
    assert posterior.sd_days == pytest.approx((3 / 2.5) ** 0.5)


@given(st.floats(min_value=0, max_value=1), st.lists(st.booleans(), max_size=80))
def test_the_on_time_rate_is_the_beta_posterior_mean(master: float, flags: list[bool]) -> None:
    rate = on_time_posterior(master, flags)

    expected = (ON_TIME_PRIOR_RECEIPTS * master + sum(flags)) / (ON_TIME_PRIOR_RECEIPTS + len(flags))
    assert rate == pytest.approx(expected)
    assert 0 <= rate <= 1


def test_many_receipts_give_the_observed_on_time_share() -> None:
    assert on_time_posterior(0.99, [True, False, False, False] * 500) == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize(("days", "whole"), [(2.49, 2), (2.5, 3), (-0.7, 0), (4.0, 4)])
def test_the_plan_orders_in_whole_days_rounded_half_up(days: float, whole: int) -> None:
    assert whole_days(days) == whole


def test_bad_priors_are_refused_with_the_values() -> None:
    with pytest.raises(ValueError, match="master_sd_days must be ≥ 0"):
        lead_time_posterior(2, -1.0, [])
    with pytest.raises(ValueError, match="master_rate must be in"):
        on_time_posterior(1.5, [])


def test_a_supplier_without_receipts_is_planned_on_its_master_data_unchanged() -> None:
    mill, dairy = a_supplier("mill", lead_time_days=2), a_supplier("dairy", "milk", lead_time_days=1)

    learned = learned_suppliers([mill, dairy], [a_receipt(5, supplier_id="mill")])

    assert learned.suppliers[1] is dairy
    assert set(learned.learning) == {"mill"}
    assert learned.facts("dairy", "milk") == {}


def test_a_slow_suppliers_receipts_lengthen_every_item_and_lower_its_on_time_rate() -> None:
    """Master data says 2 days; ten deliveries took 4 (asked for day 2: late). Every item moves."""
    mill = a_supplier("mill", lead_time_days=2, on_time_rate=0.95)
    mill = mill.model_copy(update={"items": (*mill.items, mill.items[0].model_copy(update={"ingredient_id": "rye"}))})

    learned = learned_suppliers([mill], [a_receipt(4, asked_days=2, reference=f"PO-{n}/1") for n in range(10)])

    (supplier,) = learned.suppliers
    shift = 10 * 2 / (PRIOR_RECEIPTS + 10)
    assert [item.lead_time_days for item in supplier.items] == [whole_days(2 + shift)] * 2 == [4, 4]
    assert supplier.on_time_rate == pytest.approx(ON_TIME_PRIOR_RECEIPTS * 0.95 / (ON_TIME_PRIOR_RECEIPTS + 10))
    facts = learned.facts("mill", "rye")
    assert facts["lead_time_source"] == "learned"
    assert facts["lead_time_receipts"] == 10
    assert facts["master_lead_time_days"] == 2
    assert facts["observed_lead_time_mean_days"] == 4.0
    assert facts["learned_lead_time_mean_days"] == round(2 + shift, 3)


def test_receipts_of_unknown_items_and_suppliers_teach_nothing() -> None:
    mill = a_supplier("mill", lead_time_days=2)

    learned = learned_suppliers([mill], [a_receipt(9, ingredient_id="rye"), a_receipt(9, supplier_id="gone")])

    assert learned.suppliers == (mill,)
    assert learned.learning == {}


def test_only_each_suppliers_latest_receipts_count_whatever_their_order() -> None:
    receipts = [a_receipt(2, ordered_on=ORDERED + timedelta(days=n), reference=f"{n}") for n in range(45)]

    kept = recent(list(reversed(receipts)))["mill"]

    assert [r.reference for r in kept] == [f"{n}" for n in range(45 - RECENT_RECEIPTS, 45)]
    assert recent(receipts) == recent(list(reversed(receipts)))


def test_the_snapshot_reads_as_many_receipts_as_the_learning_uses() -> None:
    assert RECEIPTS_PER_SUPPLIER == RECENT_RECEIPTS


def test_the_plan_orders_a_slow_supplier_earlier_and_says_why() -> None:
    """Master: 1 day. Receipts: it takes 3. Lines are ordered 3 days ahead of delivery, not 1."""
    mill = a_supplier("mill", lead_time_days=1)
    needs = daily_needs(6, 6, 10.0)
    slow = [a_receipt(3, asked_days=1, ordered_on=ORDERED - timedelta(days=n)) for n in range(12)]

    on_master = plan_purchases(SAGA, [an_ingredient()], [], [mill], needs, business_date=day(0))
    learned = plan_purchases(SAGA, [an_ingredient()], [], [mill], needs, business_date=day(0), receipts=slow)

    assert [(line.order_date, line.delivery_date) for line in on_master] == [(day(5), day(6))]
    assert [(line.delivery_date - line.order_date).days for line in learned] == [3]
    assert on_master[0].reasoning is not None
    assert learned[0].reasoning is not None
    assert "lead_time_source" not in on_master[0].reasoning.facts
    assert learned[0].reasoning.facts["lead_time_source"] == "learned"
    assert learned[0].reasoning.facts["lead_time_days"] == 3
    assert learned[0].reasoning.facts["lead_time_receipts"] == 12


def test_no_receipts_plan_exactly_as_before() -> None:
    mill = a_supplier("mill", lead_time_days=2, on_time_rate=0.9)
    needs = daily_needs(1, 10, 7.0, sd=2.0)

    assert plan_purchases(SAGA, [an_ingredient()], [], [mill], needs, business_date=day(0), receipts=()) == (
        plan_purchases(SAGA, [an_ingredient()], [], [mill], needs, business_date=day(0))
    )


def test_the_world_books_a_receipt_per_delivered_line_as_goods_in_does() -> None:
    mill = a_supplier("mill", lead_time_days=2)
    world = World([an_ingredient()], [], {"flour": 1.0})
    order = Order("mill", "flour", 5.0, 1.0, delivery_date=ORDERED + timedelta(days=2))
    planned, arrives = delivery_dates(order, mill, lead_time_days=2, ordered_on=ORDERED, seed=1, extra_lead_time_days=2)
    world.place(order, ordered_on=ORDERED, planned_on=planned, arrives_on=arrives)

    world.receive(arrives)

    assert (planned, arrives) == (ORDERED + timedelta(days=2), ORDERED + timedelta(days=4))
    assert world.receipts(since=ORDERED) == (
        SupplierReceipt(
            supplier_id="mill",
            ingredient_id="flour",
            ordered_on=ORDERED,
            expected_on=planned,
            received_on=arrives,
            reference="SO000001",
        ),
    )
    assert world.receipts(since=arrives + timedelta(days=1)) == ()


@pytest.mark.parametrize("seed", [1, 4, 5])
def test_learning_recovers_the_fill_rate_a_slow_supplier_costs(seed: int) -> None:
    """The learning test (issue 15): a supplier truly 2 days slower than its master data says."""
    trial = learning_trial(profile="small", seed=seed, days=56, extra_days=2)

    assert trial.learned_on is not None
    assert trial.receipts_when_learned is not None
    assert 1 <= trial.receipts_when_learned <= 12
    assert trial.with_learning.fill_rate >= trial.without_learning.fill_rate + 0.02
    assert trial.without_learning.fill_rate < trial.punctual.fill_rate
    after_with, after_without = trial.with_learning.fill_rate_after, trial.without_learning.fill_rate_after
    assert after_with is not None
    assert after_without is not None
    assert after_with >= after_without + 0.02


def test_explain_says_a_lead_time_was_learned_from_how_many_receipts_and_shows_it() -> None:
    mill = a_supplier("mill", lead_time_days=1, on_time_rate=0.95)
    slow = [a_receipt(3, asked_days=1, ordered_on=ORDERED - timedelta(days=n)) for n in range(12)]
    (line,) = plan_purchases(
        SAGA, [an_ingredient()], [], [mill], daily_needs(6, 6, 10.0), business_date=day(0), receipts=slow
    )
    snapshot = PlanningSnapshot(
        tenant_id="kiosk",
        business_date=day(0),
        horizon_days=7,
        products=(),
        recipes=(),
        ingredients=(an_ingredient(),),
        stock_lots=(),
        suppliers=(mill,),
        sales=(),
        receipts=tuple(slow),
    )
    assert line.reasoning is not None

    lead = lead_time_source(snapshot, line, dict(line.reasoning.facts))
    on_master = lead_time_source(snapshot.model_copy(update={"receipts": ()}), line, {})

    assert lead["source"] == "learned"
    assert (lead["receipts"], lead["lead_time_days"], lead["master_lead_time_days"]) == (12, 3, 1)
    assert lead["observed_mean_days"] == 3.0
    assert lead["on_time_rate"] == round(5 * 0.95 / 17, 4)
    assert on_master == {
        "source": "master_data",
        "lead_time_days": 1,
        "sd_lt_days": 0.0,
        "receipts": 0,
        "on_time_rate": 0.95,
    }
    text = lead_time_text(lead, "Mill")
    assert "learned from 12 receipt(s) of Mill" in text
    assert "master data said 1 d" in text
    assert lead_time_text(on_master, "Mill") == "\n  lead time 1 d (σ 0 d): master data of Mill"
