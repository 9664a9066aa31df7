"""A long-format sales export read without a database: revenue becomes units through the product's
price, the days an export leaves out become zeros or stay closed, a move by whole weeks keeps the
weekdays, and every bad row is named `file:line:column: reason`. Also: `examples/kiel` reads cleanly."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.tenant_files.csv_files import read_directory
from orchestrator.tenant_files.reading import read_files, resolve_tenant
from orchestrator.tenant_files.sales import (
    Gaps,
    Measure,
    SalesExport,
    moved_by_weeks,
    moved_to_end,
    read_sales,
    weeks_to_end,
    yesterday,
)
from orchestrator.tenant_files.writing import template_files
from tests.kiel_sales import EXAMPLE, example_prices, kiel_sales
from tests.unit.test_tenant_files import as_raw

pytestmark = pytest.mark.unit
PRICES: dict[str, float | None] = {"bread": 3.40, "rolls": 0.45}


def export(text: str, *, measure: Measure = "units", gaps: Gaps = "zero") -> SalesExport:
    lines = text.splitlines()
    rows = [(n, line.split(",")) for n, line in enumerate(lines[1:], start=2)]
    return SalesExport("sales.csv", lines[0].split(",") if lines else [], rows, measure=measure, gaps=gaps)


def units(text: str, **options: str) -> dict[tuple[str, date], int]:
    reading = read_sales(export(text, **options), PRICES)  # type: ignore[arg-type]
    assert reading.problems == []
    return {(row["product_id"], row["day"]): row["units"] for row in reading.rows}


def problems(text: str, prices: dict[str, float | None] = PRICES, **options: str) -> Sequence[str]:
    return read_sales(export(text, **options), prices).problems  # type: ignore[arg-type]


def test_revenue_is_turned_into_units_through_the_price_rounded_half_up() -> None:
    text = "date,product,quantity\n2017-07-31,bread,34.00\n2017-07-31,rolls,0.225\n2017-08-01,bread,35.69\n"
    assert units(text, measure="revenue") == {
        ("bread", date(2017, 7, 31)): 10,  # 34.00 / 3.40
        ("rolls", date(2017, 7, 31)): 1,  # 0.5 units: half up
        ("bread", date(2017, 8, 1)): 10,  # 10.497…
        ("rolls", date(2017, 8, 1)): 0,  # rolls sold on 31 July, none on 1 August
    }


def test_units_are_read_as_written_and_columns_may_come_in_any_order() -> None:
    text = "Product,Quantity,Date\nbread,12,2017-07-31\nbread,7.0,2017-08-01\n"
    assert units(text) == {("bread", date(2017, 7, 31)): 12, ("bread", date(2017, 8, 1)): 7}


def test_a_day_without_any_row_is_closed_and_a_product_missing_on_an_open_day_sold_none() -> None:
    text = (
        "date,product,quantity\n"
        "2017-07-03,bread,5\n"  # Monday: rolls have not started selling yet
        "2017-07-04,bread,6\n2017-07-04,rolls,40\n"
        # 5 July: no rows, the shop was closed
        "2017-07-06,bread,7\n"  # rolls sold none
        "2017-07-07,rolls,41\n"  # bread sold none
    )
    got = units(text)
    assert got == {
        ("bread", date(2017, 7, 3)): 5,
        ("bread", date(2017, 7, 4)): 6,
        ("bread", date(2017, 7, 6)): 7,
        ("bread", date(2017, 7, 7)): 0,
        ("rolls", date(2017, 7, 4)): 40,
        ("rolls", date(2017, 7, 6)): 0,
        ("rolls", date(2017, 7, 7)): 41,
    }
    reading = read_sales(export(text, gaps="unknown"), PRICES)
    assert {(r["product_id"], r["day"]) for r in reading.rows} == {k for k, v in got.items() if v}
    assert read_sales(export(text), PRICES).summary.zero_days == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date,product,quantity\n2017-13-01,bread,1\n",
         ["sales.csv:2:date: '2017-13-01' is not a date (write YYYY-MM-DD, e.g. 2026-12-24)"]),
        ("date,product,quantity\n2017-07-31,bread,12,5\n", ["sales.csv:2:-: 4 cells, but the header has 3 columns"]),
        ("date,product,quantity\n2017-07-31,bread,-3\n", ["sales.csv:2:quantity: must be ≥ 0, got -3"]),
        ("date,product,quantity\n2017-07-31,bread,12.5\n",
         ["sales.csv:2:quantity: '12.5' is not a whole number of units (is it revenue?)"]),
        ("date,product,quantity\n2017-07-31,bread,twelve\n",
         ["sales.csv:2:quantity: 'twelve' is not a number (write a plain decimal such as 2.40)"]),
        ("date,product,quantity\n2017-07-31,,3\n", ["sales.csv:2:product: empty; a value is required"]),
        ("date,product,quantity\n2017-07-31,bread,3\n2017-07-31,bread,4\n",
         ["sales.csv:3:date: duplicate key (bread, 2017-07-31), first on line 2"]),
        ("date,product,quantity\n2017-07-31,baguette,3\n2017-08-01,bread,3\n2017-08-01,baguette,3\n"
         "2017-08-02,baguette,3\n",
         ["sales.csv:2:product: unknown product 'baguette': not a product_id of products.csv (and on 2 more lines)"]),
        ("date,product,units\n2017-07-31,bread,3\n",
         ["sales.csv:1:units: unknown column; the columns are date, product, quantity",
          "sales.csv:1:quantity: missing required column"]),
        ("date,product,quantity\n", ["sales.csv: no sales: it needs a header date,product,quantity and a row per "
                                     "product and day"]),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_by_file_line_and_column(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_every_bad_row_is_found_in_one_pass_and_then_no_rows_come_out() -> None:
    text = "date,product,quantity\n2017-07-31,bread,x\n2017-08-01,bread,3\n2017-08-02,rolls,-1\n2017-08-03,cake,1\n"
    reading = read_sales(export(text), PRICES)
    assert len(reading.problems) == 3
    assert reading.rows == []
    assert reading.summary is None


def test_revenue_of_a_product_without_a_price_is_a_problem_and_of_an_unreadable_price_is_not_another() -> None:
    text = "date,product,quantity\n2017-07-31,bread,10\n2017-07-31,rolls,5\n"
    assert problems(text, {"bread": 0.0, "rolls": None}, measure="revenue") == [
        "sales.csv:2:quantity: revenue cannot be turned into units: product 'bread' has price 0"
    ]


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
)
def test_moving_by_whole_weeks_puts_the_last_day_in_the_week_up_to_the_ending(last: date, ending: date) -> None:
    weeks = weeks_to_end(last, ending)
    [row] = moved_by_weeks([{"product_id": "bread", "day": last, "units": 3}], weeks)
    assert ending - timedelta(days=6) <= row["day"] <= ending
    assert row["day"].weekday() == last.weekday()
    assert row["units"] == 3


def test_a_moved_export_keeps_its_days_apart_and_says_by_how_much() -> None:
    reading = read_sales(export("date,product,quantity\n2017-07-03,bread,5\n2017-07-31,bread,6\n"), PRICES)
    assert reading.summary is not None
    rows, summary = moved_to_end(reading.rows, reading.summary, date(2026, 12, 4))  # a Friday
    assert [row["day"] for row in rows] == [date(2026, 11, 2), date(2026, 11, 30)]  # Mondays, 4 weeks apart
    assert summary.weeks_moved == 487
    assert summary.moved_last_day == date(2026, 11, 30)
    assert (summary.first_day, summary.last_day) == (date(2017, 7, 3), date(2017, 7, 31))


def test_yesterday_is_the_tenants_local_yesterday() -> None:
    late_evening_utc = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # already 5 December in Berlin
    assert yesterday(late_evening_utc, "Europe/Berlin") == date(2026, 12, 4)
    assert yesterday(late_evening_utc, "America/New_York") == date(2026, 12, 3)


def test_the_export_gives_the_daily_sales_of_the_tenant_files_in_the_same_pass() -> None:
    files = as_raw(template_files())
    sales = export("date,product,quantity\n2026-12-01,P-RYE,45\n2026-12-01,P-MUFFIN,3\n", measure="revenue")
    reading = read_files(files, sales)
    assert reading.problems == [
        "daily_sales.csv: a sales export is given too; keep one of them",
        "sales.csv:3:product: unknown product 'P-MUFFIN': not a product_id of products.csv",
    ]
    del files["daily_sales.csv"]
    sales = export("date,product,quantity\n2026-12-01,P-RYE,45\n2026-12-01,P-ROLL,3\n", measure="revenue")
    reading = read_files(files, sales)
    assert reading.problems == []
    assert reading.rows["daily_sales"] == [  # P-RYE at 4.50, P-ROLL at 0.60 in the template
        {"product_id": "P-ROLL", "day": date(2026, 12, 1), "units": 5},
        {"product_id": "P-RYE", "day": date(2026, 12, 1), "units": 10},
    ]


def test_the_generated_kiel_sales_read_against_the_example() -> None:
    generated = kiel_sales(weeks=8)
    lines = generated.text.splitlines()
    sales = SalesExport(
        "kiel.csv", lines[0].split(","), [(n, line.split(",")) for n, line in enumerate(lines[1:], 2)], "revenue"
    )
    reading = read_files(read_directory(EXAMPLE), sales)
    assert reading.problems == []
    prices = example_prices()
    got = {(r["product_id"], r["day"]): r["units"] for r in reading.rows["daily_sales"]}
    assert all(got[key] == int(euro / prices[key[0]] + 0.5) for key, euro in generated.revenue.items())
    assert not any(day == generated.closed_day for _, day in got)
    assert min(day for product, day in got if product == "seasonal_bread") == generated.seasonal_from


def test_examples_kiel_reads_cleanly_and_every_recipe_can_be_bought() -> None:
    reading = read_files(read_directory(EXAMPLE))
    resolve_tenant(reading, tenant_id="kiel", existing=None, time_zone=None)
    assert reading.problems == []
    rows = reading.rows
    assert rows["tenant"][0]["timezone"] == "Europe/Berlin"
    products = {r["product_id"] for r in rows["products"]}
    assert (
        products == set(example_prices()) == {"bread", "rolls", "croissant", "confectionery", "cake", "seasonal_bread"}
    )
    assert {r["product_id"] for r in rows["recipes"]} == products
    used = {r["ingredient_id"] for r in rows["recipe_lines"] + rows["component_lines"]}
    offered = {r["ingredient_id"] for r in rows["supplier_offers"]}
    assert used == {r["ingredient_id"] for r in rows["ingredients"]}  # nothing listed that no recipe uses
    assert used <= offered  # and everything used can be bought
    assert rows["daily_sales"] == []  # the sales come from an export, never from the repository
    # grams written for an ingredient kept in kg: 110 g of butter per batch of rolls
    butter = next(r for r in rows["recipe_lines"] if (r["product_id"], r["ingredient_id"]) == ("rolls", "I-BUTTER"))
    assert butter["quantity_per_batch"] == pytest.approx(0.11)
