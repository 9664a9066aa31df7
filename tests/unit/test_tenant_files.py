"""Tenant files without a database: every bad input gives its exact `file:line:column: reason`, units
convert, what is written reads back the same, and the diff counts rows by key."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.tenant_files.cells import CellError, convert, decimal_text, parse
from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.diff import Change, diff
from orchestrator.tenant_files.reading import RawFile, read_files, resolve_tenant
from orchestrator.tenant_files.writing import FileContent, render_files, template_files

pytestmark = pytest.mark.unit


def as_raw(tables: dict[str, FileContent]) -> dict[str, RawFile]:
    return {
        name: RawFile(header, [(n + 2, list(row)) for n, row in enumerate(rows)])
        for name, (header, rows) in tables.items()
    }


def template_with(file: str, line: int, column: str, value: str) -> dict[str, RawFile]:
    """The template bakery with one cell changed."""
    files = as_raw(template_files())
    raw = files[file]
    at = list(raw.header).index(column)
    rows = [(n, [value if (n == line and i == at) else cell for i, cell in enumerate(cells)]) for n, cells in raw.rows]
    files[file] = RawFile(raw.header, rows)
    return files


def test_the_template_is_one_bakery_that_reads_cleanly() -> None:
    reading = read_files(as_raw(template_files()))
    assert reading.problems == []
    assert {name: len(rows) for name, rows in reading.rows.items()} == {
        "tenant": 1, "products": 2, "ingredients": 2, "suppliers": 2, "supplier_offers": 2, "components": 2,
        "component_lines": 2, "component_components": 1, "recipes": 2, "recipe_lines": 2, "recipe_components": 2,
        "stock_lots": 2, "open_purchase_orders": 2, "daily_sales": 2, "regressors": 2,
    }  # fmt: skip


def test_what_is_written_reads_back_as_the_same_rows() -> None:
    rows = read_files(as_raw(template_files())).rows
    again = read_files(as_raw(render_files(rows)))
    assert again.problems == []
    assert again.rows == rows


@pytest.mark.parametrize(
    ("file", "line", "column", "value", "problem"),
    [
        ("products.csv", 2, "unit_price", "2,40",
         "products.csv:2:unit_price: '2,40' is not a number (write a plain decimal such as 2.40)"),
        ("stock_lots.csv", 3, "quantity", "-5", "stock_lots.csv:3:quantity: must be ≥ 0, got -5"),
        ("open_purchase_orders.csv", 2, "quantity", "0", "open_purchase_orders.csv:2:quantity: must be > 0, got 0"),
        ("daily_sales.csv", 2, "units", "-1", "daily_sales.csv:2:units: must be ≥ 0, got -1"),
        ("recipes.csv", 2, "batch_yield_units", "0", "recipes.csv:2:batch_yield_units: must be ≥ 1, got 0"),
        ("recipes.csv", 2, "oven_minutes_per_batch", "45.5",
         "recipes.csv:2:oven_minutes_per_batch: '45.5' is not a whole number"),
        ("stock_lots.csv", 2, "expires_on", "2027-02-30",
         "stock_lots.csv:2:expires_on: '2027-02-30' is not a date (write YYYY-MM-DD, e.g. 2026-12-24)"),
        ("recipe_lines.csv", 3, "ingredient_id", "I-SUGAR",
         "recipe_lines.csv:3:ingredient_id: unknown reference 'I-SUGAR': not a key of ingredients.csv"),
        ("supplier_offers.csv", 3, "supplier_id", "S-NONE",
         "supplier_offers.csv:3:supplier_id: unknown reference 'S-NONE': not a key of suppliers.csv"),
        ("recipe_lines.csv", 3, "unit", "kg",
         "recipe_lines.csv:3:unit: unit 'kg' does not convert to 'pcs', the unit of ingredient 'I-EGG'"),
        ("stock_lots.csv", 2, "unit", "ml",
         "stock_lots.csv:2:unit: unit 'ml' does not convert to 'kg', the unit of ingredient 'I-FLOUR'"),
        ("recipe_lines.csv", 2, "unit", "lb", "recipe_lines.csv:2:unit: unit 'lb' is not one of g, kg, ml, l, pcs"),
        ("ingredients.csv", 2, "unit", "g", "ingredients.csv:2:unit: unit 'g' is not one of kg, l, pcs"),
        ("component_components.csv", 2, "component_id", "C-DOUGH",
         "component_components.csv:2:component_id: component cycle C-DOUGH → C-DOUGH"),
        ("supplier_offers.csv", 2, "price_tiers", "250-0.70",
         "supplier_offers.csv:2:price_tiers: price tier '250-0.70' is not MIN_QUANTITY:UNIT_PRICE (e.g. 250:0.70)"),
        ("suppliers.csv", 2, "delivery_weekdays", "0;7",
         "suppliers.csv:2:delivery_weekdays: weekday 7 is not 0 (Monday) … 6 (Sunday)"),
        ("suppliers.csv", 2, "delivery_weekdays", "0;2;0",
         "suppliers.csv:2:delivery_weekdays: weekday 0 is given twice"),
        ("suppliers.csv", 2, "order_cutoff", "10h",
         "suppliers.csv:2:order_cutoff: '10h' is not a time (write HH:MM, e.g. 04:30)"),
        ("tenant.csv", 2, "time_zone", "Europe/Kiel",
         "tenant.csv:2:time_zone: 'Europe/Kiel' is not an IANA time zone (e.g. Europe/Berlin)"),
        ("tenant.csv", 2, "currency", "eur",
         "tenant.csv:2:currency: 'eur' is not an ISO 4217 code: write three upper-case letters, e.g. EUR"),
        ("tenant.csv", 2, "currency", "EURO",
         "tenant.csv:2:currency: 'EURO' is not an ISO 4217 code: write three upper-case letters, e.g. EUR"),
        ("tenant.csv", 2, "currency", "€",
         "tenant.csv:2:currency: '€' is not an ISO 4217 code: write three upper-case letters, e.g. EUR"),
        ("tenant.csv", 2, "service_level", "1.5", "tenant.csv:2:service_level: must be < 1, got 1.5"),
        ("tenant.csv", 2, "dual_source", "maybe", "tenant.csv:2:dual_source: 'maybe' is not true or false"),
        ("products.csv", 2, "name", "", "products.csv:2:name: empty; a value is required"),
        ("stock_lots.csv", 2, "lot_id", "L 1",
         "stock_lots.csv:2:lot_id: id 'L 1' must be 1 to 64 characters without spaces, ';', ':' or ','"),
        ("regressors.csv", 3, "day", "2026-12-01",
         "regressors.csv:3:day: duplicate key (temperature_c, 2026-12-01), first on line 2"),
    ],
)  # fmt: skip
def test_a_bad_cell_is_named_by_file_line_and_column(
    file: str, line: int, column: str, value: str, problem: str
) -> None:
    assert read_files(template_with(file, line, column, value)).problems == [problem]


def test_a_duplicate_product_is_reported_and_what_referred_to_the_lost_one_too() -> None:
    assert read_files(template_with("products.csv", 3, "product_id", "P-RYE")).problems == [
        "products.csv:3:product_id: duplicate key (P-RYE), first on line 2",
        "recipes.csv:3:product_id: unknown reference 'P-ROLL': not a key of products.csv",
    ]


def test_a_cycle_through_two_components_is_found() -> None:
    files = as_raw(template_files())
    raw = files["component_components.csv"]
    files["component_components.csv"] = RawFile(raw.header, [*raw.rows, (3, ["C-LEVAIN", "C-DOUGH", "1", ""])])
    assert read_files(files).problems == [
        "component_components.csv:3:component_id: component cycle C-DOUGH → C-LEVAIN → C-DOUGH"
    ]


def test_a_missing_required_column_is_one_problem_not_one_per_row() -> None:
    files = as_raw(template_files())
    raw = files["products.csv"]
    at = list(raw.header).index("unit_cost")
    files["products.csv"] = RawFile(
        [h for h in raw.header if h != "unit_cost"], [(n, [*cells[:at], *cells[at + 1 :]]) for n, cells in raw.rows]
    )
    assert read_files(files).problems == ["products.csv:1:unit_cost: missing required column"]


def test_unknown_columns_and_missing_required_files_are_named() -> None:
    files = as_raw(template_files())
    del files["suppliers.csv"], files["supplier_offers.csv"], files["open_purchase_orders.csv"]
    raw = files["products.csv"]
    files["products.csv"] = RawFile([*raw.header, "colour"], raw.rows)
    assert read_files(files).problems == [
        "products.csv:1:colour: unknown column; the columns are family, finished_stock_units, name, product_id, "
        "salvage_value, shelf_life_days, unit_cost, unit_price",
        "suppliers.csv: missing: this file is required",
        "supplier_offers.csv: missing: this file is required",
    ]


def test_a_row_longer_than_the_header_is_named() -> None:
    files = as_raw(template_files())
    raw = files["recipes.csv"]
    files["recipes.csv"] = RawFile(raw.header, [(2, [*raw.rows[0][1], "7"]), raw.rows[1]])
    assert read_files(files).problems == ["recipes.csv:2:-: 5 cells, but the header has 4 columns"]


def test_every_problem_is_found_in_one_pass() -> None:
    files = template_with("products.csv", 2, "unit_price", "x")
    files["stock_lots.csv"] = template_with("stock_lots.csv", 3, "quantity", "-1")["stock_lots.csv"]
    assert len(read_files(files).problems) == 2


def test_grams_in_a_recipe_line_are_kilograms_of_the_ingredient() -> None:
    reading = read_files(template_with("recipe_lines.csv", 2, "quantity_per_batch", "3500"))
    assert reading.problems == []  # still "kg": 3500 kg is a lot of flour, but a valid line
    reading = read_files(template_with("recipe_lines.csv", 2, "unit", "g"))
    assert reading.rows["recipe_lines"][0] == {
        "product_id": "P-RYE",
        "ingredient_id": "I-FLOUR",
        "quantity_per_batch": 0.0035,
    }
    dough = next(r for r in reading.rows["component_lines"] if r["component_id"] == "C-DOUGH")
    assert dough["quantity_per_batch"] == 24.0  # written as 24000 g


@pytest.mark.parametrize(
    ("quantity", "written", "stored", "expected"),
    [(500, "g", "kg", 0.5), (1234, "g", "kg", 1.234), (2, "kg", "kg", 2), (250, "ml", "l", 0.25), (6, "pcs", "pcs", 6)],
)
def test_units_convert_to_the_stored_unit(quantity: float, written: str, stored: str, expected: float) -> None:
    assert convert(quantity, written, stored) == expected


@pytest.mark.parametrize(("written", "stored"), [("pcs", "kg"), ("g", "l"), ("l", "pcs")])
def test_units_of_another_kind_do_not_convert(written: str, stored: str) -> None:
    with pytest.raises(CellError, match="does not convert"):
        convert(1, written, stored)


def test_a_new_tenant_without_a_time_zone_is_refused_and_an_option_completes_it() -> None:
    files = as_raw(template_files())
    del files["tenant.csv"]
    reading = read_files(files)
    resolve_tenant(reading, tenant_id="t1", existing=None, time_zone=None)
    assert reading.problems == ["tenant.csv: a new tenant needs a time zone: give it in tenant.csv or --time-zone"]
    reading = read_files(files)
    resolve_tenant(reading, tenant_id="t1", existing=None, time_zone="Europe/Berlin")
    assert reading.problems == []
    assert reading.rows["tenant"][0]["name"] == "t1"
    assert reading.rows["tenant"][0]["timezone"] == "Europe/Berlin"


def test_an_existing_tenant_keeps_its_settings_when_the_tenant_file_is_absent() -> None:
    files = as_raw(template_files())
    existing = read_files(files).rows["tenant"][0] | {"name": "Old name", "timezone": "Europe/Vienna"}
    del files["tenant.csv"]
    reading = read_files(files)
    resolve_tenant(reading, tenant_id="t1", existing=existing, time_zone="Europe/Berlin")
    assert reading.rows["tenant"] == [existing]


def test_the_currency_reads_back_and_defaults_to_eur_for_a_new_tenant_or_the_existing_one() -> None:
    in_francs = template_with("tenant.csv", 2, "currency", "CHF")
    rows = read_files(in_francs).rows
    assert rows["tenant"][0]["currency"] == "CHF"
    assert read_files(as_raw(render_files(rows))).rows == rows

    without = template_with("tenant.csv", 2, "currency", "")
    new = read_files(without)
    resolve_tenant(new, tenant_id="t1", existing=None, time_zone=None)
    kept = read_files(without)
    resolve_tenant(kept, tenant_id="t1", existing=rows["tenant"][0], time_zone=None)
    assert (new.problems, new.rows["tenant"][0]["currency"]) == ([], "EUR")
    assert kept.rows["tenant"][0]["currency"] == "CHF"


def test_the_diff_counts_added_changed_and_removed_rows_by_key() -> None:
    before = read_files(as_raw(template_files())).rows
    after = {name: [dict(row) for row in rows] for name, rows in before.items()}
    after["products"][0]["unit_price"] = 9.99
    after["products"].append({**after["products"][1], "product_id": "P-NEW"})
    after["stock_lots"] = after["stock_lots"][:1]
    changes = diff(before, after)
    assert changes["products"] == Change(added=1, changed=1, removed=0)
    assert changes["stock_lots"] == Change(added=0, changed=0, removed=1)
    assert all(c.none for name, c in changes.items() if name not in {"products", "stock_lots"})
    assert all(c.none for c in diff(before, before).values())
    assert diff({}, before)["daily_sales"] == Change(added=2, changed=0, removed=0)


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_written_reads_back_as_the_same_float(value: float) -> None:
    text = decimal_text(value)
    assert "e" not in text.lower()
    assert parse("decimal", text) == value or (math.isclose(value, 0) and parse("decimal", text) == 0)


def test_every_file_has_a_key_or_is_the_tenant_file() -> None:
    assert [f.name for f in FILES if not f.key] == ["tenant"]


def test_docs_import_describes_every_file_and_column() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    for spec in FILES:
        section = page.split(f"### `{spec.file_name}`", 1)
        assert len(section) == 2, f"docs/import.md has no section for {spec.file_name}"
        body = section[1].split("\n### ", 1)[0]
        for column in spec.columns:
            assert f"| `{column.name}` |" in body, f"docs/import.md: {spec.file_name} lacks column {column.name}"


def test_a_workbook_reads_like_the_csv_files(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from orchestrator.tenant_files.xlsx_files import read_workbook

    tables = template_files()
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, (header, rows) in tables.items():
        sheet = workbook.create_sheet(name.removesuffix(".csv"))
        sheet.append(header)
        for row in rows:  # typed as a spreadsheet would type them: numbers and dates, not text
            sheet.append([spreadsheet_value(cell) for cell in row])
    sheet = workbook["stock_lots"]
    sheet.cell(row=3, column=3, value=-2)
    workbook.save(tmp_path / "bakery.xlsx")

    files = read_workbook(tmp_path / "bakery.xlsx")
    expected = as_raw(tables)
    expected["stock_lots.csv"] = template_with("stock_lots.csv", 3, "quantity", "-2")["stock_lots.csv"]
    assert read_files(files).problems == ["bakery.xlsx[stock_lots]:3:quantity: must be ≥ 0, got -2"]
    assert read_files(files).rows == read_files(expected).rows


def spreadsheet_value(cell: str) -> object:
    for kind in ("int", "decimal", "date"):
        try:
            return parse(kind, cell)
        except CellError:
            continue
    return cell or None
