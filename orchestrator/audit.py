"""The audit archive: every event a saga consumed or emitted, append-only and hash-chained per tenant.

The orchestrator sees every event of a saga: the trigger and every step reply come in, the snapshot,
step commands, compensations and the outcome go out. `record` appends them to
`orchestrator.audit_events` in the handler's own transaction, so the archive holds exactly
what committed, once (an event id already archived is skipped and does not advance the chain).

Each tenant's events form a chain: event `seq` n stores `prev_hash` (the hash of event n-1, or
`GENESIS_HASH` for the first) and `hash = link_hash(...)` over its own fields. The chain head
(`audit_chain_heads`) is locked by every append, so one tenant's appends serialise and the chain
cannot fork; its row also records the last link, so cutting rows off the end shows too. Postgres
rejects UPDATE, DELETE and TRUNCATE on the archive (a trigger from migration 0005), and the app roles
do not own it, so they cannot disable that trigger (`bakeplan db roles apply`, docs/security.md).

The links are keyed: `hash` is an HMAC-SHA256 under the audit key (`BAKEPLAN_AUDIT_KEY`), a secret
held outside Postgres, and each row stores the `key_id` it was made with (rotation: new rows take the
current key, older rows verify with the retired keys, `BAKEPLAN_AUDIT_RETIRED_KEYS`). Whoever gets
round the trigger (the table owner, a superuser) and rewrites rows cannot recompute links that
verify without the key: `verify_chain` names the first broken link. Rows written before migration
0014 have no `key_id` and a plain sha256 link; they verify only with `allow_unkeyed`, and an unkeyed
link after a keyed one is always broken.
"""

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Message
from infra.messaging.outbox import Outgoing
from orchestrator import audit_snapshots
from orchestrator.audit_links import DEV_AUDIT_KEYS as DEV_AUDIT_KEYS
from orchestrator.audit_links import GENESIS_HASH as GENESIS_HASH
from orchestrator.audit_links import AuditEntry as AuditEntry
from orchestrator.audit_links import AuditKeys as AuditKeys
from orchestrator.audit_links import UnknownAuditKeyError as UnknownAuditKeyError
from orchestrator.audit_links import audit_keys as audit_keys
from orchestrator.audit_links import entry_hash as entry_hash
from orchestrator.audit_links import link_hash as link_hash
from orchestrator.audit_verifier import ArchivedHead, ChainVerifier
from orchestrator.audit_verifier import BrokenLink as BrokenLink
from orchestrator.audit_verifier import verify_chain as verify_chain
from orchestrator.ports import Inbound
from orchestrator.tables import audit_chain_heads, audit_events, low_stock_signals

Direction = Literal["in", "out"]


# --- recording, in the orchestrator's handler transactions ------------------------------------------


@dataclass(frozen=True)
class _Draft:
    message: Message
    saga_id: UUID | None
    direction: Direction
    topic: str
    payload: bytes
    stored: tuple[bytes, str | None] = (b"", None)
    """What the row stores (`audit_snapshots.reduced`): the payload, or it without its snapshot and the
    snapshot's SHA-256; empty: the payload whole."""


async def record(
    conn: AsyncConnection,
    *,
    inbound: Inbound | None = None,
    outgoing: Sequence[Outgoing] = (),
    at: datetime,
    keys: AuditKeys,
) -> None:
    """Archive what one handler consumed (after its inbox claim) and the messages it queued in its
    outbox, in that order, in the handler's transaction: two statements per tenant, however many.
    Links are keyed with `keys`' current key."""
    drafts = []
    if inbound is not None:
        message = inbound.message
        drafts.append(_Draft(message, inbound.saga_id, "in", str(inbound.topic), inbound.payload))
    for item in outgoing:
        assert item.message.saga_id is not None, "every message the orchestrator emits belongs to a saga"
        stored = await audit_snapshots.reduced(conn, item)
        drafts.append(_Draft(item.message, item.message.saga_id, "out", str(item.topic), item.payload, stored))
    if drafts:
        await _append(conn, drafts, at, keys)


async def lock_chain(conn: AsyncConnection, tenant_id: str) -> tuple[int, str]:
    """Lock the tenant's chain head until the transaction ends (creating it on the first append);
    returns its (seq, hash).

    A REPEATABLE READ transaction that appends must call this as its FIRST statement: its snapshot is
    taken then, with the lock held, so no append by another transaction can commit in between. Taken
    last, after a long snapshot read, any low-stock signal of the tenant archived meanwhile makes the
    update fail to serialise, and a steady stream of signals could make a trigger fail every retry."""
    row = (await conn.execute(_HEAD_UPSERT, {"b_tenant_id": tenant_id})).one()
    return int(row.seq), str(row.hash)


