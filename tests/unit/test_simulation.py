"""Unit tests of `simulate`: input checks, determinism, policy ordering and real-demand runs (small, short)."""

import dataclasses
from datetime import date, timedelta
from functools import cache

import pytest

from lab.simulation import SimulationReport, simulate
from lab.simulation.demand_csv import csv_truth, guess_family
from lab.simulation.policies import Policy
from lab.simulation.simulator import DEFAULT_START, run
from lab.simulation.truth import synthetic_truth

pytestmark = pytest.mark.unit

FIRST = date(2024, 1, 1)


@cache
def a_run(policy: Policy, *, seed: int = 1, days: int = 21) -> SimulationReport:
    return simulate(days=days, seed=seed, profile="small", policy=policy)


def a_demand(days: int = 60, *, closed: date | None = None) -> dict[str, dict[date, float]]:
    """Two products with weekly patterns; `closed` has no row at all."""
    demand: dict[str, dict[date, float]] = {"bread": {}, "croissant": {}}
    for n in range(days):
        day = FIRST + timedelta(days=n)
        if day != closed:
            demand["bread"][day] = 40.0 + 10 * (day.weekday() == 5)
            demand["croissant"][day] = 25.4
    return demand


@pytest.mark.parametrize("policy", ["minmax", "reorder-level", "perfect", "bakeplan"])
def test_a_run_reports_sane_figures(policy: Policy) -> None:
    report = a_run(policy)

    assert (report.policy, report.days, report.seed, report.profile) == (policy, 21, 1, "small")
    assert 0 <= report.fill_rate <= 1
    assert 0 <= report.cycle_service_level <= 1
    assert 0 <= report.waste_rate <= 1
    assert 0 <= report.stockout_days <= 21
    assert report.orders > 0
    assert report.total_cost == pytest.approx(
        report.ordering_cost + report.holding_cost + report.lost_sales_value + report.waste_value, abs=0.02
    )


def test_the_same_seed_gives_the_same_report_and_another_seed_another() -> None:
    again = simulate(days=21, seed=1, profile="small", policy="minmax")

    assert again == a_run("minmax")
    assert a_run("minmax", seed=2) != a_run("minmax")


def test_perfect_foresight_with_punctual_suppliers_loses_no_sale() -> None:
    """Knowing demand and with every delivery on time, nothing can run short: a bound, not a luck."""
    truth = synthetic_truth(profile="small", seed=2, days=28, start=DEFAULT_START)
    punctual = dataclasses.replace(
        truth, suppliers=tuple(s.model_copy(update={"on_time_rate": 1.0}) for s in truth.suppliers)
    )

    ledger = run(punctual, policy="perfect", seed=2)
    report = ledger.report(policy="perfect", days=28, seed=2, profile="small")

    assert report.fill_rate == 1.0
    assert report.stockout_days == 0
    assert report.orders > 0, "it had to buy to get there"


def test_progress_is_reported_once_a_day() -> None:
    done: list[int] = []

    simulate(days=5, seed=1, profile="small", policy="minmax", progress=done.append)

    assert done == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "eoq"}, r"unknown policy 'eoq'; use one of bakeplan, minmax, reorder-level, perfect"),
        ({"days": 0}, r"days must be at least 1"),
        ({"profile": "huge"}, r"unknown profile 'huge'"),
        ({"demand": {"bread": {FIRST: 1.0}}, "start": FIRST}, r"start cannot be given with demand"),
        ({"demand": {"bread": {FIRST: 1.0, FIRST + timedelta(days=4): 2.0}}}, r"covers 5 days .* at most 4"),
        ({"demand": {}}, r"demand has no rows"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"days": 10, "seed": 1, "profile": "small", "policy": "minmax", **kwargs}

    with pytest.raises(ValueError, match=message):
        simulate(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("bread", "bread"),
        ("seasonal_bread", "seasonal"),
        ("croissant", "pastry"),
        ("Kaiser Roll", "rolls"),
        ("Hot Cross Bun", "seasonal"),
        ("confectionery", "cookies"),
        ("Cheesecake", "cake"),
        ("mystery", "bread"),
    ],
)
def test_a_family_is_guessed_from_the_product_name(name: str, family: str) -> None:
    assert guess_family(name) == family


def test_real_demand_simulates_its_last_days_after_its_history() -> None:
    closed = FIRST + timedelta(days=10)
    truth = csv_truth(a_demand(closed=closed), profile="small", seed=1, days=20)

    assert truth.history_start == FIRST
    assert truth.start == FIRST + timedelta(days=40)
    assert [p.product_id for p in truth.products] == ["bread", "croissant"]
    assert [p.family for p in truth.products] == ["bread", "pastry"]
    assert truth.demand["croissant"][:3] == (25, 25, 25)  # whole pieces
    assert truth.demand["bread"][10] is None  # no row for any product: closed
    assert truth.calendar.closed_dates == (closed,)
    assert truth.components  # the bread goes through the dough base
    assert all(truth.use_per_unit[p.product_id] for p in truth.products)


def test_a_run_on_real_demand_is_deterministic_and_counts_its_pieces() -> None:
    first = simulate(days=14, seed=3, profile="small", policy="reorder-level", demand=a_demand())
    second = simulate(days=14, seed=3, profile="small", policy="reorder-level", demand=a_demand())

    assert first == second
    assert first.days == 14
    assert 0 < first.fill_rate <= 1
