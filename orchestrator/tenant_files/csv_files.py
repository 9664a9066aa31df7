"""Tenant files on disk: a directory with one CSV per entity (UTF-8, comma-separated, a header row), and
a long-format sales export."""

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.reading import RawFile
from orchestrator.tenant_files.sales import Gaps, Measure, SalesExport
from orchestrator.tenant_files.writing import FileContent

_BOM = b"\xef\xbb\xbf"


class UnreadableFilesError(ValueError):
    """Files that are not CSV text at all (not UTF-8, a NUL byte, an unclosed quote at the end): one
    `file:line: reason` per file in `problems`, found before any cell is checked."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, Sequence[str]]]]:
    """The header and the data rows of a CSV file, each row with the line it starts on.

    A byte-order mark (as spreadsheet programs write) is skipped; an empty file has no header and no rows.
    Raises `UnreadableFilesError` naming the file and line when it is not UTF-8 or not CSV.
    """
    data = path.read_bytes().removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableFilesError(
            [f"{path.name}:{line}: is not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as CSV in UTF-8"]
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, Sequence[str]]] = []
    try:
        header = next(reader, [])
        start = reader.line_num + 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UnreadableFilesError(
            [f"{path.name}:{reader.line_num}: not a CSV line ({exc}): check the quotes, and save the file as CSV"]
        ) from exc
    return header, rows


def read_directory(directory: Path) -> dict[str, RawFile]:
    """The tenant files present in `directory` (others are ignored), with each row's line number.

    Raises `UnreadableFilesError` with one problem per file that is not UTF-8 CSV text.
    """
    files = {}
    problems: list[str] = []
    for spec in FILES:
        path = directory / spec.file_name
        if path.is_file():
            try:
                header, rows = _read_csv(path)
            except UnreadableFilesError as exc:
                problems += exc.problems
                continue
            files[spec.file_name] = RawFile(header=header, rows=rows)
    if problems:
        raise UnreadableFilesError(problems)
    return files


def read_sales_file(path: Path, *, measure: Measure = "units", gaps: Gaps = "zero") -> SalesExport:
    """A long-format sales export (`date,product,quantity`), named by its file name in problems.

    Raises `UnreadableFilesError` when it is not UTF-8 CSV text.
    """
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
