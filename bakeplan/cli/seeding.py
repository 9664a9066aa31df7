"""`bakeplan seed`: synthetic tenants written to the database."""

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import date_or_today, with_db
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json


def seed(
    tenants: Annotated[int, typer.Option(min=1, help="How many tenants to generate.")] = 1,
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "small",
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 1,
    prefix: Annotated[str, typer.Option(help="Tenant ids are PREFIX-001, PREFIX-002, ...")] = "bakery",
    today: Annotated[str | None, typer.Option(help="Last sales day is the day before this (YYYY-MM-DD).")] = None,
    cold: Annotated[
        bool,
        typer.Option(
            "--cold",
            help="Random stock and nothing on order, instead of the stock and open orders of weeks on the policy.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate realistic synthetic tenants (products, recipes, suppliers, stock, open orders, sales).

    Each tenant starts warm: its stock lots and purchase orders in flight are those of a bakery that
    has run on bakeplan's policy for three weeks (docs/simulation.md). `--cold` keeps the generator's
    random stock with nothing on order.
    """
    from lab.seed import write_tenant
    from lab.synthetic import PROFILES
    from lab.tenants import seeded_tenant

    if profile not in PROFILES:
        fail(f"--profile {profile!r} is not one of {', '.join(PROFILES)}")
    day = date_or_today(today)
    ids = [f"{prefix}-{n:03d}" for n in range(1, tenants + 1)]

    async def write(conn: AsyncConnection) -> None:
        for tenant_id in ids:
            tenant = seeded_tenant(tenant_id, profile=profile, seed=seed_value, today=day, components=True, cold=cold)  # type: ignore[arg-type]
            await write_tenant(conn, tenant)

    with_db(write)
    start = "cold" if cold else "warm"
    if as_json:
        print_json({"tenants": ids, "profile": profile, "seed": seed_value, "today": day, "start": start})
    else:
        console.print(f"seeded {len(ids)} {profile} tenant(s), {start} start: {', '.join(ids)}")


def register(app: typer.Typer) -> None:
    app.command()(seed)
