"""Tenant files on disk: a directory with one CSV per entity (UTF-8, comma-separated, a header row)."""

import csv
from collections.abc import Mapping
from pathlib import Path

from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.reading import RawFile
from orchestrator.tenant_files.writing import FileContent


def read_directory(directory: Path) -> dict[str, RawFile]:
    """The tenant files present in `directory` (others are ignored), with each row's line number.

    A byte-order mark (as spreadsheet programs write) is skipped; an empty file has no header and no rows.
    """
    files = {}
    for spec in FILES:
        path = directory / spec.file_name
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = []
            start = reader.line_num + 1
            for cells in reader:
                rows.append((start, cells))
                start = reader.line_num + 1
        files[spec.file_name] = RawFile(header=header, rows=rows)
    return files


def write_directory(directory: Path, files: Mapping[str, FileContent]) -> None:
    """Write each file into `directory` (created if missing), replacing files of the same name."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in files.items():
        with (directory / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
