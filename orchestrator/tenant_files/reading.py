"""Tenant files into master-data rows, with every problem found in one pass.

`read_files` parses every cell (`cells`), checks keys, references and units across files, checks
each row against its planning contract, and looks for component cycles. Each problem is one line
`file:line:column: reason` (line 1 is the header, so the first data row is line 2); a problem with
a whole file is `file: reason`. Rows come out as the `masterdata` tables hold them, per tenant
file (`TenantRows`), quantities converted to the ingredient's (or component's) unit.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from contracts.envelope import Strict
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    OpenPurchaseOrder,
    PlanningPolicy,
    Product,
    Recipe,
    RecipeLine,
    StockLot,
    Supplier,
    SupplierItem,
)
from orchestrator.tenant_files.cells import CellError, convert, decimal_text, parse
from orchestrator.tenant_files.columns import FILES, Column, TenantFile
from orchestrator.tenant_files.sales import SalesExport, SalesSummary, read_sales

# the rows of each tenant file, as its `masterdata` table holds them (without tenant_id)
TenantRows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class RawFile:
    """A file as read: its header and its data rows, each with its line number."""

    header: Sequence[str]
    rows: Sequence[tuple[int, Sequence[str]]]
    source: str = ""  # how problems name it when not by its file name (a workbook's sheet)


class SaleDay(Strict):
    product_id: str
    day: date
    units: int = Field(ge=0)


class SignalDay(Strict):
    name: str = Field(min_length=1, max_length=64)
    day: date
    value: float | None = None


# each file's contract model, the key columns that belong to the parent rather than the model, and
# the nested values the model needs that live in other files
_MODELS: dict[str, tuple[type[BaseModel], tuple[str, ...], dict[str, Any]]] = {
    "products": (Product, (), {}),
    "ingredients": (Ingredient, (), {}),
    "suppliers": (Supplier, (), {"items": ()}),
    "supplier_offers": (SupplierItem, ("supplier_id",), {}),
    "components": (Component, (), {"lines": (), "components": ()}),
    "component_lines": (RecipeLine, ("component_id",), {}),
    "component_components": (ComponentLine, ("parent_id",), {}),
    "recipes": (Recipe, (), {"lines": (), "components": ()}),
    "recipe_lines": (RecipeLine, ("product_id",), {}),
    "recipe_components": (ComponentLine, ("product_id",), {}),
    "stock_lots": (StockLot, (), {}),
    "open_purchase_orders": (OpenPurchaseOrder, (), {}),
    "daily_sales": (SaleDay, (), {}),
    "regressors": (SignalDay, (), {}),
}
# masterdata.tenants.currency's server default, for a new tenant whose tenant file names none
DEFAULT_CURRENCY = "EUR"
_TENANT_MODELS: dict[str, type[BaseModel]] = {"calendar": Calendar, "capacity": Capacity, "policy": PlanningPolicy}


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    ok: bool = True


@dataclass
class Reading:
    """The rows read, and every problem; the rows are only meaningful when `problems` is empty."""

    rows: TenantRows = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sales: SalesSummary | None = None  # what a sales export gave, when one was read


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: rows compare equal to what Postgres returns (arrays, JSON)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _reason(error: Mapping[str, Any]) -> str:
    """A pydantic error as a short reason: the bound and the value given."""
    ctx, given = error.get("ctx") or {}, error.get("input")
    bounds = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}
    if error["type"] in bounds:
        op = bounds[error["type"]]
        bound = next(iter(ctx.values()))
        return f"must be {op} {_number(bound)}, got {_number(given)}"
    return f"{error['msg']}, got {given!r}"


def _number(value: Any) -> str:
    return decimal_text(value) if isinstance(value, float) else str(value)


class _Reader:
    def __init__(self, files: Mapping[str, RawFile]) -> None:
        self.files = files
        self.problems: list[str] = []
        self.parsed: dict[str, list[_Row]] = {}
        self.keys: dict[str, dict[tuple[Any, ...], _Row]] = {}
        self.bad_headers: set[str] = set()  # files whose rows are not checked further: the header says why

    def problem(self, spec: TenantFile, line: int | None, column: str | None, reason: str) -> None:
        raw = self.files.get(spec.file_name)
        name = raw.source if raw is not None and raw.source else spec.file_name
        place = name if line is None else f"{name}:{line}:{column or '-'}"
        self.problems.append(f"{place}: {reason}")

    def parse_file(self, spec: TenantFile) -> list[_Row]:
        raw = self.files.get(spec.file_name)
        if raw is None:
            if spec.required:
                self.problem(spec, None, None, "missing: this file is required")
            return []
        header = [name.strip() for name in raw.header]
        known = {c.name for c in spec.columns}
        for name in header:
            if name not in known:
                self.problem(spec, 1, name, f"unknown column; the columns are {', '.join(sorted(known))}")
        for name in {n for n in header if header.count(n) > 1}:
            self.problem(spec, 1, name, "column appears twice")
        for column in spec.columns:
            if column.required and column.name not in header:
                self.problem(spec, 1, column.name, "missing required column")
                self.bad_headers.add(spec.name)
        positions = {c.name: header.index(c.name) for c in spec.columns if c.name in header}
        rows = []
        for line, cells in raw.rows:
            if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
                self.problem(spec, line, None, f"{len(cells)} cells, but the header has {len(header)} columns")
            if row := self.parse_row(spec, positions, line, cells):
                rows.append(row)
        return rows

    def parse_row(self, spec: TenantFile, positions: dict[str, int], line: int, cells: Sequence[str]) -> _Row | None:
        if not any(cell.strip() for cell in cells):
            return None
        row = _Row(line, {})
        for column in spec.columns:
            at = positions.get(column.name)
            text = cells[at].strip() if at is not None and at < len(cells) else ""
            if not text:
                if column.required and at is not None:
                    self.problem(spec, line, column.name, "empty; a value is required")
                    row.ok = False
                continue
            try:
                row.values[column.name] = parse(column.kind, text)
            except CellError as exc:
                self.problem(spec, line, column.name, str(exc))
                row.ok = False
        return row

    def index_keys(self, spec: TenantFile) -> None:
        keys: dict[tuple[Any, ...], _Row] = {}
        for row in self.parsed[spec.name]:
            if not spec.key:
                if keys:
                    self.problem(spec, row.line, None, "the tenant file has one row only")
                    row.ok = False
                keys[()] = row
                continue
            if any(k not in row.values for k in spec.key):
                continue
            key = tuple(row.values[k] for k in spec.key)
            if key in keys:
                shown = ", ".join(str(k) for k in key)
                self.problem(spec, row.line, spec.key[-1], f"duplicate key ({shown}), first on line {keys[key].line}")
                row.ok = False
                continue
            keys[key] = row
        self.keys[spec.name] = keys

    def check_references(self, spec: TenantFile) -> None:
        for column in spec.columns:
            if not column.references:
                continue
            known = self.keys[column.references]
            for row in self.parsed[spec.name]:
                value = row.values.get(column.name)
                if value is not None and (value,) not in known:
                    self.problem(
                        spec,
                        row.line,
                        column.name,
                        f"unknown reference {value!r}: not a key of {column.references}.csv",
                    )
                    row.ok = False

    def convert_units(self, spec: TenantFile, unit: Column) -> None:
        target = next(c for c in spec.columns if c.name == unit.unit_of).references
        owner = "ingredient" if target == "ingredients" else "component"
        for row in self.parsed[spec.name]:
            written, quantity = row.values.get(unit.name), row.values.get(unit.converts)
            referenced = self.keys[target].get((row.values.get(unit.unit_of),))
            if written is None or quantity is None or referenced is None or "unit" not in referenced.values:
                continue
            stored, name = referenced.values["unit"], row.values[unit.unit_of]
            try:
                row.values[unit.converts] = convert(quantity, written, stored)
            except CellError:
                self.problem(
                    spec,
                    row.line,
                    unit.name,
                    f"unit {written!r} does not convert to {stored!r}, the unit of {owner} {name!r}",
                )
                row.ok = False

    def to_table_rows(self, spec: TenantFile) -> list[dict[str, Any]]:
        model, parents, nested = _MODELS[spec.name]
        columns_by_field = {c.target: c.name for c in spec.columns}
        targets = {c.name: c.target for c in spec.columns if c.kind != "unit"}
        excluded = set(nested)
        # only rows with list values need `_plain`; a year of sales is 100,000s of flat rows
        has_lists = any(c.kind in {"weekdays", "dates", "tiers"} for c in spec.columns)
        result = []
        for row in self.parsed[spec.name]:
            if not row.ok or spec.name in self.bad_headers:
                continue
            fields = {targets[n]: v for n, v in row.values.items() if n in targets}
            values = {k: v for k, v in fields.items() if k not in parents} if parents else fields
            try:
                validated = model.model_validate({**values, **nested}, strict=False)
            except ValidationError as exc:
                for error in exc.errors():
                    name = str(error["loc"][0]) if error["loc"] else ""
                    self.problem(spec, row.line, columns_by_field.get(name, name), _reason(error))
                continue
            table_row = {**{p: fields[p] for p in parents}, **validated.model_dump(exclude=excluded)}
            result.append(_plain(table_row) if has_lists else table_row)
        return result

    def tenant_row(self, spec: TenantFile) -> dict[str, Any] | None:
        rows = [row for row in self.parsed[spec.name] if row.ok]
        if not rows:
            return None
        row = rows[0]
        groups: dict[str, dict[str, Any]] = {group: {} for group in _TENANT_MODELS}
        top: dict[str, Any] = {}
        for name, value in row.values.items():
            group, dot, key = spec.column(name).target.partition(".")
            if dot:
                groups[group][key] = value
            else:
                top[group] = value
        columns_by_field = {c.target: c.name for c in spec.columns}
        for group, model in _TENANT_MODELS.items():
            try:
                top[group] = model.model_validate(groups[group], strict=False).model_dump(mode="json")
            except ValidationError as exc:
                for error in exc.errors():
                    target = f"{group}.{error['loc'][0]}" if error["loc"] else group
                    self.problem(spec, row.line, columns_by_field.get(target, target), _reason(error))
        return top

    def check_cycles(self) -> None:
        spec = next(f for f in FILES if f.name == "component_components")
        uses: dict[str, list[tuple[str, int]]] = {}
        for row in self.parsed[spec.name]:
            # a file missing a required column was reported as such; its rows lack that value
            parent, child = row.values.get("parent_id"), row.values.get("component_id")
            if row.ok and spec.name not in self.bad_headers and parent is not None and child is not None:
                uses.setdefault(parent, []).append((child, row.line))
        done: set[str] = set()

        def visit(node: str, path: list[str]) -> None:
            for child, line in uses.get(node, []):
                if child in path:
                    cycle = " → ".join([*path[path.index(child) :], child])
                    self.problem(spec, line, "component_id", f"component cycle {cycle}")
                elif child not in done:
                    visit(child, [*path, child])
            done.add(node)

        for start in sorted(uses):
            if start not in done:
                visit(start, [start])


def read_files(files: Mapping[str, RawFile], sales: SalesExport | None = None) -> Reading:
    """Every tenant file parsed and checked; `files` maps file names (`products.csv`) to their content.

    The tenant row (`rows["tenant"]`) is present only when the tenant file has a row; its name and
    time zone may be missing (see `resolve_tenant`). A sales export (`sales`), checked in the same
    pass against the products, gives the daily sales instead of `daily_sales.csv` (both is a problem).
    """
    reader = _Reader(files)
    for spec in FILES:
        reader.parsed[spec.name] = reader.parse_file(spec)
        reader.index_keys(spec)
    for spec in FILES:
        reader.check_references(spec)
        for column in spec.columns:
            if column.kind == "unit":
                reader.convert_units(spec, column)
    rows: TenantRows = {}
    for spec in FILES:
        if spec.name == "tenant":
            tenant = reader.tenant_row(spec)
            rows["tenant"] = [] if tenant is None else [tenant]
        else:
            rows[spec.name] = reader.to_table_rows(spec)
    reader.check_cycles()
    reading = Reading(rows=rows, problems=reader.problems)
    if sales is not None:
        _read_export(reader, sales, reading)
    return reading


def _read_export(reader: _Reader, sales: SalesExport, reading: Reading) -> None:
    if "daily_sales.csv" in reader.files:
        reading.problems.append("daily_sales.csv: a sales export is given too; keep one of them")
    prices = {key[0]: row.values.get("unit_price") for key, row in reader.keys["products"].items()}
    export = read_sales(sales, prices)
    reading.problems.extend(export.problems)
    reading.rows["daily_sales"] = export.rows
    reading.sales = export.summary


def resolve_tenant(
    reading: Reading, *, tenant_id: str, existing: Mapping[str, Any] | None, time_zone: str | None
) -> None:
    """Complete the tenant row in place: the file's values first, then `time_zone`, then the existing row.

    A tenant file without a row keeps the existing tenant's settings (a new tenant gets the contract
    defaults, and EUR). A new tenant whose time zone is nowhere is a problem naming the fix.
    """
    given = reading.rows.get("tenant") or []
    if given:
        row = dict(given[0])
    elif existing is not None:
        row = dict(existing)
    else:
        row = {
            "calendar": Calendar().model_dump(mode="json"),
            "capacity": Capacity().model_dump(mode="json"),
            "policy": PlanningPolicy().model_dump(mode="json"),
        }
    row.setdefault("name", existing["name"] if existing else tenant_id)
    row.setdefault("currency", existing.get("currency", DEFAULT_CURRENCY) if existing else DEFAULT_CURRENCY)
    if "timezone" not in row:
        zone = time_zone or (existing["timezone"] if existing else None)
        if zone is None:
            place = "tenant.csv:2:time_zone" if given else "tenant.csv"
            reading.problems.append(f"{place}: a new tenant needs a time zone: give it in tenant.csv or --time-zone")
            return
        row["timezone"] = zone
    reading.rows["tenant"] = [{k: row[k] for k in ("name", "timezone", "currency", "calendar", "capacity", "policy")}]
