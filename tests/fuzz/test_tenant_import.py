"""`bakeplan import` fed fuzzed tenant files and sales exports (random bytes, garbled CSV, bad cells,
missing and extra columns, duplicated rows), in-process through the CLI on the real Postgres: each run
either imports everything (a second look at the same files finds nothing to change) or exits 2 naming
file, line and column with nothing written; never a traceback, never a partial import."""

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bakeplan.cli import app
from infra.db import create_engine
from infra.settings import Settings
from orchestrator.tenant_files.writing import template_files
from orchestrator.tenant_files_store import read_rows
from tests.fuzz.profiles import fuzz_settings
from tests.fuzz.wire import far_dates, odd_texts, texts

pytestmark = pytest.mark.fuzz
TENANT = "fuzz-import-bakery"
TEMPLATE = template_files()
Files = dict[str, bytes]
# a problem line: `file: reason`, `file:line: reason` or `file:line:column: reason` (a workbook's sheet in
# []); the column is as the header wrote it, so any text
PROBLEM = re.compile(r"^[\w.-]+\.(csv|xlsx)(\[\w+\])?(:\d+)?(:.*)?: \S")


def as_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


cells = st.one_of(texts, odd_texts, far_dates, st.sampled_from(["-1", "NaN", "inf", "1e400", "0", "", "1,5", "12 kg"]))


@st.composite
def tenant_files(draw: st.DrawFn) -> Files:
    """The template (one bakery that imports cleanly) with a few things broken (or none)."""
    tables = {name: ([*header], [[*row] for row in rows]) for name, (header, rows) in TEMPLATE.items()}
    raw: Files = {}
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(tables)))
        header, rows = tables[name]
        action = draw(st.sampled_from(["cell", "cell", "cell", "header", "row", "dup", "drop", "bytes", "line"]))
        if action == "cell" and rows:
            row = draw(st.sampled_from(rows))
            if row:
                row[draw(st.integers(0, len(row) - 1))] = draw(cells)
        elif action == "header":
            at = draw(st.integers(0, len(header) - 1))
            header[at] = draw(st.one_of(st.sampled_from([*header, "", "unknown_column"]), texts))
        elif action == "row" and rows:
            row = draw(st.sampled_from(rows))
            row[:] = row[: draw(st.integers(0, len(row) + 2))] + draw(st.lists(cells, max_size=2))
        elif action == "dup" and rows:
            rows.append([*draw(st.sampled_from(rows))])
        elif action == "drop":
            del tables[name]
        elif action == "bytes":
            raw[name] = draw(st.binary(max_size=200))
        elif action == "line":  # a line no spreadsheet writes: an open quote, a NUL, a lone CR
            raw[name] = as_csv(header, rows) + draw(st.sampled_from([b'"open,', b"a\x00b,1\n", b"\r", b"\xff\xfe"]))
    files = {name: as_csv(header, rows) for name, (header, rows) in tables.items()}
    return files | raw


@st.composite
def sales_exports(draw: st.DrawFn) -> bytes:
    """A till's `date,product,quantity` export of the template's products, maybe broken."""
    products = [row[0] for row in TEMPLATE["products.csv"][1]]
    rows = [[f"2026-11-{day:02d}", product, str(10 + day)] for day in range(1, 15) for product in products]
    for _ in range(draw(st.integers(0, 2))):
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, 2))] = draw(cells)
    body = as_csv(["date", "product", "quantity"], rows)
    if draw(st.integers(0, 4)) == 0:
        body = draw(st.sampled_from([b"\xff" + body, body + b"\x00", b"", body.replace(b"date", b"day", 1)]))
    return body


def write(directory: Path, files: Files) -> None:
    for old in directory.iterdir():
        old.unlink()
    for name, content in files.items():
        (directory / name).write_bytes(content)


def stored(settings: Settings) -> Any:
    async def read() -> Any:
        engine = create_engine(settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await read_rows(conn, TENANT)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def cli(fuzz_settings: Settings) -> Iterator[CliRunner]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("BAKEPLAN_DATABASE_URL", raising=False)
        patch.setenv("DATABASE_URL", fuzz_settings.database_url)
        runner = CliRunner()
        yield runner


@pytest.fixture(scope="module")
def bakery(cli: CliRunner, fuzz_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tenant, imported once from the template; its directory, which each example rewrites."""
    directory = tmp_path_factory.mktemp("tenant-files")
    write(directory, {name: as_csv(*content) for name, content in TEMPLATE.items()})
    result = cli.invoke(app, ["import", "--tenant", TENANT, str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def import_checked(cli: CliRunner, settings: Settings, args: list[str]) -> None:
    """Run `bakeplan import ARGS` and check the all-or-nothing outcome."""
    before = stored(settings)
    result = cli.invoke(app, ["import", "--tenant", TENANT, *args])
    output = result.stdout + result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        f"a crash: {result.exception!r}\n{output}"
    )
    assert "Traceback" not in output, output
    if result.exit_code == 0:
        # imported whole: the same files again change nothing
        again = cli.invoke(app, ["import", "--tenant", TENANT, *args, "--dry-run", "--json"])
        assert again.exit_code == 0, again.output
        second = json.loads(again.stdout)
        assert second["written"] is False
        assert all(sum(counts.values()) == 0 for counts in second["files"].values()), second
        return
    assert result.exit_code == 2, f"exit {result.exit_code}: {output}"
    problems = result.stderr.splitlines()
    assert problems[-1].startswith("error: "), result.stderr
    assert "nothing was written" in problems[-1], result.stderr
    assert problems[:-1], f"no problem named: {result.stderr}"
    for line in problems[:-1]:
        assert PROBLEM.match(line), f"a problem that names no file (and line, column): {line!r}"
    assert stored(settings) == before, "a rejected import changed the tenant's master data"


def template_with(name: str, tail: bytes, *, header: bytes | None = None) -> Files:
    """The template's files, `tail` added to the end of file `name` (and its header line replaced)."""
    files = {each: as_csv(*content) for each, content in TEMPLATE.items()}
    content = files[name]
    if header is not None:
        content = header + content[content.index(b"\n") :]
    return files | {name: content + tail}


@fuzz_settings(examples=10)
@given(files=tenant_files())
# found by this test: a file that is not UTF-8 crashed the import with a UnicodeDecodeError traceback
@example(files=template_with("component_components.csv", b"\xff\xfe"))
# and a NUL byte (Python's csv refuses the line) and an unclosed quote at the end likewise, as csv.Error
@example(files=template_with("stock_lots.csv", b"a\x00b,1\n"))
@example(files=template_with("products.csv", b'"open,'))
# and a required column missing from component_components.csv crashed the cycle check with a KeyError
@example(
    files=template_with("component_components.csv", b"", header=b"component_id,component_id,quantity_per_batch,unit")
)
def test_tenant_files_import_whole_or_not_at_all(
    cli: CliRunner, fuzz_settings: Settings, bakery: Path, files: Files
) -> None:
    write(bakery, files)
    import_checked(cli, fuzz_settings, [str(bakery)])


@fuzz_settings(examples=5)
@given(export=sales_exports())
def test_a_sales_export_imports_whole_or_not_at_all(
    cli: CliRunner, fuzz_settings: Settings, bakery: Path, tmp_path_factory: pytest.TempPathFactory, export: bytes
) -> None:
    write(bakery, {name: as_csv(*content) for name, content in TEMPLATE.items() if name != "daily_sales.csv"})
    sales = tmp_path_factory.getbasetemp() / "sales-export.csv"
    sales.write_bytes(export)
    import_checked(cli, fuzz_settings, [str(bakery), "--sales", str(sales)])
