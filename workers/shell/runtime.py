"""Runs one worker's planning step exactly once per message.

A worker is described by a `StepSpec`: its command, its compensation command, the tables its draft
results go to and a `plan` function (the thin handler around its pure planner). The shell does the
rest the same way for every worker: claim the event id in the inbox, store the results as drafts,
log the effect and queue the reply in one transaction; cancel drafts on compensation; activate them
on `PlanReady`. A `PlanningError` becomes a `StepFailed` reply in that same transaction, and the
orchestrator compensates the saga.

Planning runs before that transaction, off the event loop (`workers.shell.planning_pool`): the
command's inputs are all in the message, so the pure planner needs nothing from the database, and
the transaction afterwards is short. The split keeps every guarantee: the claim, the compensation
check and the writes still commit together, so a duplicate delivery that plans twice (both before
their claims) writes once, and a command planned while its saga was being compensated writes nothing.
A planner process that dies or hangs fails the delivery (counted, retried, then parked); it commits
nothing.

A saga's compensation is recorded: a second compensation (a re-send) changes nothing, and a step
command that arrives after it (late, or replayed from the dead-letter topic) makes no drafts.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import PermanentError, PlanningError
from contracts.messages import PlanCompensated, PlanReady, StepCompensated, StepFailed, StepName
from contracts.topics import Topic
from infra import tracing
from infra.messaging import batch_tx
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.outbox import DEFAULT_LIMITS, Outgoing, PayloadLimits, PayloadTooLargeError, check_size
from workers.shell.binding import check_compensation_id, check_saga_tenant
from workers.shell.planning_pool import PlannedRows, PlannerPool
from workers.shell.results import ResultStatus, set_status, write_drafts

ResultRows = Mapping[Table, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class StepResult:
    rows: ResultRows
    """Draft rows per result table (without saga_id, tenant_id and status: the shell adds those)."""
    reply: Message


@dataclass(frozen=True)
class StepSpec:
    name: StepName
    command: type[Message]
    compensation: type[Message]
    result_tables: tuple[Table, ...]
    inbox: Table
    outbox: Table
    effect_log: Table
    compensations: Table
    commands_topic: Topic
    plan: Callable[[Any, dict[str, Any]], StepResult]
    """`plan(command, reply_envelope)`: pure planning and the reply; raises `PlanningError`. A
    module-level function: it runs in a planner process (`workers.shell.planning_pool`)."""


def reply_envelope(command: Message, kind: str, now: datetime) -> dict[str, Any]:
    """Envelope fields of the reply to `command`; the id is derived, so a re-run replies the same id."""
    return {
        "event_id": reply_id(command.event_id, kind),
        "tenant_id": command.tenant_id,
        "saga_id": command.saga_id,
        "causation_id": command.event_id,
        "correlation_id": command.correlation_id,
        "occurred_at": now,
    }


def reply_id(command_id: UUID, kind: str) -> UUID:
    return uuid5(command_id, kind)


@dataclass(frozen=True)
class Effect:
    """What handling one message did, as the effect log records it."""

    kind: str
    affected_rows: int = 0


async def record_effect(
    conn: AsyncConnection,
    effect_log: Table,
    *,
    consumer: str,
    step: str,
    message: Message,
    effect: Effect,
    at: datetime,
) -> None:
    """One effect-log row for what handling `message` did (the fault suite counts them per step);
    inside a consumer batch, written with the batch's other effect rows just before it commits."""
    row = {
        "consumer": consumer,
        "kind": effect.kind,
        "event_id": message.event_id,
        "saga_id": message.saga_id,
        "tenant_id": message.tenant_id,
        "step": step,
        "affected_rows": effect.affected_rows,
        "at": at,
    }
    await batch_tx.insert_rows(conn, effect_log, [row])


