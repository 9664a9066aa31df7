"""Tenant files on disk: a directory with one CSV per entity (UTF-8, comma-separated, a header row), and
a long-format sales export."""

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.reading import RawFile
from orchestrator.tenant_files.sales import Gaps, Measure, SalesExport
from orchestrator.tenant_files.writing import FileContent


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, Sequence[str]]]]:
    """The header and the data rows of a CSV file, each row with the line it starts on.

    A byte-order mark (as spreadsheet programs write) is skipped; an empty file has no header and no rows.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows: list[tuple[int, Sequence[str]]] = []
        start = reader.line_num + 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    return header, rows


def read_directory(directory: Path) -> dict[str, RawFile]:
    """The tenant files present in `directory` (others are ignored), with each row's line number."""
    files = {}
    for spec in FILES:
        path = directory / spec.file_name
        if path.is_file():
            header, rows = _read_csv(path)
            files[spec.file_name] = RawFile(header=header, rows=rows)
    return files


def read_sales_file(path: Path, *, measure: Measure = "units", gaps: Gaps = "zero") -> SalesExport:
    """A long-format sales export (`date,product,quantity`), named by its file name in problems."""
    header, rows = _read_csv(path)
    return SalesExport(source=path.name, header=header, rows=rows, measure=measure, gaps=gaps)


def write_directory(directory: Path, files: Mapping[str, FileContent]) -> None:
    """Write each file into `directory` (created if missing), replacing files of the same name."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in files.items():
        with (directory / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
