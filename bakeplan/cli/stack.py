"""`bakeplan stack`: the local Kafka and Postgres, run by the scripts in `deploy/local/`."""

import os
import subprocess
from pathlib import Path
from typing import Any

import typer

from bakeplan.cli.terminal import JsonFlag, fail, print_json

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"


def _script(name: str, action: str) -> int:
    return subprocess.call([str(DEPLOY_LOCAL / name), action])


def stack_up() -> None:
    """Start a local Kafka node and, unless DATABASE_URL is set, a throwaway Postgres cluster."""
    if _script("kafka.sh", "start") != 0:
        fail("Kafka did not start (see the messages above)", 1)
    external_db = os.environ.get("DATABASE_URL") or os.environ.get("BAKEPLAN_DATABASE_URL")
    if not external_db and _script("postgres.sh", "start") != 0:
        fail("Postgres did not start (see the messages above)", 1)


def stack_down() -> None:
    """Stop the local Kafka node and Postgres cluster (their data stays in .bakeplan-local/)."""
    _script("kafka.sh", "stop")
    _script("postgres.sh", "stop")


def _status(name: str) -> dict[str, Any]:
    done = subprocess.run([str(DEPLOY_LOCAL / name), "status"], capture_output=True, text=True, check=False)
    return {"running": done.returncode == 0, "detail": (done.stdout + done.stderr).strip()}


def stack_status(as_json: JsonFlag = False) -> None:
    """Say whether the local Kafka and Postgres run (exit 1 when either does not)."""
    status = {"kafka": _status("kafka.sh"), "postgres": _status("postgres.sh")}
    if as_json:
        print_json(status)
    else:
        for server in status.values():
            typer.echo(server["detail"])
    raise typer.Exit(0 if all(server["running"] for server in status.values()) else 1)


def register(app: typer.Typer) -> None:
    stack = typer.Typer(help="The local Kafka and Postgres (no Docker needed).", no_args_is_help=True)
    stack.command("up")(stack_up)
    stack.command("down")(stack_down)
    stack.command("status")(stack_status)
    app.add_typer(stack, name="stack")
