"""A bakery's own sales export in long format (`date,product,quantity`) as the tenant's daily sales
(`bakeplan import --sales`; docs/import.md).

`read_sales` checks every row, names each bad cell `file:line:column: reason` as the tenant files do,
turns revenue into units through the product's price, and fills the days the export leaves out:
an export lists what sold, so from a product's first sale on, a day on which other products sold
but it did not is a day it sold none (`gaps="zero"`); a day on which nothing sold is closed and
gets no row. `weeks_to_end` and `moved_by_weeks` move a history by whole weeks, so its weekday
pattern is kept and an old export can be planned today. Pure: no I/O, no clock ("now" is a parameter).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from orchestrator.tenant_files.cells import CellError, decimal_text, parse

Measure = Literal["units", "revenue"]
Gaps = Literal["zero", "unknown"]
COLUMNS = ("date", "product", "quantity")


@dataclass(frozen=True)
class SalesExport:
    """A long-format sales file as read (each data row with its line number), and how to read it."""

    source: str  # how problems name it: the file's name
    header: Sequence[str]
    rows: Sequence[tuple[int, Sequence[str]]]
    measure: Measure = "units"  # what `quantity` counts: units sold, or revenue in the tenant's money
    gaps: Gaps = "zero"


@dataclass(frozen=True)
class SalesSummary:
    """What an export gave: rows made (with the days a product sold none), its days as written, and
    how many weeks they were moved."""

    source: str
    rows: int
    zero_days: int
    first_day: date
    last_day: date
    weeks_moved: int = 0

    @property
    def moved_last_day(self) -> date:
        return self.last_day + timedelta(weeks=self.weeks_moved)


@dataclass
class SalesReading:
    """`daily_sales` rows (`product_id`, `day`, `units`) sorted by product and day, and every problem."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: SalesSummary | None = None


@dataclass
class _Sale:
    line: int
    product: str
    day: date
    units: int


class _Reader:
    def __init__(self, export: SalesExport, prices: Mapping[str, float | None]) -> None:
        self.export = export
        self.prices = prices
        self.problems: list[str] = []
        self.unknown: dict[str, list[int]] = {}  # unknown product → its lines

    def problem(self, line: int | None, column: str | None, reason: str) -> None:
        place = self.export.source if line is None else f"{self.export.source}:{line}:{column or '-'}"
        self.problems.append(f"{place}: {reason}")

    def positions(self) -> dict[str, int] | None:
        header = [name.strip().lower() for name in self.export.header]
        for name in header:
            if name not in COLUMNS:
                self.problem(1, name or "-", f"unknown column; the columns are {', '.join(COLUMNS)}")
        for name in sorted({n for n in header if header.count(n) > 1}):
            self.problem(1, name, "column appears twice")
        missing = [name for name in COLUMNS if name not in header]
        for name in missing:
            self.problem(1, name, "missing required column")
        return None if missing else {name: header.index(name) for name in COLUMNS}

    def sale(self, line: int, cells: Sequence[str], at: Mapping[str, int]) -> _Sale | None:
        if len(cells) > len(self.export.header) and any(cell.strip() for cell in cells[len(self.export.header) :]):
            self.problem(line, None, f"{len(cells)} cells, but the header has {len(self.export.header)} columns")
            return None
        text = {name: cells[i].strip() if i < len(cells) else "" for name, i in at.items()}
        for name in COLUMNS:
            if not text[name]:
                self.problem(line, name, "empty; a value is required")
        if not all(text.values()):
            return None
        try:
            day = parse("date", text["date"])
        except CellError as exc:
            self.problem(line, "date", str(exc))
            day = None
        units = self.units(line, text["product"], text["quantity"])
        if text["product"] not in self.prices:
            self.unknown.setdefault(text["product"], []).append(line)
            return None
        return None if day is None or units is None else _Sale(line, text["product"], day, units)

    def units(self, line: int, product: str, text: str) -> int | None:
        try:
            quantity: float = parse("decimal", text)
        except CellError as exc:
            self.problem(line, "quantity", str(exc))
            return None
        if quantity < 0:
            self.problem(line, "quantity", f"must be ≥ 0, got {decimal_text(quantity)}")
            return None
        if self.export.measure == "units":
            if quantity != int(quantity):
                self.problem(line, "quantity", f"{text!r} is not a whole number of units (is it revenue?)")
                return None
            return int(quantity)
        price = self.prices.get(product)
        if price is None:  # an unknown product, or one whose price is a problem of products.csv already
            return None
        if price <= 0:
            self.problem(line, "quantity", f"revenue cannot be turned into units: product {product!r} has price 0")
            return None
        return math.floor(quantity / price + 0.5)  # half up: 2.5 units are 3

    def report_unknown(self) -> None:
        for product, lines in self.unknown.items():
            more = len(lines) - 1
            also = f" (and on {more:,} more line{'s' if more > 1 else ''})" if more else ""
            self.problem(lines[0], "product", f"unknown product {product!r}: not a product_id of products.csv{also}")