# Built once, their values bound at each call (building a statement cost more than running it)
_HEAD_UPSERT = (
    pg_insert(audit_chain_heads)
    .values(tenant_id=bindparam("b_tenant_id"), seq=0, hash=GENESIS_HASH)
    .on_conflict_do_update(index_elements=[audit_chain_heads.c.tenant_id], set_={"seq": audit_chain_heads.c.seq})
    .returning(audit_chain_heads.c.seq, audit_chain_heads.c.hash)
)
_HEAD = _HEAD_UPSERT.cte("head")
_LOCK_HEAD = select(
    _HEAD.c.seq,
    _HEAD.c.hash,
    select(func.array_agg(audit_events.c.event_id))
    .where(audit_events.c.event_id.in_(bindparam("b_event_ids", expanding=True)))
    .scalar_subquery()
    .label("archived"),
)
_LINK_COLUMNS = [column.name for column in audit_events.columns]
_LINKS = (
    func.unnest(*(bindparam(f"a_{column.name}", type_=ARRAY(column.type)) for column in audit_events.columns))
    .table_valued(*_LINK_COLUMNS)
    .render_derived("link_rows")
)
_APPEND = (
    update(audit_chain_heads)
    .where(audit_chain_heads.c.tenant_id == bindparam("b_tenant_id"))
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
    # the links and the new head in one statement (a data-modifying CTE always runs); the links as
    # arrays unnested, one statement text for any number of them (each row carries its own seq)
    .add_cte(
        pg_insert(audit_events)
        .from_select(_LINK_COLUMNS, select(*(_LINKS.c[name] for name in _LINK_COLUMNS)))
        .cte("links")
    )
)


async def _lock_head(conn: AsyncConnection, tenant_id: str, event_ids: Sequence[UUID]) -> tuple[int, str, set[UUID]]:
    """`lock_chain`, and which of `event_ids` the archive already holds, in one statement."""
    row = (await conn.execute(_LOCK_HEAD, {"b_tenant_id": tenant_id, "b_event_ids": list(event_ids)})).one()
    return int(row.seq), str(row.hash), {UUID(bytes=e.bytes) for e in row.archived or ()}


async def _append(conn: AsyncConnection, drafts: Sequence[_Draft], at: datetime, keys: AuditKeys) -> None:
    tenants = sorted({d.message.tenant_id for d in drafts})  # one lock order, whatever the caller's
    for tenant_id in tenants:
        mine = [d for d in drafts if d.message.tenant_id == tenant_id]
        # Locks the tenant's head row (creating it on the first append): concurrent appends for the
        # tenant wait here. A REPEATABLE READ caller takes it first (`lock_chain`), see there.
        # The same statement reads which of the ids are archived already (each keeps its first link
        # and is skipped). It reads as of the statement's start: an id archived by a transaction that
        # held the lock meanwhile is not seen, and inserting it again fails on the archive's primary
        # key, so the delivery is retried and then skips it. Only one message handled twice at once
        # could do that, which the inbox claim before every append rules out.
        seq, prev_hash, archived = await _lock_head(conn, tenant_id, [d.message.event_id for d in mine])
        entries: list[AuditEntry] = []
        stored: list[dict[str, object]] = []
        for draft in mine:
            if draft.message.event_id in archived:
                continue
            archived.add(draft.message.event_id)  # the same id twice in one call is one event
            entry = AuditEntry(
                event_id=draft.message.event_id,
                tenant_id=tenant_id,
                saga_id=draft.saga_id,
                seq=seq + 1,
                event_type=draft.message.event_type,
                schema_version=draft.message.schema_version,
                direction=draft.direction,
                topic=draft.topic,
                payload=draft.payload,
                payload_sha256=hashlib.sha256(draft.payload).hexdigest(),
                prev_hash=prev_hash,
                hash="",
                recorded_at=at,
                key_id=keys.key_id,
            )
            entry = replace(entry, hash=entry_hash(entry, keys))
            entries.append(entry)
            payload, snapshot_sha256 = draft.stored if draft.stored[0] else (draft.payload, None)
            # a shallow copy of the fields: dataclasses.asdict deep-copies each one, payload included
            stored.append({**vars(entry), "payload": payload, "snapshot_sha256": snapshot_sha256})
            seq, prev_hash = entry.seq, entry.hash
        if entries:
            arrays = {f"a_{name}": [row[name] for row in stored] for name in _LINK_COLUMNS}
            await conn.execute(_APPEND, {"b_tenant_id": tenant_id, "b_seq": seq, "b_hash": prev_hash, **arrays})


