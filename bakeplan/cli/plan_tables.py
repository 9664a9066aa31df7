"""The plan as people read it: production batches and purchase lines as tables with names, units and
money in the tenant's currency (`bakeplan plan-of`, `bakeplan plan`, the demo's top lines).

Rows are the read model's dicts (`run_views.plan_of`, or `offline_rows` for a snapshot planned
offline). Every column folds rather than cuts: on a narrow terminal a cell takes more lines but keeps
every character, so a name or an id is never shortened to `…`. The id column shows the first
`SHORT_ID` characters, which `bakeplan explain SAGA --line` accepts as the whole id.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Column, Table
from rich.text import Text

from bakeplan.cli.amounts import PIECES, line_value, named, number, quantity, unit_price
from contracts.planning import PlanningSnapshot, ProductionBatch, PurchaseLine

SHORT_ID = 8


def short_id(item_id: str) -> str:
    """The first characters of a batch or line id: unique within a saga in practice, and accepted by
    `explain --line` (which says so when a prefix is ambiguous)."""
    return item_id[:SHORT_ID]


def folding_table(
    *headers: str,
    title: str | None = None,
    right: Sequence[str] = (),
    keep: Mapping[str, int] | None = None,
    **options: Any,
) -> Table:
    """A table whose cells fold (never `…`); the `right` columns are right-aligned numbers; a column in
    `keep` is never narrower than its width there (dates and ids stay on one line, names fold)."""
    widths = keep or {}
    columns = [
        Column(h, overflow="fold", justify="right" if h in right else "left", min_width=widths.get(h)) for h in headers
    ]
    return Table(*columns, title=title, **options)


COMPACT: dict[str, Any] = {"box": None, "show_edge": False, "pad_edge": False}
"""Table options for wide tables: no frame and no rules, so the cells get the width (a 100-column
terminal holds a purchase line's ten columns without cutting one)."""


def batch_table(rows: Iterable[Mapping[str, Any]], *, title: str = "production batches") -> Table:
    """One row per product and day: batches, pieces, oven minutes, status (when known) and the id."""
    table = folding_table(
        "day", "product", "batches", PIECES, "oven min", "status", "id",
        title=title, right=("batches", PIECES, "oven min"), keep={"day": 10, "id": SHORT_ID}, **COMPACT,
    )  # fmt: skip
    for b in rows:
        table.add_row(
            Text(f"{b['day']}"),
            Text(named(b.get("product_name"), b["product_id"])),
            str(b["batches"]),
            number(b["units"]),
            str(b["oven_minutes"]),
            Text(b.get("status") or ""),
            Text(short_id(b["batch_id"])),
        )
    return table


def purchase_table(
    rows: Iterable[Mapping[str, Any]], *, currency: str, title: str = "purchase lines", status: bool = True
) -> Table:
    """One row per purchase line: order and delivery dates, supplier, ingredient, quantity with its unit,
    unit price and value (the currency in their headers), late (and status) and the id."""
    price, value = f"price {currency}", f"value {currency}"
    state = "status" if status else "late"
    table = folding_table(
        "order", "delivery", "supplier", "ingredient", "quantity", price, value, state, "id",
        title=title, right=("quantity", price, value), keep={"order": 10, "delivery": 10, "id": SHORT_ID},
        **COMPACT,
    )  # fmt: skip
    for p in rows:
        late = "LATE" if p["late"] else ""
        table.add_row(
            Text(f"{p['order_date']}"),
            Text(f"{p['delivery_date']}"),
            Text(named(p.get("supplier_name"), p["supplier_id"])),
            Text(named(p.get("ingredient_name"), p["ingredient_id"])),
            Text(quantity(p["quantity"], p.get("unit"))),
            Text(unit_price(p["unit_price"], p["currency"], p.get("unit")).replace(f" {p['currency']}", "")),
            Text(f"{line_value(p):,.2f}"),
            Text(" ".join(part for part in (late, p.get("status") or "") if part) if status else late),
            Text(short_id(p["line_id"])),
        )
    return table


def offline_rows(
    snapshot: PlanningSnapshot,
    batches: Iterable[ProductionBatch],
    lines: Iterable[PurchaseLine],
    *,
    currency: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Batches and purchase lines of an offline plan as read-model rows, named from the snapshot itself
    (the names the plan was made with), money in `currency`."""
    products = {p.product_id: p.name for p in snapshot.products}
    ingredients = {i.ingredient_id: i for i in snapshot.ingredients}
    suppliers = {s.supplier_id: s.name for s in snapshot.suppliers}
    batch_rows = [
        {**b.model_dump(mode="json"), "product_name": products.get(b.product_id), "unit": PIECES} for b in batches
    ]
    line_rows = []
    for line in lines:
        ingredient = ingredients.get(line.ingredient_id)
        line_rows.append(
            {
                **line.model_dump(mode="json"),
                "ingredient_name": ingredient.name if ingredient else None,
                "unit": ingredient.unit if ingredient else None,
                "supplier_name": suppliers.get(line.supplier_id),
                "currency": currency,
            }
        )
    return batch_rows, line_rows
