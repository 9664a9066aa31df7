"""Every action taken through the console, who took it and how it went: the `console.actions` table.

An action is recorded in the same transaction as its database effect where it has one (schedule
pause/resume), so the effect never happens unrecorded; one whose effect is a Kafka publish (trigger,
dead-letter replay) is recorded after the publish, with outcome `failed` and the reason if it failed.
"""

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.console.tables import actions
from bakeplan.console.users import User


async def record(
    conn: AsyncConnection,
    user: User | str,
    action: str,
    *,
    outcome: str,
    tenant_id: str | None = None,
    target: str = "",
    detail: str = "",
    role: str | None = None,
) -> None:
    name, user_role = (user, role or "") if isinstance(user, str) else (user.username, user.role.value)
    await conn.execute(
        insert(actions).values(
            username=name[:64],
            role=user_role,
            action=action,
            tenant_id=tenant_id,
            target=target,
            outcome=outcome,
            detail=detail,
        )
    )


async def recent(conn: AsyncConnection, *, tenants: list[str] | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest actions first; `tenants` limits them to those tenants (None: all, tenant-less ones too)."""
    query = select(actions).order_by(actions.c.id.desc()).limit(limit)
    if tenants is not None:
        query = query.where(actions.c.tenant_id.in_(tenants))
    return [dict(r) for r in (await conn.execute(query)).mappings()]
