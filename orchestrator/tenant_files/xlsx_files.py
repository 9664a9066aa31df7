"""Tenant files in one XLSX workbook: a sheet per entity, named as the file without `.csv` (`products`).

Each sheet reads like its CSV file: row 1 is the header, a cell's line is its row number. Cells
typed by the spreadsheet become the text a CSV would hold (a number as a plain decimal, a date as
YYYY-MM-DD), so the same checks apply. Problems name the sheet: `bakery.xlsx[products]:2:unit_price`.
"""

from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from orchestrator.tenant_files.cells import decimal_text
from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.csv_files import UnreadableFilesError
from orchestrator.tenant_files.reading import RawFile


def cell_text(value: Any) -> str:
    """What a CSV cell would hold for a workbook cell's value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return decimal_text(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def read_workbook(path: Path) -> dict[str, RawFile]:
    """The tenant sheets present in the workbook at `path` (other sheets are ignored), keyed by file name.

    Raises `UnreadableFilesError` when the file is not a workbook openpyxl can open."""
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFilesError(
            [f"{path.name}: not an .xlsx workbook ({type(exc).__name__}: {exc}): save it as an Excel workbook (.xlsx)"]
        ) from exc
    try:
        files = {}
        for spec in FILES:
            if spec.name not in workbook.sheetnames:
                continue
            rows = workbook[spec.name].iter_rows(values_only=True)
            header = [cell_text(v) for v in next(rows, ())]
            data = [(n, [cell_text(v) for v in row]) for n, row in enumerate(rows, start=2)]
            files[spec.file_name] = RawFile(header=header, rows=data, source=f"{path.name}[{spec.name}]")
        return files
    finally:
        workbook.close()
