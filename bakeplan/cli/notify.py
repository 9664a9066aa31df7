"""`bakeplan notify`: where a bakery hears of its plans and alerts (docs/channels.md, "Notifications").

`set --tenant T` takes the target from one of: a JSON file holding an email or webhook target (the same
shape as a supplier channel's `target`), `--email ADDR` (repeatable), or `--webhook URL
--signing-key-name K`. It is checked (shape, the tenant exists) and replaces the tenant's target; a
bad value names its field and exits 2. `show` prints the targets.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import with_db
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from orchestrator import masterdata as md
from workers.procurement.channels.config import TenantNotifications
from workers.procurement.channels.directory import notifications_of, save_notifications
from workers.procurement.channels.tables import tenant_notifications

OPTION_OF = {"to": "--email", "url": "--webhook", "signing_key_name": "--signing-key-name"}


def target_of(
    *, path: Path | None, email: list[str], webhook: str | None, signing_key_name: str | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The target as JSON-ready data from exactly one source, or the problems, each naming its option."""
    sources = [name for name, given in (("FILE", path), ("--email", email), ("--webhook", webhook)) if given]
    if len(sources) != 1:
        return None, [f"give exactly one of FILE, --email or --webhook (got {', '.join(sources) or 'none'})"]
    if signing_key_name and not webhook:
        return None, ["--signing-key-name goes with --webhook only (a file names it in its `signing_key_name`)"]
    if path is not None:
        try:
            value = orjson.loads(path.read_bytes())
        except OSError as exc:
            return None, [f"{path}: cannot read it ({exc.strerror})"]
        except orjson.JSONDecodeError as exc:
            return None, [f'{path}: not JSON ({exc}); write one target object, e.g. {{"kind": "email", ...}}']
        if not isinstance(value, dict):
            return None, [f"{path}: expected one JSON object (an email or webhook target)"]
        return value, []
    if webhook:
        if not signing_key_name:
            return None, ["--webhook needs --signing-key-name: the name of its key in BAKEPLAN_WEBHOOK_SIGNING_KEYS"]
        return {"kind": "webhook", "url": webhook, "signing_key_name": signing_key_name}, []
    return {"kind": "email", "to": email}, []


def parse_notifications(
    tenant: str, target: dict[str, Any], *, file: str | None = None
) -> tuple[TenantNotifications | None, list[str]]:
    """The tenant's notifications, or the problems, each naming the option (or the file) and the field."""
    try:
        return TenantNotifications.model_validate({"tenant_id": tenant, "target": target}, strict=False), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            if loc[:1] == ["target"]:
                loc = loc[2:] if len(loc) > 1 and loc[1] in ("email", "webhook") else loc[1:]
            field = ".".join(loc) or "target"
            where = file or (OPTION_OF.get(loc[0], "--email") if loc else "--email")
            problems.append(f"{where}: {field}: {error['msg']}")
        return None, problems


def notify_set(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    path: Annotated[
        Path | None, typer.Argument(help="JSON file: one email or webhook target (docs/channels.md).")
    ] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="Send by email to ADDR (repeatable).")] = None,
    webhook: Annotated[str | None, typer.Option(help="POST signed JSON to this http(s) URL.")] = None,
    signing_key_name: Annotated[
        str | None, typer.Option(help="The webhook's key name in BAKEPLAN_WEBHOOK_SIGNING_KEYS.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set where a tenant gets its plan-ready summaries and alerts (email or webhook); replaces its target."""
    target, problems = target_of(path=path, email=email or [], webhook=webhook, signing_key_name=signing_key_name)
    if target is None:
        fail("\n".join(problems))
    notifications, problems = parse_notifications(tenant, target, file=str(path) if path else None)
    if notifications is None:
        fail("\n".join(problems))

    async def store(conn: AsyncConnection) -> bool:
        known = (await conn.execute(select(md.tenants.c.tenant_id).where(md.tenants.c.tenant_id == tenant))).first()
        if known is None:
            return False
        await save_notifications(conn, notifications, at=datetime.now(UTC))
        return True

    if not with_db(store):
        fail(f"--tenant: no tenant {tenant!r}; `bakeplan tenants` lists them")
    if as_json:
        print_json(notifications.model_dump(mode="json"))
        return
    console.print(f"{tenant}: notifications by {notifications.describe()}", highlight=False)


def notify_show(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Where each tenant gets its plan-ready summaries and alerts."""

    async def read(conn: AsyncConnection) -> list[tuple[TenantNotifications, datetime]]:
        if tenant is not None:
            found = await notifications_of(conn, tenant)
            return [found] if found else []
        rows = await conn.execute(select(tenant_notifications).order_by(tenant_notifications.c.tenant_id))
        return [(TenantNotifications.model_validate(r.notifications, strict=False), r.updated_at) for r in rows]

    found = with_db(read)
    if as_json:
        print_json([{**n.model_dump(mode="json"), "updated_at": at} for n, at in found])
        return
    if not found:
        console.print(
            f"{'tenant ' + tenant if tenant else 'no tenant'} has no notification target; set one with "
            "`bakeplan notify set`",
            highlight=False,
        )
        return
    table = Table("tenant", "notifications", "set at")
    for notifications, at in found:
        table.add_row(notifications.tenant_id, notifications.describe(), f"{at:%Y-%m-%d %H:%M}")
    console.print(table)


def register(app: typer.Typer) -> None:
    notify = typer.Typer(help="Where each bakery gets its plan summaries and alerts.", no_args_is_help=True)
    notify.command("set")(notify_set)
    notify.command("show")(notify_show)
    app.add_typer(notify, name="notify")
