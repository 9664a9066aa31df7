"""What the `bakeplan` commands print: one console for output, one for errors, one JSON style."""

import json
from datetime import date
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error stays one greppable line

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def print_json(data: Any) -> None:
    """One JSON object on stdout (dates and ids as strings)."""
    typer.echo(json.dumps(data, default=str, indent=2))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit with `code` (2: bad input)."""
    err.print("[red]error:[/red]", end=" ")
    err.print(message, markup=False, highlight=False)  # file names and values are not markup
    raise typer.Exit(code)


def parse_day(value: str, option: str, *, example: str = "2026-11-28") -> date:
    """`value` of `option` as a date, or exit 2 saying the format."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date: use YYYY-MM-DD, e.g. {example}")


def parse_saga_id(value: str) -> UUID:
    """`value` as a saga id, or exit 2 saying where saga ids come from."""
    try:
        return UUID(value)
    except ValueError:
        fail(f"{value!r} is not a saga id (a UUID as printed by `bakeplan trigger` or `bakeplan runs`)")
