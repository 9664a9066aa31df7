"""What people read of a plan: quantities with their unit, money with its currency, things by name, the
ten most important lines, the demo's one screen, and no cell cut on a 100-column terminal."""

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from bakeplan.cli import app, terminal
from bakeplan.cli.amounts import money, named, number, purchase_text, quantity, tenant_label, unit_price
from bakeplan.cli.demo import plan_screen
from bakeplan.cli.plan_digest import digest, expected_waste, most_important
from bakeplan.cli.plan_tables import batch_table, offline_rows, purchase_table, short_id
from bakeplan.cli.tenant_views import local_today
from bakeplan.cli.tenants import tenants_table
from lab.synthetic import generate_tenant
from workers.chain import plan_snapshot

pytestmark = pytest.mark.unit
WIDTH = 100


def rendered(renderable: RenderableType, width: int = WIDTH) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def nothing_cut(renderable: RenderableType) -> bool:
    """At 100 columns the renderable shows every character it shows on a 400-column terminal: cells
    fold onto more lines, none is cropped at the edge or shortened to `…`."""

    def characters(width: int) -> Counter[str]:
        return Counter("".join(rendered(renderable, width).split()))

    return characters(WIDTH) == characters(400)


def words_present(text: str, phrase: str) -> bool:
    """Every word of `phrase` is in `text` whole (a folded cell breaks between lines, never drops)."""
    flat = re.sub(r"\s+", " ", text)
    return all(word in flat for word in phrase.split())


# --- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (40.0, "kg", "40 kg"),
        (2.5, "l", "2.5 l"),
        (1500, "pcs", "1,500 pcs"),
        (45.256, "kg", "45.256 kg"),
        (0.0004, "kg", "0.0004 kg"),
        (0.25, "l", "0.25 l"),
        (12.3456, None, "12.346 units"),
    ],
)
def test_a_quantity_reads_with_its_unit(value: float, unit: str | None, text: str) -> None:
    assert quantity(value, unit) == text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(2272.4, "EUR", "2,272.40 EUR"), (0.5, "CHF", "0.50 CHF"), (1_234_567.891, "SEK", "1,234,567.89 SEK")],
)
def test_money_has_two_decimals_and_its_currency(amount: float, currency: str, text: str) -> None:
    assert money(amount, currency) == text


@pytest.mark.parametrize(
    ("price", "unit", "text"),
    [
        (2.437, "kg", "2.44 EUR/kg"),
        (0.0042, "pcs", "0.0042 EUR/pcs"),
        (0.16, "pcs", "0.16 EUR/pcs"),
        (0, "l", "0.00 EUR/l"),
    ],
)
def test_a_unit_price_keeps_two_significant_digits(price: float, unit: str, text: str) -> None:
    assert unit_price(price, "EUR", unit) == text


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_a_positive_number_never_reads_as_zero_or_in_exponents(value: float) -> None:
    text = number(value)
    assert "e" not in text
    assert float(text.replace(",", "")) > 0


def test_a_purchase_line_reads_as_one_sentence_and_falls_back_to_ids() -> None:
    line = {
        "quantity": 40.0, "unit": "kg", "ingredient_id": "I0006", "ingredient_name": "Rye flour type 1150",
        "supplier_id": "S001", "supplier_name": "Mühle Nord", "unit_price": 2.437, "currency": "EUR",
    }  # fmt: skip
    removed = {**line, "ingredient_name": None, "unit": None, "supplier_name": None}

    assert purchase_text(line) == "40 kg Rye flour type 1150 from Mühle Nord at 2.44 EUR/kg"
    assert purchase_text(removed) == "40 units I0006 from S001 at 2.44 EUR/unit"
    assert named("", "P1") == "P1"
    assert tenant_label("demo-001", "Mill Lane Bakery") == "Mill Lane Bakery (demo-001)"
    assert tenant_label("demo-001", None) == "demo-001"


# --- the ten most important lines ------------------------------------------------------------------


def a_line(n: int, *, value: float, late: bool = False, order: date = date(2026, 12, 5)) -> dict[str, Any]:
    return {
        "line_id": f"{n:08d}-line", "supplier_id": f"S{n % 3}", "supplier_name": f"Supplier {n % 3}",
        "ingredient_id": f"I{n}", "ingredient_name": f"Ingredient {n}", "unit": "kg", "quantity": 10.0,
        "unit_price": value / 10, "currency": "EUR", "late": late, "order_date": order,
        "delivery_date": order + timedelta(days=2), "status": "active", "reasoning": None,
    }  # fmt: skip


def test_late_lines_come_first_then_the_most_valuable() -> None:
    lines = [a_line(n, value=100.0 * n) for n in range(1, 15)] + [
        a_line(90, value=5.0, late=True),
        a_line(91, value=50.0, late=True),
    ]
    top = most_important(lines)

    assert len(top) == 10
    assert [line["line_id"] for line in top[:2]] == ["00000091-line", "00000090-line"]
    assert [line["ingredient_id"] for line in top[2:]] == [f"I{n}" for n in range(14, 6, -1)]


