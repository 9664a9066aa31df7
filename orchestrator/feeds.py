"""The live feeds' rules (docs/feeds.md): what a `sales.day_closed`, `inventory.stock_counted` or
`masterdata.changed` event changes in a tenant's master data, and why one cannot be applied.

Pure: the Postgres side (`orchestrator.feeds_store`) reads what these rules need, applies what they
return, and parks an event whose problems are not empty. A problem names the event and the place in
it, e.g. `sales.day_closed lines[2].product_id: unknown product 'P-RYE'`.
"""

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.messages import MasterDataChanged, SalesDayClosed, StockCounted
from orchestrator.tenant_files.columns import FILES, TenantFile
from orchestrator.tenant_files.reading import RawFile, TenantRows, read_files
from orchestrator.tenant_files.writing import render_files
from orchestrator.tenant_files.xlsx_files import cell_text

NOT_FED = ("daily_sales", "regressors")
"""Tenant files a `masterdata.changed` event cannot change: sales come by `sales.day_closed`, and both
are too large to re-check per event (an import replaces them)."""
FED_FILES = tuple(spec.name for spec in FILES if spec.name not in NOT_FED)

_SPECS = {spec.name: spec for spec in FILES}


def day_closed_problems(event: SalesDayClosed, known_products: Collection[str]) -> list[str]:
    """Why the closed day cannot be applied: a product sold twice in it, or not the tenant's."""
    problems = []
    seen: set[str] = set()
    for n, line in enumerate(event.lines):
        place = f"sales.day_closed lines[{n}].product_id"
        if line.product_id in seen:
            problems.append(f"{place}: product {line.product_id!r} appears twice; send one line per product")
        elif line.product_id not in known_products:
            problems.append(f"{place}: unknown product {line.product_id!r} of tenant {event.tenant_id}")
        seen.add(line.product_id)
    return problems


