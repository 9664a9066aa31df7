"""What the `bakeplan` commands print: one console for output, one for errors, one JSON style."""

import json
from typing import Any, NoReturn

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error stays one greppable line


def print_json(data: Any) -> None:
    """One JSON object on stdout (dates and ids as strings)."""
    typer.echo(json.dumps(data, default=str, indent=2))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit with `code` (2: bad input)."""
    err.print("[red]error:[/red]", end=" ")
    err.print(message, markup=False, highlight=False)  # file names and values are not markup
    raise typer.Exit(code)
