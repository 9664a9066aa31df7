"""`bakeplan serve`: the orchestrator and the workers, one role per OS process, supervised."""

import logging
import os
import subprocess
import sys
from typing import Annotated, NoReturn

import typer

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import fail
from bakeplan.supervisor import spawn_role
from infra import logs, tracing


def spawn_roles(roles: list[str]) -> list[subprocess.Popen[bytes]]:
    """One `bakeplan serve --role ROLE` child process per entry of `roles` (repeat a role for replicas),
    for an interactive command such as `bakeplan demo`: the children log text unless
    BAKEPLAN_LOG_FORMAT says otherwise."""
    env = {"BAKEPLAN_LOG_FORMAT": os.environ.get("BAKEPLAN_LOG_FORMAT") or "text"}
    base = load_settings().metrics_port
    # each child its own metrics port, as `serve --role all` gives them
    return [
        spawn_role(role, {**env, "BAKEPLAN_METRICS_PORT": str(base + i if base else 0)}) for i, role in enumerate(roles)
    ]


def serve(
    role: Annotated[str, typer.Option(help="all | orchestrator | forecasting | production | procurement")] = "all",
    replicas: Annotated[
        int, typer.Option(min=1, help="With --role all: processes per role (one consumer group per role).")
    ] = 1,
) -> None:
    """Run the orchestrator and workers; `all` starts each role as its own OS process (or several) and
    restarts one that dies, with backoff (docs/cli.md, "Serving")."""
    from bakeplan.process import ROLES
    from bakeplan.process import serve as serve_role
    from bakeplan.supervision import RestartPolicy
    from bakeplan.supervisor import Supervisor

    settings = load_settings()
    try:
        tracing.tracing_choice(os.environ)  # a bad OTEL_* value is bad input: exit 2 before anything starts
    except tracing.TracingConfigError as exc:
        fail(str(exc))
    if role != "all":
        if role not in ROLES:
            fail(f"--role {role!r} is not one of all, {', '.join(ROLES)}")
        serve_role(settings, role)
        _exit_now()
    logs.configure(level=settings.log_level, fmt=settings.log_format or "json", role="supervisor")
    try:
        policy = RestartPolicy(
            backoff_seconds=settings.supervise_backoff_seconds,
            backoff_max_seconds=settings.supervise_backoff_max_seconds,
            max_restarts=settings.supervise_max_restarts,
            window_seconds=settings.supervise_window_seconds,
        )
    except ValueError as exc:
        fail(f"BAKEPLAN_SUPERVISE_*: {exc}")
    roles: list[str] = [r for r in ROLES for _ in range(replicas)]
    if settings.metrics_port and settings.metrics_port + len(roles) - 1 > 65535:
        fail(f"BAKEPLAN_METRICS_PORT={settings.metrics_port}: {len(roles)} children need ports up to 65535; lower it")
    raise typer.Exit(Supervisor(roles, policy, metrics_port=settings.metrics_port).run())


def register(app: typer.Typer) -> None:
    app.command()(serve)


def _exit_now() -> NoReturn:
    """End a role's process once `serve` has closed everything (consumers, producer, database pool,
    planner processes). The interpreter's own exit would then join the thread of each planner
    executor, and CPython's ProcessPoolExecutor can wait there for ever on one whose process was
    killed: a child that then outlives its supervisor's SIGTERM by 30 s and is SIGKILLed."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
