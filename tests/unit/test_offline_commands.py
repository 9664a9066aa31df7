"""`bakeplan plan`, `backtest`, `simulate` and `snapshot`: offline, on files, without Kafka or Postgres."""

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from bakeplan.cli import app
from contracts.messages import SnapshotTaken
from contracts.planning import PlanningSnapshot

pytestmark = pytest.mark.unit
runner = CliRunner()


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "small.json"
    result = runner.invoke(
        app, ["snapshot", "--profile", "small", "--seed", "3", "--tenant", "kiosk", "--out", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


def test_plan_of_a_snapshot_file_is_complete_and_the_same_every_time(snapshot_file: Path) -> None:
    first = run("plan", "--input", str(snapshot_file), "--json")
    second = run("plan", "--input", str(snapshot_file), "--json")
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    snapshot = PlanningSnapshot.model_validate_json(snapshot_file.read_text())
    open_days = [
        snapshot.business_date + timedelta(days=n)
        for n in range(snapshot.horizon_days)
        if snapshot.calendar.is_open(snapshot.business_date + timedelta(days=n))
    ]
    assert len(first["forecast"]) == len(snapshot.products) * len(open_days)
    assert first["batches"], "a small bakery with a year of sales bakes something"
    assert first["purchase_lines"], "and needs to buy something within two weeks"
    for line in first["purchase_lines"]:
        assert line["quantity"] > 0
        assert line["reasoning"]["rule"], "every purchase line says which rule made it"
    for batch in first["batches"]:
        assert batch["reasoning"]["rule"]


def test_a_recorded_snapshot_message_plans_under_its_own_saga(snapshot_file: Path, tmp_path: Path) -> None:
    snapshot = PlanningSnapshot.model_validate_json(snapshot_file.read_text())
    saga_id = UUID("0b3f1d7c-3c2a-4e5f-8a9b-112233445566")
    message = SnapshotTaken(
        event_id=UUID("0b3f1d7c-3c2a-4e5f-8a9b-000000000001"),
        tenant_id=snapshot.tenant_id,
        saga_id=saga_id,
        occurred_at=datetime(2026, 5, 4, 4, 30, tzinfo=UTC),
        snapshot=snapshot,
        content_sha256="0" * 64,
    )
    recorded = tmp_path / "recorded.json"
    recorded.write_text(message.model_dump_json())
    by_message = run("plan", "--input", str(recorded), "--json")
    bare = run("plan", "--input", str(snapshot_file), "--json")
    assert by_message["saga_id"] == str(saga_id)
    assert bare["saga_id"] != str(saga_id)
    # Ids derive from the saga; quantities do not.
    assert [line["quantity"] for line in by_message["purchase_lines"]] == [
        line["quantity"] for line in bare["purchase_lines"]
    ]
    assert {line["line_id"] for line in by_message["purchase_lines"]}.isdisjoint(
        line["line_id"] for line in bare["purchase_lines"]
    )


def test_plan_names_the_bad_field_of_an_invalid_snapshot(snapshot_file: Path, tmp_path: Path) -> None:
    raw = json.loads(snapshot_file.read_text())
    raw["products"][0]["unit_price"] = "cheap"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    result = runner.invoke(app, ["plan", "--input", str(bad)])
    assert result.exit_code == 2
    assert "products.0.unit_price" in result.output


def test_snapshot_is_the_seeded_tenant_warm_unless_cold(snapshot_file: Path, tmp_path: Path) -> None:
    cold_file = tmp_path / "cold.json"
    same = ("--profile", "small", "--seed", "3", "--tenant", "kiosk")
    written = run("snapshot", *same, "--out", str(cold_file), "--cold", "--json")
    warm = PlanningSnapshot.model_validate_json(snapshot_file.read_text())
    cold = PlanningSnapshot.model_validate_json(cold_file.read_text())

    assert written["start"] == "cold"
    assert warm.open_purchase_orders, "warm: orders from the weeks before are on their way"
    assert cold.open_purchase_orders == ()
    assert warm.stock_lots != cold.stock_lots
    assert warm.model_copy(update={"stock_lots": (), "open_purchase_orders": ()}) == cold.model_copy(
        update={"stock_lots": ()}
    ), "the master data and sales are the same"


def test_plan_rejects_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("flour: 25kg\n")
    result = runner.invoke(app, ["plan", "--input", str(bad)])
    assert result.exit_code == 2
    assert "is not JSON" in result.output


def weekly_sales_csv(days: int) -> str:
    """A stable weekly pattern plus seeded noise: last week's value repeats last week's noise."""
    noise = random.Random(5)
    start = date(2024, 1, 1)  # a Monday
    rows = ["date,product,quantity"]
    for n in range(days):
        day = start + timedelta(days=n)
        if day.weekday() == 6:
            continue  # closed on Sundays: missing rows, not zeros
        level = 100 + 40 * (day.weekday() == 5)
        rows.append(f"{day},bread,{level + noise.gauss(0, 12):.2f}")
        rows.append(f"{day},rolls,{0.5 * level + noise.gauss(0, 6):.2f}")
    return "\n".join(rows) + "\n"


def test_backtest_reports_every_key_and_beats_naive_on_a_weekly_pattern(tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text(weekly_sales_csv(200))
    report = run(
        "backtest", "--sales", str(sales), "--start", "2024-05-01", "--end", "2024-06-30", "--horizon", "7", "--json"
    )
    for key in ("relative_mae", "wape", "baseline_wape", "bias", "coverage_80", "series", "forecasts", "seconds"):
        assert key in report
    assert report["series"] == 2
    assert report["forecasts"] > 0
    assert report["relative_mae"] < 1.0, report


def test_backtest_names_the_bad_line_of_a_csv(tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("date,product,quantity\n2024-01-01,bread,12\n2024-01-02,bread,lots\n")
    result = runner.invoke(app, ["backtest", "--sales", str(sales)])
    assert result.exit_code == 2
    assert "line 3" in result.output


def test_simulate_prints_the_metrics_and_rejects_an_unknown_policy() -> None:
    report = run("simulate", "--days", "14", "--profile", "small", "--policy", "minmax", "--seed", "2", "--json")
    for key in (
        "fill_rate",
        "cycle_service_level",
        "stockout_days",
        "waste_rate",
        "waste_value",
        "avg_inventory_value",
        "ordering_cost",
        "holding_cost",
        "lost_sales_value",
        "total_cost",
    ):
        assert key in report
    assert 0 <= report["fill_rate"] <= 1
    parts = ("ordering_cost", "holding_cost", "lost_sales_value", "waste_value")
    assert report["total_cost"] == pytest.approx(sum(report[k] for k in parts))
    result = runner.invoke(app, ["simulate", "--days", "14", "--policy", "guesswork"])
    assert result.exit_code == 2
    assert "guesswork" in result.output


def test_simulate_a_slow_supplier_with_and_without_learning() -> None:
    """The learning test on the command line (docs/learning.md): learning wins back the fill rate."""
    common = ("simulate", "--days", "56", "--profile", "small", "--policy", "bakeplan", "--seed", "1", "--json")
    slow = run(*common, "--slow-supplier", "S003:2")
    learned = run(*common, "--slow-supplier", "S003:2", "--learn")

    assert learned["fill_rate"] >= slow["fill_rate"] + 0.03
    assert learned["total_cost"] < slow["total_cost"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slow-supplier", "S003"], "write SUPPLIER_ID:DAYS"),
        (["--slow-supplier", "S999:2"], "unknown supplier(s) S999"),
        (["--policy", "minmax", "--learn"], "does not learn lead times"),
    ],
)
def test_simulate_refuses_a_bad_slow_supplier_or_learning_without_bakeplan(args: list[str], message: str) -> None:
    base = ["simulate", "--days", "3", "--profile", "small"]
    result = runner.invoke(app, base + (args if "--policy" in args else ["--policy", "bakeplan", *args]))

    assert result.exit_code == 2
    assert message in result.output
