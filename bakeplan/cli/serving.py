"""`bakeplan serve`: the orchestrator and the workers, one role per OS process."""

import signal
import subprocess
import sys
from typing import Annotated

import typer

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import fail


def spawn_roles(roles: list[str]) -> list[subprocess.Popen[bytes]]:
    """One `bakeplan serve --role ROLE` child process per entry of `roles` (repeat a role for replicas)."""
    return [subprocess.Popen([sys.executable, "-m", "bakeplan", "serve", "--role", role]) for role in roles]


def serve(
    role: Annotated[str, typer.Option(help="all | orchestrator | forecasting | production | procurement")] = "all",
    replicas: Annotated[
        int, typer.Option(min=1, help="With --role all: processes per role (one consumer group per role).")
    ] = 1,
) -> None:
    """Run the orchestrator and workers; `all` starts each role as its own OS process (or several)."""
    from bakeplan.process import ROLES
    from bakeplan.process import serve as serve_role

    if role != "all":
        if role not in ROLES:
            fail(f"--role {role!r} is not one of all, {', '.join(ROLES)}")
        serve_role(load_settings(), role)
        return
    children = spawn_roles([r for r in ROLES for _ in range(replicas)])

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    raise typer.Exit(max(codes, default=0))


def register(app: typer.Typer) -> None:
    app.command()(serve)
