"""The `bakeplan` command line. `bakeplan = "bakeplan.cli:app"` (pyproject.toml) and `python -m bakeplan`
both run `app`: the root command with one module per command group registered on it
(`bakeplan.cli.root`).

`app` is built when first asked for. In a process started as `bakeplan serve ...` (every role of a
deployment, and each child of `serve --role all`) it holds the `serve` command alone: importing the
other commands' modules (the console, purchase-order rendering, offline planning, the local stack)
would cost every serving process memory it never uses: 125 MB instead of 77 MB once imported, about
11 MB more at its peak in the benchmarks (docs/benchmarks.md, "The serving processes' memory").
"""

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def serving_only(argv: list[str]) -> bool:
    """Whether `argv` runs `bakeplan serve` (an option before the command builds the whole app)."""
    return argv[1:2] == ["serve"]


def __getattr__(name: str) -> "typer.Typer":
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if serving_only(sys.argv):
        from bakeplan.cli import serving
        from bakeplan.cli.base import new_app

        app = new_app()
        serving.register(app)
    else:
        from bakeplan.cli.root import build_app

        app = build_app()
    globals()["app"] = app
    return app
