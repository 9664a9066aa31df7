"""Master-data rows into tenant files (`bakeplan export`), and the template (`bakeplan import --template`).

The inverse of `reading.read_files`: reading what `render_files` writes gives the same rows back.
Quantities are written in their ingredient's (or component's) unit, named in the `unit` column.
"""

from typing import Any

from orchestrator.tenant_files.cells import render
from orchestrator.tenant_files.columns import FILES, Column
from orchestrator.tenant_files.reading import TenantRows

# a file's content: its header, then its rows
FileContent = tuple[list[str], list[list[str]]]


def _value(row: dict[str, Any], column: Column) -> Any:
    group, dot, key = column.target.partition(".")
    return row.get(group, {}).get(key) if dot else row.get(group)


def render_files(rows: TenantRows) -> dict[str, FileContent]:
    """Every tenant file (`products.csv` …) with its header and one line per row, in the order given."""
    units = {
        "ingredients": {r["ingredient_id"]: r["unit"] for r in rows.get("ingredients", [])},
        "components": {r["component_id"]: r["unit"] for r in rows.get("components", [])},
    }
    files: dict[str, FileContent] = {}
    for spec in FILES:
        header = [c.name for c in spec.columns]
        lines = []
        for row in rows.get(spec.name, []):
            cells = []
            for column in spec.columns:
                if column.kind == "unit":
                    owner = spec.column(column.unit_of).references
                    cells.append(units[owner].get(row[column.unit_of], ""))
                else:
                    cells.append(render(column.kind, _value(row, column)))
            lines.append(cells)
        files[spec.file_name] = (header, lines)
    return files


def template_files() -> dict[str, FileContent]:
    """Every tenant file with its header and its example rows (one small bakery that imports cleanly)."""
    files: dict[str, FileContent] = {}
    for spec in FILES:
        examples: list[list[str]] = []
        for n in range(2):
            line = [c.examples[n] for c in spec.columns]
            if line not in examples:  # a file whose two examples agree has one row (tenant, nested components)
                examples.append(line)
        files[spec.file_name] = ([c.name for c in spec.columns], examples)
    return files
