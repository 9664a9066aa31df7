"""The live feeds' rules (orchestrator/feeds.py): what each event changes, and why one is refused."""

from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.messages import CountedLot, MasterDataChanged, SalesDayClosed, SoldLine, StockCounted
from orchestrator.feeds import day_closed_problems, row_change, sales_changes, stock_count_problems
from orchestrator.tenant_files.reading import RawFile, TenantRows, read_files
from orchestrator.tenant_files.writing import template_files

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)
TENANT = "feed-bakery"


def template_rows() -> TenantRows:
    """The template bakery (`bakeplan import --template`) as its tables hold it, sales left out."""
    files = {
        name: RawFile(header=header, rows=list(enumerate(rows, start=2)))
        for name, (header, rows) in template_files().items()
        if name not in ("daily_sales.csv", "regressors.csv")
    }
    reading = read_files(files)
    assert reading.problems == []
    return reading.rows


def changed(entity: str, operation: Literal["upsert", "remove"], **row: Any) -> MasterDataChanged:
    return MasterDataChanged(
        event_id=uuid4(), tenant_id=TENANT, occurred_at=AT, entity=entity, operation=operation, row=row
    )


def day(store: str, lines: dict[str, int]) -> SalesDayClosed:
    return SalesDayClosed(
        event_id=uuid4(),
        tenant_id=TENANT,
        occurred_at=AT,
        store_id=store,
        business_date=date(2026, 12, 5),
        lines=tuple(SoldLine(product_id=p, units=u) for p, u in lines.items()),
        closed_at=AT,
    )


def count(lots: list[tuple[str, str, float]], ingredient_ids: tuple[str, ...] | None = None) -> StockCounted:
    return StockCounted(
        event_id=uuid4(),
        tenant_id=TENANT,
        occurred_at=AT,
        counted_at=AT,
        lots=tuple(CountedLot(lot_id=lot, ingredient_id=i, quantity=q) for lot, i, q in lots),
        ingredient_ids=ingredient_ids,
    )


# --- sales.day_closed -------------------------------------------------------------------------------


def test_a_closed_day_naming_an_unknown_or_repeated_product_is_refused_with_its_place() -> None:
    event = day("north", {"P-RYE": 10, "P-GHOST": 3})
    assert day_closed_problems(event, {"P-RYE", "P-ROLL"}) == [
        f"sales.day_closed lines[1].product_id: unknown product 'P-GHOST' of tenant {TENANT}"
    ]
    twice = event.model_copy(update={"lines": (SoldLine(product_id="P-RYE", units=1),) * 2})
    assert day_closed_problems(twice, {"P-RYE"}) == [
        "sales.day_closed lines[1].product_id: product 'P-RYE' appears twice; send one line per product"
    ]
    assert day_closed_problems(day("north", {"P-RYE": 0}), {"P-RYE"}) == []


def test_a_store_s_corrected_day_changes_the_daily_sales_by_the_difference() -> None:
    assert sales_changes({}, {"P-RYE": 10, "P-ROLL": 0}) == {"P-RYE": 10}
    assert sales_changes({"P-RYE": 10, "P-ROLL": 4}, {"P-RYE": 12}) == {"P-RYE": 2, "P-ROLL": -4}
    assert sales_changes({"P-RYE": 10}, {"P-RYE": 10}) == {}


days = st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(0, 500), max_size=3)


@given(st.lists(st.tuples(st.sampled_from(["north", "south"]), days), max_size=12))
def test_any_sequence_of_closed_days_leaves_the_sum_of_each_store_s_last_word(
    events: list[tuple[str, dict[str, int]]],
) -> None:
    totals: dict[str, int] = {}
    stores: dict[str, dict[str, int]] = {}
    for store, lines in events:
        for product, delta in sales_changes(stores.get(store, {}), lines).items():
            totals[product] = totals.get(product, 0) + delta
        stores[store] = lines
    expected: dict[str, int] = {}
    for lines in stores.values():
        for product, units in lines.items():
            expected[product] = expected.get(product, 0) + units
    assert {p: u for p, u in totals.items() if u} == {p: u for p, u in expected.items() if u}


# --- inventory.stock_counted --------------------------------------------------------------------------


def test_a_count_with_unknown_ingredients_or_repeated_lots_is_refused() -> None:
    event = count([("L1", "I-FLOUR", 5), ("L1", "I-FLOUR", 6), ("L2", "I-GHOST", 1)])
    assert stock_count_problems(event, {"I-FLOUR", "I-EGG"}) == [
        "inventory.stock_counted lots[0].lot_id: lot 'L1' appears 2 times",
        "inventory.stock_counted lots[1].lot_id: lot 'L1' appears 2 times",
        f"inventory.stock_counted lots[2].ingredient_id: unknown ingredient 'I-GHOST' of tenant {TENANT}",
    ]


