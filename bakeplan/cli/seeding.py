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
    as_json: JsonFlag = False,
) -> None:
    """Generate realistic synthetic tenants (products, recipes, suppliers, stock, sales)."""
    from lab.seed import write_tenant
    from lab.synthetic import PROFILES, generate_tenant

    if profile not in PROFILES:
        fail(f"--profile {profile!r} is not one of {', '.join(PROFILES)}")
    day = date_or_today(today)
    ids = [f"{prefix}-{n:03d}" for n in range(1, tenants + 1)]

    async def write(conn: AsyncConnection) -> None:
        for tenant_id in ids:
            tenant = generate_tenant(tenant_id, profile=profile, seed=seed_value, today=day, components=True)  # type: ignore[arg-type]
            await write_tenant(conn, tenant)

    with_db(write)
    if as_json:
        print_json({"tenants": ids, "profile": profile, "seed": seed_value, "today": day})
    else:
        console.print(f"seeded {len(ids)} {profile} tenant(s): {', '.join(ids)}")


def register(app: typer.Typer) -> None:
    app.command()(seed)