def test_equal_lines_are_ordered_by_order_date_then_id_so_the_ten_are_always_the_same() -> None:
    lines = [a_line(n, value=100.0, order=date(2026, 12, 5) + timedelta(days=n % 2)) for n in range(12)]
    assert most_important(lines) == most_important(list(reversed(lines)))
    assert [line["order_date"].day for line in most_important(lines)[:6]] == [5] * 6


def a_batch(product: str, day: int, batches: int, units: int, oven_minutes: int) -> dict[str, Any]:
    return {
        "batch_id": f"{product}-{day}", "product_id": product, "day": date(2026, 12, day), "batches": batches,
        "units": units, "oven_minutes": oven_minutes,
    }  # fmt: skip


def test_the_digest_sums_per_day_and_supplier_and_values_the_expected_waste() -> None:
    wasteful = a_line(1, value=30.0) | {"reasoning": {"rule": "r", "facts": {"expected_waste": 2.5}}}
    plan = {
        "currency": "CHF",
        "batches": [
            a_batch("P1", 5, 2, 40, 50),
            a_batch("P2", 5, 1, 12, 30),
            a_batch("P1", 7, 1, 20, 25),
        ],
        "purchase_lines": [wasteful, a_line(4, value=70.0, late=True), a_line(2, value=10.0)],
    }  # fmt: skip
    d = digest(plan)

    assert [(x.day.day, x.batches, x.pieces, x.oven_minutes) for x in d.days] == [(5, 3, 52, 80), (7, 1, 20, 25)]
    assert [(s.name, s.lines, round(s.total, 2)) for s in d.suppliers] == [
        ("Supplier 1", 2, 100.0),
        ("Supplier 2", 1, 10.0),
    ]
    assert [line["line_id"] for line in d.late] == ["00000004-line"]
    assert expected_waste(wasteful) == 2.5
    assert d.waste_value == pytest.approx(2.5 * 3.0)
    assert (d.batches, d.pieces, d.lines, round(d.total, 2), d.currency) == (4, 72, 3, 110.0, "CHF")


# --- no cell cut at 100 columns ------------------------------------------------------------------


@pytest.fixture(scope="module")
def standard_plan() -> dict[str, Any]:
    """A standard synthetic bakery planned offline, as the read model's rows (long names included)."""
    tenant = generate_tenant("wide", profile="standard", seed=7, today=date(2026, 12, 5), components=True)
    snapshot = tenant.planning_snapshot(business_date=date(2026, 12, 5), horizon_days=14)
    result = plan_snapshot(snapshot, saga_id=UUID("00000000-0000-4000-8000-00000000000a"))
    batches, lines = offline_rows(snapshot, result.batches, result.purchase_lines, currency="EUR")
    return {
        "tenant_id": "wide",
        "tenant_name": "Bäckerei Schwarzwälder-Kirschtortenmanufaktur",
        "business_date": date(2026, 12, 5),
        "currency": "EUR",
        "batches": [b | {"day": date.fromisoformat(b["day"]), "status": "active"} for b in batches],
        "purchase_lines": [p | {"order_date": date.fromisoformat(p["order_date"]), "status": "active"} for p in lines],
    }


def a_saga(plan: dict[str, Any]) -> dict[str, Any]:
    start = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
    events = [("started", None, "by demo (operator); snapshot 348a19fc0cab (232853 bytes)")] + [
        (kind, step, "attempt 1" if kind == "RunStep" else "")
        for step in ("forecasting", "production", "procurement")
        for kind in ("RunStep", "step_done")
    ] + [("FinishSaga", None, "COMPLETED")]  # fmt: skip
    return {
        "saga_id": UUID("3d65526d-2f3a-58a6-83f3-3a5e62ac1d99"),
        "tenant_id": plan["tenant_id"],
        "tenant_name": plan["tenant_name"],
        "business_date": plan["business_date"],
        "status": "COMPLETED",
        "created_at": start,
        "timeline": [
            {"at": start + timedelta(milliseconds=300 * n), "kind": kind, "step": step, "detail": detail}
            for n, (kind, step, detail) in enumerate(events)
        ],
    }


def test_the_demo_screen_fits_100_columns_without_cutting_a_cell(standard_plan: dict[str, Any]) -> None:
    text = rendered(plan_screen(a_saga(standard_plan), standard_plan))
    d = digest(standard_plan)
    assert nothing_cut(plan_screen(a_saga(standard_plan), standard_plan))

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    for line in d.top:
        assert short_id(line["line_id"]) in text
        assert words_present(text, purchase_text(line))
    for supplier in d.suppliers:
        assert words_present(text, f"{supplier.name} {supplier.lines} {money(supplier.total, 'EUR')}")
    assert f"bakeplan plan-of {a_saga(standard_plan)['saga_id']}" in text
    assert f"--line {short_id(d.top[0]['line_id'])}" in text
    assert "production batches per day" in text
    assert "purchase lines per supplier" in text
    # one screen: the timeline, the digest and the ten lines, not the plan's hundreds of rows
    assert len(text.splitlines()) < 75 < len(standard_plan["purchase_lines"])


