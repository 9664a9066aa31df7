"""`bakeplan db`: the database schema and its Postgres roles."""

import asyncio

import typer
from rich.table import Table
from sqlalchemy.engine import make_url

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, print_json
from infra.settings import Settings


def _apply_roles(settings: Settings) -> list[dict[str, object]]:
    from bakeplan.db_roles import apply_roles
    from infra.db import create_engine

    async def run() -> list[dict[str, object]]:
        engine = create_engine(settings, pool_size=1)
        try:
            async with engine.begin() as conn:
                applied = await apply_roles(conn, settings)
        finally:
            await engine.dispose()
        return [
            {
                "role": a.role,
                "name": a.name,
                "created": a.created,
                "password_set": a.password_set,
                "tables": a.tables,
                "purpose": a.purpose,
            }
            for a in applied
        ]

    return asyncio.run(run())


def _print_roles(applied: list[dict[str, object]]) -> None:
    table = Table("role", "Postgres role", "tables", "password", "what it may do", title="Postgres roles")
    for a in applied:
        password = "set" if a["password_set"] else ("—" if a["role"] == "owner" else "server auth")
        table.add_row(str(a["role"]), str(a["name"]), str(a["tables"]), password, str(a["purpose"]))
    console.print(table)


def db_upgrade(as_json: JsonFlag = False) -> None:
    """Create or migrate every schema and table to the latest version (and, with Postgres roles
    configured, re-apply the roles, so new tables get their grants)."""
    from bakeplan.migrate import head_revision, upgrade

    settings = load_settings()
    upgrade(settings)
    roles = _apply_roles(settings) if settings.db_roles else None
    if as_json:
        print_json(
            {
                "database": make_url(settings.database_url).render_as_string(hide_password=True),
                "revision": head_revision(settings),
                "at_latest": True,
                "roles": roles,
            }
        )
    else:
        console.print("database is at the latest schema version")
        if roles is not None:
            console.print(f"Postgres roles re-applied ({len(roles)} roles)")


def db_roles_apply(as_json: JsonFlag = False) -> None:
    """Create or update the Postgres role of each component (bakeplan/db_roles.py): ownership by the
    migrations owner, least-privilege grants, row-level security by tenant. Idempotent; run it as the
    operator (DATABASE_URL) after `db upgrade`."""
    settings = load_settings()
    applied = _apply_roles(settings)
    if as_json:
        print_json({"roles": applied})
        return
    _print_roles(applied)
    if not settings.db_roles and not settings.db_role_urls:
        console.print(
            "the processes still connect with DATABASE_URL: set BAKEPLAN_DB_ROLES=true (and "
            "BAKEPLAN_DB_ROLE_PASSWORDS) to have each connect as its own role"
        )


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema and roles.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    roles = typer.Typer(help="Postgres roles of least privilege, one per component.", no_args_is_help=True)
    roles.command("apply")(db_roles_apply)
    db.add_typer(roles, name="roles")
    app.add_typer(db, name="db")
