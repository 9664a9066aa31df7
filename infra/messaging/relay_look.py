"""The outbox relay's look, one statement (`pending_rows`), and the snapshot it reports (`Snapshot`),
which lets a relay tell a NOTIFY of a commit its last look already saw from one it did not
(infra/messaging/outbox.py)."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, Text, cast, func, or_, select, true


def pending_rows(outbox: Table, *, batch_size: int, batch_bytes: int) -> Select[Any]:
    """The relay's look as one statement. Its first columns, on every row: `leads`, whether this
    transaction won the outbox's advisory lock, and `snapshot`, the statement's snapshot (which
    commits it sees). When it leads, the first `batch_size` unpublished, unparked rows are locked
    (SKIP LOCKED) and those of the longest prefix within `batch_bytes` returned, at least the first
    (`batch_by_bytes`'s rule), each with `locked`, how many were locked. With none, one row whose
    `id` is NULL."""
    o = outbox
    look = select(
        func.pg_try_advisory_xact_lock(func.hashtext(o.fullname)).label("leads"),
        cast(func.pg_current_snapshot(), Text).label("snapshot"),
    ).cte("look")
    locked = (
        select(o.c.id, func.octet_length(o.c.payload).label("size"))
        .where(select(look.c.leads).scalar_subquery(), o.c.published_at.is_(None), o.c.parked_at.is_(None))
        .order_by(o.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    sized = select(
        locked.c.id,
        func.sum(locked.c.size).over(order_by=locked.c.id).label("upto"),
        func.row_number().over(order_by=locked.c.id).label("n"),
        func.count().over().label("locked"),
    ).cte("sized")
    batch = (
        select(
            o.c.id,
            o.c.event_id,
            o.c.topic,
            o.c.message_key,
            o.c.event_type,
            o.c.payload,
            o.c.claim_sha256,
            o.c.traceparent,
            sized.c.locked,
        )
        .join(sized, sized.c.id == o.c.id)
        .where(or_(sized.c.n == 1, sized.c.upto <= batch_bytes))
        .subquery("batch")
    )
    return (
        select(look.c.leads, look.c.snapshot, *batch.c).select_from(look.outerjoin(batch, true())).order_by(batch.c.id)
    )


@dataclass(frozen=True)
class Snapshot:
    """Which transactions a statement saw committed (Postgres's `pg_current_snapshot()`)."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> "Snapshot":
        """From the text form `xmin:xmax:xip,xip,...`."""
        xmin, xmax, running = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def sees(self, xid: int) -> bool:
        """Whether a transaction that has committed by now had committed when this snapshot was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.running)