def test_plan_of_tables_keep_every_name_and_id_at_100_columns(standard_plan: dict[str, Any]) -> None:
    lines = rendered(purchase_table(standard_plan["purchase_lines"], currency="EUR"))
    batches = rendered(batch_table(standard_plan["batches"]))

    assert "…" not in lines + batches
    assert nothing_cut(purchase_table(standard_plan["purchase_lines"], currency="EUR"))
    assert nothing_cut(batch_table(standard_plan["batches"]))
    assert max(len(line) for line in (lines + batches).splitlines()) <= WIDTH
    for p in standard_plan["purchase_lines"]:
        assert short_id(p["line_id"]) in lines
    for b in standard_plan["batches"]:
        assert short_id(b["batch_id"]) in batches
    flat = re.sub(r"\s+", " ", lines)
    assert "price EUR" in flat
    assert "value EUR" in flat
    assert all(words_present(lines, p["supplier_name"]) for p in standard_plan["purchase_lines"])


def test_the_offline_plan_names_what_it_buys_and_json_keeps_the_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the command prints through the shared console, whose width an earlier test's terminal may have set
    monkeypatch.setattr(terminal.console, "_width", 100)
    runner = CliRunner()
    path = tmp_path / "snapshot.json"
    made = runner.invoke(app, ["snapshot", "--profile", "small", "--seed", "3", "--out", str(path)])
    assert made.exit_code == 0, made.output

    as_json = runner.invoke(app, ["plan", "--input", str(path), "--currency", "CHF", "--json"])
    as_text = runner.invoke(app, ["plan", "--input", str(path), "--currency", "CHF"])
    bad = runner.invoke(app, ["plan", "--input", str(path), "--currency", "chf"])

    plan = json.loads(as_json.stdout)
    line = plan["purchase_lines"][0]
    assert {"line_id", "supplier_id", "ingredient_id", "quantity", "unit_price"} <= line.keys()
    assert (line["currency"], plan["currency"]) == ("CHF", "CHF")
    assert line["ingredient_name"]
    assert line["supplier_name"]
    assert line["unit"] in {"kg", "l", "pcs"}
    assert plan["batches"][0]["unit"] == "pcs"
    assert plan["batches"][0]["product_name"]
    assert "price CHF" in as_text.stdout
    assert words_present(as_text.stdout, line["supplier_name"])
    assert bad.exit_code == 2
    assert "ISO 4217" in bad.output


def test_the_tenants_table_keeps_every_saga_id_at_100_columns() -> None:
    rows = [
        {
            "tenant_id": f"chain-{n:03d}-bakery-with-a-long-id", "name": "Bäckerei Schwarzwälder Kirschtorte",
            "time_zone": "America/Argentina/ComodRivadavia", "currency": "EUR",
            "schedule": {"time_zone": "Pacific/Kiritimati", "run_at": "04:30", "cutoff": "10:00", "paused": n == 1,
                         "next_run_at": None if n == 1 else datetime(2026, 12, 5, 14, 30, tzinfo=UTC)},
            "last_plan": {"saga_id": UUID(int=n), "business_date": date(2026, 12, 5), "status": "COMPENSATED"},
        }
        for n in range(3)
    ]  # fmt: skip
    text = rendered(tenants_table(rows))

    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert nothing_cut(tenants_table(rows))
    wide = re.sub(r"\s+", " ", rendered(tenants_table(rows), 400))
    assert all(str(UUID(int=n)) in wide for n in range(3))
    assert "2026-12-06 04:30" in wide  # 14:30 UTC is 04:30 the next day in Kiritimati (UTC+14)
    assert "daily 04:30 Pacific/Kiritimati, paused" in wide


# --- a tenant's local today ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "today"),
    [
        ("Pacific/Kiritimati", datetime(2026, 3, 30, 12, 0, tzinfo=UTC), date(2026, 3, 31)),  # UTC+14
        ("Pacific/Pago_Pago", datetime(2026, 3, 30, 5, 0, tzinfo=UTC), date(2026, 3, 29)),  # UTC-11
        ("Europe/Berlin", datetime(2026, 3, 29, 22, 30, tzinfo=UTC), date(2026, 3, 30)),  # the night DST began
        ("UTC", datetime(2026, 3, 30, 23, 59, tzinfo=UTC), date(2026, 3, 30)),
    ],
)
def test_local_today_is_the_date_in_the_tenants_zone(zone: str, now: datetime, today: date) -> None:
    assert local_today(zone, now) == today


def test_local_today_refuses_a_naive_clock_and_an_unknown_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_today("Europe/Berlin", datetime(2026, 3, 30, 12, 0))
    with pytest.raises(ValueError, match="unknown time zone"):
        local_today("Europe/Kiel", datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
