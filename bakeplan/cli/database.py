"""`bakeplan db`: the database schema."""

import typer
from sqlalchemy.engine import make_url

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, print_json


def db_upgrade(as_json: JsonFlag = False) -> None:
    """Create or migrate every schema and table to the latest version."""
    from bakeplan.migrate import head_revision, upgrade

    settings = load_settings()
    upgrade(settings)
    if as_json:
        print_json(
            {
                "database": make_url(settings.database_url).render_as_string(hide_password=True),
                "revision": head_revision(settings),
                "at_latest": True,
            }
        )
    else:
        console.print("database is at the latest schema version")


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    app.add_typer(db, name="db")
