"""The root command every `bakeplan` command line starts from: its options and how it reports outages."""

from typing import Annotated

import typer

from bakeplan.cli.outages import OutageAwareGroup, quiet_client_logs


def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a server cannot be reached.")
    ] = False,
) -> None:
    """bakeplan: event-driven daily planning for bakery chains.

    Exit codes: 0 ok, 1 operational failure (a server unreachable, a saga that failed), 2 bad input."""
    quiet_client_logs(ctx.params)


def new_app() -> typer.Typer:
    """The root command with no command registered yet."""
    app = typer.Typer(cls=OutageAwareGroup, no_args_is_help=True)
    app.callback()(root)
    return app
