"""`bakeplan contract write [--check]`: the AsyncAPI document and JSON Schemas of the Kafka contract."""

from pathlib import Path
from typing import Annotated

import typer

from bakeplan.cli.terminal import console, fail

ROOT = Path(__file__).resolve().parents[2]


def contract_write(
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if a committed file differs from what would be written."),
    ] = False,
    root: Annotated[Path, typer.Option(help="The checkout to write into.")] = ROOT,
) -> None:
    """Write docs/asyncapi.json and docs/schemas/<event_type>.v<N>.json from contracts/ (docs/contract.md)."""
    from bakeplan.contract.files import REGENERATE, stale, write

    if check:
        differ = stale(root)
        if differ:
            fail(f"the contract files are not current: {', '.join(map(str, differ))}; run `{REGENERATE}`", 1)
        console.print("the contract files are current")
        return
    changed = write(root)
    for path in changed:
        console.print(f"wrote {path}" if (root / path).exists() else f"removed {path}")
    if not changed:
        console.print("the contract files are current")


def register(app: typer.Typer) -> None:
    contract = typer.Typer(help="The Kafka contract as documents: AsyncAPI and JSON Schema.", no_args_is_help=True)
    contract.command("write")(contract_write)
    app.add_typer(contract, name="contract")
