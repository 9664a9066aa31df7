"""`bakeplan console`: serve the web console, and manage its users (docs/console.md)."""

import sys
from typing import Annotated

import typer

from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.terminal import JsonFlag, console, err, fail, print_json


def console_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
) -> None:
    """Serve the console (runs, sagas, forecasts, dead letters, schedules, health) until interrupted."""
    import uvicorn  # only this command needs the web server

    from bakeplan.console.app import create_app
    from bakeplan.console.settings import ConsoleSettings

    settings = ConsoleSettings()
    if settings.is_dev_secret:
        err.print("warning: BAKEPLAN_CONSOLE_SECRET_KEY is not set; sessions are signed with the development secret")
    uvicorn.run(create_app(load_settings().for_role("console"), settings), host=host, port=port, log_level="warning")


def user_add(
    name: Annotated[str, typer.Argument(help="User name (at most 64 characters).")],
    role: Annotated[str, typer.Option(help="viewer (reads) or operator (also acts).")],
    tenants: Annotated[str, typer.Option(help="Tenant ids the user may see, comma-separated; * for all.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a console user, or replace an existing one's password, role and tenants."""
    from bakeplan.console.users import Role, add_user, check_password, parse_tenants

    if role not in {r.value for r in Role}:
        fail(f"--role {role!r}: use viewer (reads the granted tenants' pages) or operator (also acts on them)")
    if not 0 < len(name) <= 64:
        fail(f"user name {name!r}: give 1 to 64 characters")
    try:
        granted, all_tenants = parse_tenants(tenants)
    except ValueError as exc:
        fail(str(exc))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except ValueError as exc:
        fail(str(exc))
    created = with_db(
        lambda conn: add_user(conn, name, password, role=Role(role), tenants=granted, all_tenants=all_tenants)
    )
    scope = "every tenant" if all_tenants else ", ".join(sorted(granted))
    typer.echo(f"{'created' if created else 'updated'} {name}: {role} of {scope}")


def user_list(as_json: JsonFlag = False) -> None:
    """The console's users: role and granted tenants (never their password hashes)."""
    from bakeplan.console.users import list_users

    found = with_db(list_users)
    rows = [
        {"username": u.username, "role": u.role.value, "tenants": "*" if u.all_tenants else sorted(u.tenants)}
        for u in found
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        tenants = r["tenants"] if isinstance(r["tenants"], str) else ",".join(r["tenants"])
        console.print(f"{r['username']}  {r['role']}  {tenants}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The web console: serve it, manage its users.", no_args_is_help=True)
    group.command("serve")(console_serve)
    users = typer.Typer(help="Console users: a role (viewer, operator) and granted tenants.", no_args_is_help=True)
    users.command("add")(user_add)
    users.command("list")(user_list)
    group.add_typer(users, name="user")
    app.add_typer(group, name="console")
