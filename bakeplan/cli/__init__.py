"""The `bakeplan` command line: the root command, with one module per command group registered on it.

`bakeplan = "bakeplan.cli:app"` (pyproject.toml) and `python -m bakeplan` both run `app`.
"""

import typer

from bakeplan.cli import audit, database, dead_letters, demo, offline, runs, schedules, seeding, serving, stack
from bakeplan.cli.tenant_files import register as register_tenant_files


def build_app() -> typer.Typer:
    """The root command with every group registered. Nothing connects here: commands do, when run."""
    app = typer.Typer(help="bakeplan: event-driven daily planning for bakery chains.", no_args_is_help=True)
    # `--help` lists single commands, then groups, each in the order registered here.
    stack.register(app)  # group: stack
    database.register(app)  # group: db
    dead_letters.register(app)  # group: dlq
    schedules.register(app)  # group: schedule
    offline.register(app)  # plan, backtest, simulate, snapshot
    audit.register(app)  # replay, explain; group: audit
    seeding.register(app)  # seed
    register_tenant_files(app)  # export, import
    serving.register(app)  # serve
    runs.register(app)  # trigger, runs, show, plan-of
    demo.register(app)  # demo
    return app


app = build_app()
