"""`bakeplan db`: the database schema."""

import typer

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import console


def db_upgrade() -> None:
    """Create or migrate every schema and table to the latest version."""
    from bakeplan.migrate import upgrade

    upgrade(load_settings())
    console.print("database is at the latest schema version")


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    app.add_typer(db, name="db")
