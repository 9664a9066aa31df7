"""`bakeplan channels`: where each supplier takes its purchase orders (docs/channels.md).

`set FILE` reads one `SupplierChannel` per line (JSON lines), or a JSON array of them, checks every
one (its shape, its tenant and supplier exist) and stores them all in one transaction, or none: a bad
line names itself and what to fix, and exits 2. `list` shows them.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import with_db
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from orchestrator import masterdata as md
from workers.procurement.channels.config import SupplierChannel
from workers.procurement.channels.directory import list_channels, save_channels


def read_channels(text: str, *, name: str) -> tuple[list[SupplierChannel], list[str]]:
    """The channels of a JSON array or JSON-lines text, and the problems, each naming its line."""
    stripped = text.strip()
    values: list[tuple[int, Any]] = []
    problems: list[str] = []
    try:
        if stripped.startswith("["):
            values = [(n, v) for n, v in enumerate(orjson.loads(stripped), start=1)]
        else:
            values = [(n, orjson.loads(line)) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    except orjson.JSONDecodeError as exc:
        return [], [f"{name}: not JSON or JSON lines ({exc}); write one channel object per line"]
    channels = []
    for n, value in values:
        try:
            channels.append(SupplierChannel.model_validate(value, strict=False))
        except ValidationError as exc:
            for error in exc.errors():
                place = ".".join(str(p) for p in error["loc"])
                problems.append(f"{name} line {n}: {place}: {error['msg']}")
    seen: set[tuple[str, str]] = set()
    for channel in channels:
        key = (channel.tenant_id, channel.supplier_id)
        if key in seen:
            problems.append(f"{name}: supplier {key[1]} of tenant {key[0]} has two channels; keep one")
        seen.add(key)
    return channels, problems


def channels_set(
    path: Annotated[Path, typer.Argument(help="JSON lines (one SupplierChannel per line) or a JSON array.")],
    as_json: JsonFlag = False,
) -> None:
    """Set suppliers' channels (email, webhook or file drop); each replaces the supplier's channel."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read it ({exc.strerror})")
    channels, problems = read_channels(text, name=str(path))
    if problems:
        fail("\n".join(problems))
    if not channels:
        fail(f"{path}: no channels in it; write one SupplierChannel per line (docs/channels.md)")

    async def store(conn: AsyncConnection) -> list[str]:
        keys = sorted({(c.tenant_id, c.supplier_id) for c in channels})
        known = {
            (r.tenant_id, r.supplier_id)
            for r in await conn.execute(
                select(md.suppliers.c.tenant_id, md.suppliers.c.supplier_id).where(
                    tuple_(md.suppliers.c.tenant_id, md.suppliers.c.supplier_id).in_(keys)
                )
            )
        }
        unknown = [
            f"{path}: tenant {t} has no supplier {s!r}; `bakeplan export --tenant {t}` lists its suppliers"
            for t, s in keys
            if (t, s) not in known
        ]
        if not unknown:
            await save_channels(conn, channels, at=datetime.now(UTC))
        return unknown

    unknown = with_db(store)
    if unknown:
        fail("\n".join(unknown))
    if as_json:
        print_json([c.model_dump(mode="json") for c in channels])
        return
    for channel in channels:
        console.print(f"{channel.tenant_id} / {channel.supplier_id}: {channel.describe()}", highlight=False)


def channels_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's suppliers.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The suppliers' channels."""

    async def read(conn: AsyncConnection) -> list[tuple[SupplierChannel, datetime]]:
        return await list_channels(conn, tenant)

    found = with_db(read)
    if as_json:
        print_json([{**c.model_dump(mode="json"), "updated_at": at} for c, at in found])
        return
    table = Table("tenant", "supplier", "channel", "set at")
    for channel, at in found:
        table.add_row(channel.tenant_id, channel.supplier_id, channel.describe(), f"{at:%Y-%m-%d %H:%M}")
    console.print(table)


def register(app: typer.Typer) -> None:
    channels = typer.Typer(help="Where each supplier takes its purchase orders.", no_args_is_help=True)
    channels.command("set")(channels_set)
    channels.command("list")(channels_list)
    app.add_typer(channels, name="channels")
