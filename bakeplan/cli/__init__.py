"""The `bakeplan` command line: the root command, with one module per command group registered on it.

`bakeplan = "bakeplan.cli:app"` (pyproject.toml) and `python -m bakeplan` both run `app`.
"""

from typing import Annotated

import typer

from bakeplan.cli import (
    acl,
    audit,
    channels,
    console,
    contract,
    database,
    dead_letters,
    demo,
    feeds,
    notify,
    offline,
    orders,
    retention,
    runs,
    schedules,
    seeding,
    serving,
    stack,
    tenants,
    world,
)
from bakeplan.cli.outages import OutageAwareGroup, quiet_client_logs
from bakeplan.cli.tenant_files import register as register_tenant_files


def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a server cannot be reached.")
    ] = False,
) -> None:
    """bakeplan: event-driven daily planning for bakery chains.

    Exit codes: 0 ok, 1 operational failure (a server unreachable, a saga that failed), 2 bad input."""
    quiet_client_logs(ctx.params)


def build_app() -> typer.Typer:
    """The root command with every group registered. Nothing connects here: commands do, when run."""
    app = typer.Typer(cls=OutageAwareGroup, no_args_is_help=True)
    app.callback()(root)
    # `--help` lists single commands, then groups, each in the order registered here.
    stack.register(app)  # group: stack
    acl.register(app)  # group: acl
    database.register(app)  # group: db
    retention.register(app)  # group: retention
    dead_letters.register(app)  # group: dlq
    schedules.register(app)  # group: schedule
    offline.register(app)  # plan, backtest, simulate, snapshot
    audit.register(app)  # replay, explain; group: audit
    seeding.register(app)  # seed
    register_tenant_files(app)  # export, import
    feeds.register(app)  # feed
    serving.register(app)  # serve
    runs.register(app)  # trigger, runs, show, plan-of
    tenants.register(app)  # tenants
    orders.register(app)  # group: orders
    channels.register(app)  # group: channels
    notify.register(app)  # group: notify
    demo.register(app)  # demo
    world.register(app)  # world
    contract.register(app)  # group: contract
    console.register(app)  # group: console
    return app


app = build_app()