def read_sales(export: SalesExport, prices: Mapping[str, float | None]) -> SalesReading:
    """The export's rows as daily sales, with every problem found in one pass.

    `prices` maps each product id to its unit price (`None` when its price cannot be read: that is
    a problem of products.csv, so its revenue rows are skipped without another). One row per product
    and day; a product that is not a key of `prices` is one problem naming it and its first line.
    """
    reader = _Reader(export, prices)
    at = reader.positions()
    if at is None:
        return SalesReading(problems=reader.problems)
    sales: dict[tuple[str, date], _Sale] = {}
    for line, cells in export.rows:
        if not any(cell.strip() for cell in cells):
            continue
        sale = reader.sale(line, cells, at)
        if sale is None:
            continue
        first = sales.get((sale.product, sale.day))
        if first is not None:
            reader.problem(line, "date", f"duplicate key ({sale.product}, {sale.day}), first on line {first.line}")
            continue
        sales[(sale.product, sale.day)] = sale
    reader.report_unknown()
    if not sales and not reader.problems and not reader.unknown:
        reader.problem(None, None, f"no sales: it needs a header {','.join(COLUMNS)} and a row per product and day")
    if reader.problems:
        return SalesReading(problems=reader.problems)
    units = {key: sale.units for key, sale in sales.items()}
    zero_days = _fill_gaps(units) if export.gaps == "zero" else 0
    days = [day for _, day in units]
    rows = [{"product_id": p, "day": d, "units": n} for (p, d), n in sorted(units.items())]
    summary = SalesSummary(export.source, len(rows), zero_days, min(days), max(days))
    return SalesReading(rows=rows, summary=summary)


def _fill_gaps(units: dict[tuple[str, date], int]) -> int:
    """Add 0 for every day on which some product sold, from each product's first sale on; how many."""
    open_days = sorted({day for _, day in units})
    first_sale: dict[str, date] = {}
    for product, day in units:
        first_sale[product] = min(day, first_sale.get(product, day))
    added = 0
    for product, first in first_sale.items():
        for day in open_days:
            if day >= first and (product, day) not in units:
                units[(product, day)] = 0
                added += 1
    return added


def weeks_to_end(last_day: date, ending: date) -> int:
    """The whole weeks (negative: earlier) that move `last_day` into the 7 days up to `ending`."""
    return (ending - last_day).days // 7


def moved_by_weeks(rows: Sequence[dict[str, Any]], weeks: int) -> list[dict[str, Any]]:
    """`rows` with each `day` moved by `weeks` whole weeks (same weekday); raises `OverflowError`
    when a day would leave the calendar (before year 1 or after 9999)."""
    if weeks == 0:
        return list(rows)
    shift = timedelta(weeks=weeks)
    return [{**row, "day": row["day"] + shift} for row in rows]


def moved_to_end(
    rows: Sequence[dict[str, Any]], summary: SalesSummary, ending: date
) -> tuple[list[dict[str, Any]], SalesSummary]:
    """The rows moved by whole weeks so the last sale falls within the 7 days up to `ending`, and
    the summary saying by how many; raises `OverflowError` as `moved_by_weeks`."""
    weeks = weeks_to_end(summary.last_day, ending)
    return moved_by_weeks(rows, weeks), replace(summary, weeks_moved=weeks)


def yesterday(now: datetime, time_zone: str) -> date:
    """The day before `now`'s date in `time_zone` (the tenant's)."""
    return now.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=1)
