"""The whole `bakeplan` command line: the root command with every module's commands registered on it
(`bakeplan.cli.app`, except in the processes of `bakeplan serve`: see `bakeplan.cli`)."""

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
from bakeplan.cli.base import new_app
from bakeplan.cli.tenant_files import register as register_tenant_files


def build_app() -> typer.Typer:
    """The root command with every group registered. Nothing connects here: commands do, when run."""
    app = new_app()
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