def sales_changes(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Per product, how the tenant's daily sales change when a store's day goes from `before` to
    `after` (the store's figures replace its earlier ones); products that do not change are left out."""
    products = set(before) | set(after)
    changes = {p: after.get(p, 0) - before.get(p, 0) for p in sorted(products)}
    return {p: delta for p, delta in changes.items() if delta}


def stock_count_problems(event: StockCounted, known_ingredients: Collection[str]) -> list[str]:
    """Why the count cannot be applied: an unknown ingredient, a lot twice, a lot outside a partial count."""
    problems = []
    listed = None if event.ingredient_ids is None else set(event.ingredient_ids)
    for n, ingredient_id in enumerate(event.ingredient_ids or ()):
        if ingredient_id not in known_ingredients:
            problems.append(
                f"inventory.stock_counted ingredient_ids[{n}]: unknown ingredient {ingredient_id!r} "
                f"of tenant {event.tenant_id}"
            )
    lots = Counter(lot.lot_id for lot in event.lots)
    for n, lot in enumerate(event.lots):
        place = f"inventory.stock_counted lots[{n}]"
        if lots[lot.lot_id] > 1:
            problems.append(f"{place}.lot_id: lot {lot.lot_id!r} appears {lots[lot.lot_id]} times")
        if listed is not None and lot.ingredient_id not in listed:
            problems.append(
                f"{place}.ingredient_id: {lot.ingredient_id!r} is not in ingredient_ids of this partial count; "
                "list it there or send a full count (ingredient_ids null)"
            )
        elif lot.ingredient_id not in known_ingredients:
            problems.append(
                f"{place}.ingredient_id: unknown ingredient {lot.ingredient_id!r} of tenant {event.tenant_id}"
            )
    return problems


@dataclass(frozen=True)
class RowChange:
    """A checked `masterdata.changed`: the table rows of `entity` to delete (by key) and to insert."""

    entity: str
    key: dict[str, Any]
    row: dict[str, Any] | None
    """The new row as its table holds it (without tenant_id); None for a removal."""
    problems: list[str]


def _event_cells(event: MasterDataChanged) -> dict[str, str]:
    return {name: cell_text(value) for name, value in event.row.items()}


def _place(event: MasterDataChanged) -> str:
    return f"masterdata.changed {event.operation} {event.entity}"


def row_change(event: MasterDataChanged, current: TenantRows) -> RowChange:
    """Check `event` against the tenant's `current` rows (every tenant file but `NOT_FED`) the way an
    import checks its files, and say what it changes.

    The event's row takes the place of the stored row with its key (or is added); a removal drops it.
    Problems in the event's own row name its column (`... upsert products row.unit_price: ...`); a row
    left dangling elsewhere is named as `bakeplan export` would write it (`recipe_lines.csv:4:...`).
    """
    spec = _SPECS.get(event.entity)
    if spec is None or spec.name in NOT_FED:
        reason = "daily sales come by sales.day_closed" if event.entity == "daily_sales" else "not a master-data entity"
        return _refused(event, f"entity {event.entity!r}: {reason}; the entities are {', '.join(FED_FILES)}")
    if spec.name == "tenant" and event.operation == "remove":
        return _refused(event, "the tenant row cannot be removed by a feed")
    cells = _event_cells(event)
    key_problems = [f"{_place(event)} row: missing key column {k!r}" for k in spec.key if not cells.get(k, "").strip()]
    if key_problems:
        return RowChange(spec.name, {}, None, key_problems)
    files = {
        name: RawFile(header=header, rows=_numbered(rows)) for name, (header, rows) in render_files(current).items()
    }
    for name in NOT_FED:
        files.pop(_SPECS[name].file_name, None)
    edited, event_line, key = _edited_file(spec, files[spec.file_name], cells, event.operation)
    files[spec.file_name] = edited
    reading = read_files(files)
    # the event's own row, and the header it widened with its unknown columns
    own = (f"{spec.file_name}:{event_line}:", f"{spec.file_name}:1:")
    problems = [
        f"{_place(event)} row.{p.split(':', 2)[2]}" if p.startswith(own) else f"{_place(event)} would leave {p}"
        for p in reading.problems
    ]
    if problems or event.operation == "remove":
        return RowChange(spec.name, key, None, problems)
    new_rows = reading.rows.get(spec.name, [])
    row = next((r for r in new_rows if all(r.get(k) == v for k, v in key.items())), None)
    return RowChange(spec.name, key, row, [])


def _refused(event: MasterDataChanged, reason: str) -> RowChange:
    return RowChange(event.entity, {}, None, [f"{_place(event)}: {reason}"])


def _numbered(rows: list[list[str]]) -> list[tuple[int, list[str]]]:
    return [(line, cells) for line, cells in enumerate(rows, start=2)]


def _edited_file(
    spec: TenantFile, stored: RawFile, cells: dict[str, str], operation: str
) -> tuple[RawFile, int, dict[str, Any]]:
    """The stored file with the event's row in place of the row of its key: the file, the row's line
    (after the stored rows), and its key as parsed from the stored file's matching row (or as written)."""
    header = list(stored.header)
    extra = [name for name in cells if name not in header]
    header += extra
    positions = {name: n for n, name in enumerate(header)}
    key_cells = tuple(cells.get(k, "").strip() for k in spec.key)
    kept = []
    for line, row in stored.rows:
        stored_key = tuple(row[positions[k]] for k in spec.key)
        if (spec.key and stored_key == key_cells) or not spec.key:
            continue
        kept.append((line, [*row, *([""] * len(extra))]))
    event_line = len(stored.rows) + 2
    if operation == "upsert":
        kept.append((event_line, [cells.get(name, "") for name in header]))
    key = {k: cells[k].strip() for k in spec.key}  # every fed file's key columns are ids: text as stored
    return RawFile(header=header, rows=kept), event_line, key
