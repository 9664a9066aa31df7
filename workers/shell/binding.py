"""A worker's check that a message fits the saga it names (docs/security.md, "Tenant binding").

A worker does not own the saga: the orchestrator does, and it refuses every reply whose tenant or
causation does not fit the saga. A worker keys its own rows by (saga, tenant), so a message naming
another tenant's saga can neither change nor block that tenant's rows, whatever the order of arrival.
On top, it refuses loudly what it can tell is forged:

- a compensation whose event id is not the one the orchestrator derives for its saga, step and attempt
  (`contracts.ids.compensation_command_id`);
- a compensation or plan outcome naming a saga that this worker ran for another tenant only.

A step command is not refused on that ground: a forged command sent first would otherwise make the
real one look foreign. Its reply names its tenant, and the orchestrator refuses it.
"""

from functools import cache

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import ids
from contracts.envelope import Message
from contracts.errors import TenantBindingError
from infra.messaging import batch_tx

RUN_KINDS = ("run", "run_after_compensation")


def check_compensation_id(message: Message, *, step: str, attempt: int) -> None:
    """Raise unless `message` carries the id the orchestrator gives the `attempt`-th undo of `step`."""
    assert message.saga_id is not None
    expected = ids.compensation_command_id(message.saga_id, step, attempt)
    if message.event_id != expected:
        raise TenantBindingError(
            f"{message.event_type} {message.event_id} of tenant {message.tenant_id!r} for saga {message.saga_id}: "
            f"not a command the orchestrator sent (the undo of {step!r}, attempt {attempt}, has id {expected})",
            kind="not_caused_by_saga",
        )


async def check_saga_tenant(conn: AsyncConnection, effect_log: Table, message: Message) -> None:
    """Raise when this worker ran `message.saga_id` for other tenants and never for `message.tenant_id`."""
    await batch_tx.written(conn)  # the effect rows of earlier records of this batch, too
    rows = await conn.execute(_saga_tenants(effect_log), {"b_saga_id": message.saga_id})
    tenants = set(rows.scalars())
    if tenants and message.tenant_id not in tenants:
        raise TenantBindingError(
            f"{message.event_type} {message.event_id} names saga {message.saga_id} for tenant "
            f"{message.tenant_id!r}, but that saga is another tenant's; refused",
            kind="saga_tenant_mismatch",
        )


@cache
def _saga_tenants(effect_log: Table) -> Select[str]:
    """Up to five tenants this worker ran a saga for, built once per effect log."""
    c = effect_log.c
    return select(c.tenant_id).where(c.saga_id == bindparam("b_saga_id"), c.kind.in_(RUN_KINDS)).distinct().limit(5)