def test_a_partial_count_may_only_hold_lots_of_the_ingredients_it_lists() -> None:
    event = count([("L1", "I-FLOUR", 5), ("L2", "I-EGG", 30)], ingredient_ids=("I-FLOUR", "I-GHOST"))
    problems = stock_count_problems(event, {"I-FLOUR", "I-EGG"})
    assert problems[0] == (
        f"inventory.stock_counted ingredient_ids[1]: unknown ingredient 'I-GHOST' of tenant {TENANT}"
    )
    assert problems[1].startswith("inventory.stock_counted lots[1].ingredient_id: 'I-EGG' is not in ingredient_ids")
    assert len(problems) == 2
    assert stock_count_problems(count([], ingredient_ids=("I-EGG",)), {"I-EGG"}) == []


# --- masterdata.changed -----------------------------------------------------------------------------


def test_an_upserted_product_replaces_the_row_of_its_key() -> None:
    event = changed(
        "products",
        "upsert",
        product_id="P-RYE",
        name="Rye loaf 1 kg",
        family="bread",
        unit_price=4.9,
        unit_cost=1.8,
        shelf_life_days=3,
        finished_stock_units=0,
    )
    change = row_change(event, template_rows())
    assert change.problems == []
    assert change.key == {"product_id": "P-RYE"}
    assert change.row is not None
    assert (change.row["name"], change.row["unit_price"], change.row["salvage_value"]) == ("Rye loaf 1 kg", 4.9, 0.0)


def test_a_recipe_line_in_grams_is_stored_in_the_ingredient_s_unit() -> None:
    event = changed(
        "recipe_lines", "upsert", product_id="P-ROLL", ingredient_id="I-FLOUR", quantity_per_batch=2500, unit="g"
    )
    change = row_change(event, template_rows())
    assert change.problems == []
    assert change.row == {"product_id": "P-ROLL", "ingredient_id": "I-FLOUR", "quantity_per_batch": 2.5}


def test_a_bad_cell_a_bad_unit_and_an_unknown_reference_name_the_event_s_column() -> None:
    rows = template_rows()
    bad_price = changed(
        "products", "upsert", product_id="P-NEW", name="Bun", family="rolls", unit_price=-1, unit_cost=0.1,
        shelf_life_days=1, finished_stock_units=0,
    )  # fmt: skip
    assert row_change(bad_price, rows).problems == [
        "masterdata.changed upsert products row.unit_price: must be ≥ 0, got -1"
    ]
    bad_unit = changed(
        "recipe_lines", "upsert", product_id="P-ROLL", ingredient_id="I-EGG", quantity_per_batch=2, unit="kg"
    )
    assert row_change(bad_unit, rows).problems == [
        "masterdata.changed upsert recipe_lines row.unit: unit 'kg' does not convert to 'pcs', "
        "the unit of ingredient 'I-EGG'"
    ]
    dangling = changed("recipe_lines", "upsert", product_id="P-ROLL", ingredient_id="I-GHOST", quantity_per_batch=2)
    assert row_change(dangling, rows).problems == [
        "masterdata.changed upsert recipe_lines row.ingredient_id: unknown reference 'I-GHOST': "
        "not a key of ingredients.csv"
    ]
    unknown_column = changed("stock_lots", "upsert", lot_id="L-9", ingredient_id="I-EGG", quantity=3, colour="red")
    assert (
        row_change(unknown_column, rows)
        .problems[0]
        .startswith("masterdata.changed upsert stock_lots row.colour: unknown column")
    )


def test_a_removal_that_would_leave_a_dangling_reference_is_refused() -> None:
    problems = row_change(changed("ingredients", "remove", ingredient_id="I-EGG"), template_rows()).problems
    assert problems, "recipes, offers, lots and orders still name I-EGG"
    assert all(p.startswith("masterdata.changed remove ingredients would leave ") for p in problems)
    assert any("recipe_lines.csv:3:ingredient_id: unknown reference 'I-EGG'" in p for p in problems)


def test_a_removal_of_an_unreferenced_row_is_its_key() -> None:
    change = row_change(changed("stock_lots", "remove", lot_id="L-0002"), template_rows())
    assert (change.problems, change.key, change.row) == ([], {"lot_id": "L-0002"}, None)


@pytest.mark.parametrize(
    ("entity", "operation", "row", "reason"),
    [
        ("daily_sales", "upsert", {"product_id": "P-RYE"}, "daily sales come by sales.day_closed"),
        ("prices", "upsert", {"id": "x"}, "not a master-data entity"),
        ("tenant", "remove", {}, "the tenant row cannot be removed by a feed"),
        ("products", "remove", {"name": "Rye"}, "missing key column 'product_id'"),
    ],
)
def test_what_a_feed_cannot_change_is_refused_with_the_reason(
    entity: str, operation: Literal["upsert", "remove"], row: dict[str, Any], reason: str
) -> None:
    problems = row_change(changed(entity, operation, **row), template_rows()).problems
    assert len(problems) == 1, problems
    assert reason in problems[0]


def test_a_tenant_upsert_replaces_the_settings_whole() -> None:
    change = row_change(changed("tenant", "upsert", time_zone="Europe/Vienna", closed_weekdays="5;6"), template_rows())
    assert change.problems == []
    assert change.row is not None
    assert change.row["timezone"] == "Europe/Vienna"
    assert change.row["calendar"]["closed_weekdays"] == [5, 6]
    assert change.row["calendar"]["holidays"] == []  # not given: the default, as in a tenant file