# --- reading ---------------------------------------------------------------------------------------


def _entry(row: object) -> AuditEntry:
    """An archived row as sent: a snapshot stored once is put back (`audit_snapshots.expand`)."""
    fields = {name: getattr(row, name) for name in AuditEntry.__dataclass_fields__}
    fields["payload"] = audit_snapshots.expand(fields["payload"], getattr(row, "snapshot_body", None))
    return AuditEntry(**fields)


async def saga_entries(conn: AsyncConnection, saga_id: UUID) -> list[AuditEntry]:
    """The archived events of one saga, in the order they were recorded."""
    signals = select(low_stock_signals.c.event_id).where(low_stock_signals.c.saga_id == saga_id)
    rows = await conn.execute(
        audit_snapshots.with_snapshots(select(audit_events))
        .where(or_(audit_events.c.saga_id == saga_id, audit_events.c.event_id.in_(signals)))
        .order_by(audit_events.c.seq)
    )
    return [_entry(row) for row in rows]


@dataclass(frozen=True)
class VerifyOutcome:
    tenants: int
    events: int
    broken: list[BrokenLink]
    unkeyed: int = 0
    """Links accepted (with `allow_unkeyed`) that are only sha256-chained, not keyed."""


async def verify(
    conn: AsyncConnection,
    keys: AuditKeys,
    *,
    tenant_id: str | None = None,
    allow_unkeyed: bool = False,
    archived: Mapping[str, ArchivedHead] | None = None,
) -> VerifyOutcome:
    """Recompute every tenant's chain (or one tenant's) with `keys`, streaming rows in (tenant, seq)
    order. Reports the first broken link of each tenant whose chain does not hold. With `archived`
    (`read_archived_heads`), a tenant's chain goes on from its archived head: its first live row must
    link to it."""
    archived = archived or {}
    head_query = select(audit_chain_heads)
    if tenant_id is not None:
        head_query = head_query.where(audit_chain_heads.c.tenant_id == tenant_id)
    heads = {row.tenant_id: (row.seq, row.hash) for row in await conn.execute(head_query)}
    broken: list[BrokenLink] = []
    events = 0
    seen: set[str] = set()
    verifier: ChainVerifier | None = None
    failed = False
    unkeyed = 0

    def finish(v: ChainVerifier | None, failed: bool) -> None:
        nonlocal unkeyed
        if v is not None:
            unkeyed += v.unkeyed
        if v is not None and not failed:
            head = heads.get(v.tenant_id)
            problem = v.check_head(*head) if head else v.check_head(None, None)
            if problem is not None:
                broken.append(problem)

    async for entry in _stream(conn, tenant_id):
        events += 1
        if verifier is None or entry.tenant_id != verifier.tenant_id:
            finish(verifier, failed)
            start = archived.get(entry.tenant_id)
            verifier = ChainVerifier(entry.tenant_id, keys, allow_unkeyed=allow_unkeyed, start=start)
            failed = False
            seen.add(entry.tenant_id)
        if not failed and (problem := verifier.check(entry)) is not None:
            broken.append(problem)
            failed = True
    finish(verifier, failed)
    for head_tenant, (head_seq, _) in heads.items():
        if head_tenant not in seen and head_tenant in archived:  # every row archived: the head is its last link
            finish(ChainVerifier(head_tenant, keys, start=archived[head_tenant]), False)
        elif head_tenant not in seen and head_seq > 0:
            broken.append(
                BrokenLink(head_tenant, 1, None, f"the chain head records seq {head_seq} but the archive has no rows")
            )
    return VerifyOutcome(tenants=len(seen | set(heads)), events=events, broken=broken, unkeyed=unkeyed)


async def _stream(conn: AsyncConnection, tenant_id: str | None) -> AsyncIterator[AuditEntry]:
    query = audit_snapshots.with_snapshots(select(audit_events)).order_by(audit_events.c.tenant_id, audit_events.c.seq)
    if tenant_id is not None:
        query = query.where(audit_events.c.tenant_id == tenant_id)
    result = await conn.stream(query.execution_options(yield_per=500))
    async for row in result:
        yield _entry(row)