class StepWorker:
    def __init__(
        self,
        spec: StepSpec,
        *,
        engine: AsyncEngine,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None],
        dedupe: bool = True,
        limits: PayloadLimits = DEFAULT_LIMITS,
        planner: PlannerPool | None = None,
    ) -> None:
        """`dedupe=False` is the fault suite's mutation switch: redeliveries are handled again.
        `limits`: a reply past `limits.max_bytes` becomes a `StepFailed` naming the size (no drafts
        are written); one past `limits.claim_check_bytes` goes by claim check. `planner`: where the
        planner runs (default: inline, on the event loop)."""
        self.spec = spec
        self._planner = planner if planner is not None else PlannerPool(0, timeout_seconds=0)
        self._tables = {table.fullname: table for table in spec.result_tables}
        self._limits = limits
        self._engine = engine
        self._clock = clock
        self._on_commit = on_commit
        self._dedupe = dedupe

    async def handle(self, message: Message) -> None:
        now = self._clock()
        spec = self.spec
        planned = await self._plan(message, now) if isinstance(message, spec.command) else None
        async with tracing.transaction(self._engine, spec.name) as conn:
            claimed = await inbox_store.claim(
                conn,
                spec.inbox,
                consumer=spec.name,
                event_id=message.event_id,
                tenant_id=message.tenant_id,
                digest=content_digest(message),
            )
            if not claimed and self._dedupe:
                return
            outgoing, effect = await self._dispatch_within_limits(conn, message, now, planned)
            if effect is not None:
                await record_effect(
                    conn, spec.effect_log, consumer=spec.name, step=spec.name, message=message, effect=effect, at=now
                )
            await outbox_store.add(conn, spec.outbox, outgoing, limits=self._limits)
        if outgoing:
            batch_tx.when_committed(self._on_commit)

    async def _plan(self, command: Message, now: datetime) -> PlannedRows | PlanningError:
        """The step's plan for `command`, outside any transaction; a `PlanningError` is an outcome (the
        step fails), anything else raises (the delivery fails)."""
        try:
            with tracing.span(f"plan {self.spec.name}"):
                return await self._planner.run(
                    self.spec.plan, command, reply_envelope(command, "done", now), step=self.spec.name
                )
        except PlanningError as exc:
            return exc

    async def _dispatch_within_limits(
        self, conn: AsyncConnection, message: Message, now: datetime, planned: PlannedRows | PlanningError | None
    ) -> tuple[list[Outgoing], Effect | None]:
        """`_dispatch`, and when a step's reply is too large to send, the step fails with the reason,
        so the saga compensates at once instead of waiting for the step's deadline. Its drafts are not
        written: `_run` checks the planned reply before writing them, so no savepoint is needed."""
        try:
            outgoing, effect = await self._dispatch(conn, message, now, planned)
            for item in outgoing:
                check_size(item, self._limits)
        except PayloadTooLargeError as exc:
            if not isinstance(message, self.spec.command):
                raise
            failed = StepFailed(step=self.spec.name, reason=str(exc), **reply_envelope(message, "failed", now))
            return [Outgoing(Topic.STEP_REPLIES, failed)], Effect("run")
        return outgoing, effect

    async def _dispatch(
        self, conn: AsyncConnection, message: Message, now: datetime, planned: PlannedRows | PlanningError | None
    ) -> tuple[list[Outgoing], Effect | None]:
        spec = self.spec
        if isinstance(message, spec.command):
            assert planned is not None, "a step command is planned before its transaction"
            reply, effect = await self._run(conn, message, now, planned)
            return [reply], effect
        if isinstance(message, spec.compensation):
            check_compensation_id(message, step=spec.name, attempt=getattr(message, "attempt", 1))
            await check_saga_tenant(conn, spec.effect_log, message)
            effect = await self._compensate(conn, message)
            done = StepCompensated(
                step=spec.name, affected_rows=effect.affected_rows, **reply_envelope(message, "compensated", now)
            )
            return [Outgoing(Topic.STEP_REPLIES, done)], effect
        if isinstance(message, PlanReady):
            await check_saga_tenant(conn, spec.effect_log, message)
            return [], Effect("activate", await self._move(conn, message, to="active"))
        if isinstance(message, PlanCompensated):
            return [], None  # the compensation commands already cancelled the drafts
        raise PermanentError(f"{spec.name} does not handle {message.event_type} (tenant {message.tenant_id})")

    async def _run(
        self, conn: AsyncConnection, command: Message, now: datetime, planned: PlannedRows | PlanningError
    ) -> tuple[Outgoing, Effect]:
        """The step's reply and effect. Raises `PayloadTooLargeError` before writing anything when the
        planned reply is too large to send."""
        spec = self.spec
        compensated = (
            await conn.execute(
                _compensated_at(spec.compensations), {"b_saga_id": command.saga_id, "b_tenant_id": command.tenant_id}
            )
        ).first()
        if compensated is not None:
            reason = f"saga {command.saga_id} was compensated at {compensated.at:%Y-%m-%d %H:%M:%S}; nothing planned"
            failed = StepFailed(step=spec.name, reason=reason, **reply_envelope(command, "failed", now))
            return Outgoing(Topic.STEP_REPLIES, failed), Effect("run_after_compensation")
        if isinstance(planned, PlanningError):
            failed = StepFailed(step=spec.name, reason=str(planned), **reply_envelope(command, "failed", now))
            return Outgoing(Topic.STEP_REPLIES, failed), Effect("run")
        reply = Outgoing.encoded(Topic.STEP_REPLIES, planned.reply, planned.reply_payload)
        check_size(reply, self._limits)  # before the drafts: a reply too large leaves none
        common = {"saga_id": command.saga_id, "tenant_id": command.tenant_id, "status": "draft"}
        written = 0
        for name, rows in planned.rows.items():
            written += await write_drafts(conn, self._tables[name], [{**common, **row} for row in rows])
        return reply, Effect("run", written)

    async def _compensate(self, conn: AsyncConnection, message: Message) -> Effect:
        if message.saga_id is None:
            raise PermanentError(f"{message.event_type} for tenant {message.tenant_id} has no saga_id")
        table = self.spec.compensations
        first = (
            await conn.execute(
                pg_insert(table)
                .values(saga_id=message.saga_id, tenant_id=message.tenant_id, event_id=message.event_id)
                .on_conflict_do_nothing()
                .returning(table.c.saga_id)
            )
        ).first()
        if first is None:
            return Effect("compensate_again")
        return Effect("compensate", await self._move(conn, message, to="cancelled"))

    async def _move(self, conn: AsyncConnection, message: Message, *, to: ResultStatus) -> int:
        if message.saga_id is None:
            raise PermanentError(f"{message.event_type} for tenant {message.tenant_id} has no saga_id")
        n = 0
        for table in self.spec.result_tables:
            n += await set_status(
                conn,
                table,
                saga_id=message.saga_id,
                tenant_id=message.tenant_id,
                to=to,
                only_from="draft",
            )
        return n


# built once per table, their values bound at each call (building a statement cost more than running it)
@cache
def _compensated_at(compensations: Table) -> Select[datetime]:
    c = compensations.c
    return select(c.at).where(c.saga_id == bindparam("b_saga_id"), c.tenant_id == bindparam("b_tenant_id"))
