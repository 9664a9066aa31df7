"""The properties every fault test asserts afterwards, from the database and a read_committed read of
the topics, scoped to the test's tenants.

1. terminal — every saga reaches a terminal state within a stated bound after the last fault;
2. lost — every acknowledged trigger has a saga (or is a repeat of one); every outbox row of the
   test's tenants is published and its event id is on its topic;
3. duplicates — no (consumer, event_id) twice in any effect log; at most one effectful `run` per
   (saga, step); a saga's result rows are exactly the lines of the reply the orchestrator recorded;
   at most one COMPLETED saga per (tenant, business date);
4. compensation — at most one `compensate` per (saga, worker); exactly one for each step that had
   effects in a COMPENSATED saga, whose rows are then all cancelled, in reverse step order; none in
   a COMPLETED saga, whose rows are all active;
5. parked — produced = processed + parked: each record the test produced is either processed or in
   the dead-letter topic (by source topic/partition/offset), never both, never neither; valid
   records are never parked.

`verify` returns a `Verdict` rather than asserting, so the mutation test can assert that a property
FAILS. `Verdict.assert_clean()` is what the other tests call.
"""

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.topics import Topic
from orchestrator import tables as orchestrator_tables
from orchestrator.saga import STEP_TOPICS
from orchestrator.tables import saga_log, sagas, step_results
from tests.faults import kafka_state
from tests.faults.kafka_state import Record
from tests.faults.load import Produced, SentTrigger
from tests.faults.waits import OUTBOXES, LastFault, Scope, repeated_triggers, saga_rows, wait_quiet, wait_terminal
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.production import tables as production_tables

PROPERTIES = ("terminal", "lost", "duplicates", "compensation", "parked")
STEP_ORDER = list(STEP_TOPICS)  # forecasting, production, procurement
SHOWN_PER_PROPERTY = 15

# step → (effect log, result tables, the reply fields whose lines become those tables' rows)
WORKERS: dict[str, tuple[Table, tuple[tuple[Table, str], ...]]] = {
    "forecasting": (forecasting_tables.effect_log, ((forecasting_tables.forecasts, "forecast"),)),
    "production": (
        production_tables.effect_log,
        ((production_tables.batches, "batches"), (production_tables.requirements, "requirements")),
    ),
    "procurement": (procurement_tables.effect_log, ((procurement_tables.purchase_lines, "purchase_lines"),)),
}
EFFECT_LOGS: dict[str, Table] = {
    "orchestrator": orchestrator_tables.effect_log,
    **{step: log for step, (log, _) in WORKERS.items()},
}
INBOXES: dict[str, Table] = {
    "orchestrator": orchestrator_tables.inbox,
    "forecasting": forecasting_tables.inbox,
    "production": production_tables.inbox,
    "procurement": procurement_tables.inbox,
}


@dataclass
class Verdict:
    violations: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PROPERTIES})
    figures: dict[str, Any] = field(default_factory=dict)
    parked: dict[tuple[str, int, int], Record] = field(default_factory=dict)
    """Dead-letter records written during the test, by source (topic, partition, offset)."""

    def add(self, prop: str, message: str) -> None:
        self.violations[prop].append(message)

    def count(self, prop: str) -> int:
        return len(self.violations[prop])

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.violations.values())

    def assert_clean(self) -> None:
        if self.total:
            lines = [f"{self.total} violation(s); figures: {self.figures}"]
            for prop, found in self.violations.items():
                lines += [f"[{prop}] {m}" for m in found[:SHOWN_PER_PROPERTY]]
                if len(found) > SHOWN_PER_PROPERTY:
                    lines.append(f"[{prop}] ... and {len(found) - SHOWN_PER_PROPERTY} more")
            raise AssertionError("\n".join(lines))


# --- 2. lost ----------------------------------------------------------------------------------------


def event_ids_by_topic(records: Iterable[Record]) -> dict[str, Counter[str]]:
    """How often each event id is on each topic (records that are not a JSON object are skipped)."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        try:
            body = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            continue
        if isinstance(body, dict) and isinstance(body.get("event_id"), str):
            found[record.topic][body["event_id"]] += 1
    return found


async def check_lost(
    scope: Scope, triggers: Sequence[SentTrigger], on_topics: dict[str, Counter[str]], verdict: Verdict
) -> None:
    rows = await saga_rows(scope)
    started = {str(r.trigger_event_id) for r in rows}
    repeated = await repeated_triggers(scope, (r.saga_id for r in rows))
    for trigger in {t.event_id: t for t in triggers}.values():
        if str(trigger.event_id) not in started | repeated:
            r = trigger.record
            verdict.add(
                "lost",
                f"trigger {trigger.event_id} ({trigger.tenant_id} {trigger.business_date}), acknowledged at "
                f"{r.topic}[{r.partition}]@{r.offset}, has no saga and no duplicate_trigger line",
            )
    rows_checked = 0
    repeats: Counter[str] = Counter()
    async with scope.engine.connect() as conn:
        for name, outbox in OUTBOXES.items():
            result = await conn.execute(
                select(outbox.c.event_id, outbox.c.topic, outbox.c.event_type, outbox.c.published_at).where(
                    outbox.c.message_key.in_(scope.tenants)
                )
            )
            for row in result:
                rows_checked += 1
                times = on_topics.get(row.topic, Counter())[str(row.event_id)]
                if row.published_at is None:
                    verdict.add("lost", f"{name} outbox row {row.event_id} ({row.event_type}) never published")
                elif times == 0:
                    verdict.add(
                        "lost",
                        f"{name} outbox row {row.event_id} ({row.event_type}) is marked published but is not on "
                        f"{row.topic}",
                    )
                repeats[name] += max(0, times - 1)
    verdict.figures["outbox_rows"] = rows_checked
    # outbox rows on their topic more than once, per component: redelivery the consumers must absorb
    verdict.figures["republished_on_topics"] = {name: n for name, n in repeats.items() if n}


# --- 3. duplicates -------------------------------------------------------------------------------


async def check_duplicates(scope: Scope, verdict: Verdict) -> None:
    effects: Counter[str] = Counter()
    async with scope.engine.connect() as conn:
        for name, log in EFFECT_LOGS.items():
            mine = log.c.tenant_id.in_(scope.tenants)
            for row in await conn.execute(select(log.c.kind, func.count()).where(mine).group_by(log.c.kind)):
                effects[f"{name}.{row[0]}"] += int(row[1])
            twice = await conn.execute(
                select(log.c.consumer, log.c.event_id, func.count(), func.array_agg(log.c.kind))
                .where(mine)
                .group_by(log.c.consumer, log.c.event_id)
                .having(func.count() > 1)
            )
            for consumer, event_id, n, kinds in twice:
                verdict.add("duplicates", f"{name}.effect_log: {consumer} applied {event_id} {n} times ({kinds})")
        for step, (log, _) in WORKERS.items():
            reruns = await conn.execute(
                select(log.c.saga_id, func.count())
                .where(log.c.tenant_id.in_(scope.tenants), log.c.kind == "run", log.c.affected_rows > 0)
                .group_by(log.c.saga_id)
                .having(func.count() > 1)
            )
            for saga_id, n in reruns:
                verdict.add("duplicates", f"{step} wrote drafts for saga {saga_id} {n} times")
        await _check_rows_match_replies(scope, conn, verdict)
        plans = await conn.execute(
            select(sagas.c.tenant_id, sagas.c.business_date, func.count())
            .where(sagas.c.tenant_id.in_(scope.tenants), sagas.c.status == "COMPLETED")
            .group_by(sagas.c.tenant_id, sagas.c.business_date)
            .having(func.count() > 1)
        )
        for tenant, day, n in plans:
            verdict.add("duplicates", f"{n} COMPLETED plans for {tenant} on {day}")
    verdict.figures["effects"] = dict(sorted(effects.items()))


async def _check_rows_match_replies(scope: Scope, conn: AsyncConnection, verdict: Verdict) -> None:
    """A saga's stored result rows are exactly the lines of the reply the orchestrator recorded: a
    second run that wrote more (or different) rows shows up as a mismatch."""
    recorded = await conn.execute(
        select(step_results.c.saga_id, step_results.c.step, step_results.c.payload)
        .join(sagas, sagas.c.saga_id == step_results.c.saga_id)
        .where(sagas.c.tenant_id.in_(scope.tenants))
    )
    expected: dict[tuple[Table, UUID], int] = {}
    for saga_id, step, payload in recorded:
        body = orjson.loads(payload)
        for table, field_name in WORKERS[step][1]:
            expected[(table, saga_id)] = len(body[field_name])
    for step, (_, tables) in WORKERS.items():
        for table, _ in tables:
            counts: dict[UUID, int] = dict(
                (
                    await conn.execute(
                        select(table.c.saga_id, func.count())
                        .where(table.c.tenant_id.in_(scope.tenants))
                        .group_by(table.c.saga_id)
                    )
                ).all()
            )
            for (t, saga_id), n in expected.items():
                if t is table and counts.get(saga_id, 0) != n:
                    verdict.add(
                        "duplicates",
                        f"saga {saga_id}: {counts.get(saga_id, 0)} rows in {table.fullname}, its {step} reply has {n}",
                    )


# --- 4. compensation -------------------------------------------------------------------------------


async def check_compensation(scope: Scope, verdict: Verdict) -> None:
    status = {r.saga_id: r.status for r in await saga_rows(scope)}
    async with scope.engine.connect() as conn:
        await _check_reverse_order(conn, [s for s, st in status.items() if st == "COMPENSATED"], verdict)
        for step, (log, tables) in WORKERS.items():
            mine = log.c.tenant_id.in_(scope.tenants)
            ran = set(
                (await conn.execute(select(log.c.saga_id).where(mine, log.c.kind == "run", log.c.affected_rows > 0)))
                .scalars()
                .all()
            )
            compensated = Counter(
                (await conn.execute(select(log.c.saga_id).where(mine, log.c.kind == "compensate"))).scalars().all()
            )
            for saga_id, n in compensated.items():
                if n > 1:
                    verdict.add("compensation", f"{step} compensated saga {saga_id} {n} times")
                if status.get(saga_id) == "COMPLETED":
                    verdict.add("compensation", f"{step} compensated saga {saga_id}, which COMPLETED")
            for saga_id in ran:
                if status.get(saga_id) == "COMPENSATED" and compensated[saga_id] != 1:
                    verdict.add(
                        "compensation",
                        f"{step} had effects in COMPENSATED saga {saga_id} but compensated it "
                        f"{compensated[saga_id]} times",
                    )
            for table, _ in tables:
                rows = await conn.execute(
                    select(table.c.saga_id, table.c.status, func.count())
                    .where(table.c.tenant_id.in_(scope.tenants))
                    .group_by(table.c.saga_id, table.c.status)
                )
                for saga_id, row_status, n in rows:
                    saga_status = status.get(saga_id)
                    if saga_status == "COMPLETED" and row_status != "active":
                        verdict.add(
                            "compensation", f"COMPLETED saga {saga_id}: {n} {row_status} rows in {table.fullname}"
                        )
                    elif saga_status in ("COMPENSATED", "FAILED") and row_status == "active":
                        verdict.add(
                            "compensation", f"{saga_status} saga {saga_id}: {n} active rows in {table.fullname}"
                        )
                    elif saga_status == "COMPENSATED" and row_status == "draft":
                        verdict.add(
                            "compensation", f"COMPENSATED saga {saga_id}: {n} draft rows left in {table.fullname}"
                        )


async def _check_reverse_order(conn: AsyncConnection, saga_ids: Sequence[UUID], verdict: Verdict) -> None:
    """The orchestrator's compensation commands of a saga go out in reverse step order (a repeat
    of a command that went unanswered does not count again)."""
    if not saga_ids:
        return
    commands = await conn.execute(
        select(saga_log.c.saga_id, saga_log.c.step)
        .where(saga_log.c.saga_id.in_(saga_ids), saga_log.c.kind == "CompensateStep")
        .order_by(saga_log.c.id)
    )
    order: dict[UUID, list[str]] = defaultdict(list)
    for saga_id, step in commands:
        if step not in order[saga_id]:
            order[saga_id].append(step)
    for saga_id, steps in order.items():
        if steps != sorted(steps, key=STEP_ORDER.index, reverse=True):
            verdict.add("compensation", f"saga {saga_id} compensated {steps}, not in reverse step order")


# --- 5. parked ---------------------------------------------------------------------------------------


def parked_records(records: Iterable[Record]) -> dict[tuple[str, int, int], Record]:
    """Dead-letter records by the (topic, partition, offset) they were parked from."""
    parked = {}
    for r in records:
        if r.topic != str(Topic.DEAD_LETTER):
            continue
        h = r.headers
        source = (h["dlq.source.topic"].decode(), int(h["dlq.source.partition"]), int(h["dlq.source.offset"]))
        parked[source] = r
    return parked


def check_parked(
    valid: Sequence[Produced],
    processed: set[str],
    poison: Sequence[Produced],
    parked: dict[tuple[str, int, int], Record],
    tenants: Sequence[str],
    verdict: Verdict,
) -> None:
    """produced = processed + parked, counted by event id and by DLT source offsets. Anything parked
    that carries one of the test's tenants as its key but was not produced as poison is a valid
    message the system gave up on."""
    poison_at = {(p.topic, p.partition, p.offset) for p in poison}
    processed_n = parked_n = 0
    for p in valid:
        at = (p.topic, p.partition, p.offset)
        done = p.event_id is not None and str(p.event_id) in processed
        processed_n += done
        if at in parked:
            verdict.add(
                "parked", f"valid record {at} ({p.event_id}) was parked: {parked[at].headers.get('dlq.reason')!r}"
            )
        elif not done:
            verdict.add("parked", f"valid record {at} ({p.event_id}) was neither processed nor parked")
    for p in poison:
        at = (p.topic, p.partition, p.offset)
        done = p.event_id is not None and str(p.event_id) in processed
        if at in parked:
            parked_n += 1
            if not parked[at].headers.get("dlq.reason"):
                verdict.add("parked", f"poison record {at} parked without a reason")
        if done:
            verdict.add("parked", f"poison record {at} ({p.event_id}) was processed")
        elif at not in parked:
            verdict.add("parked", f"poison record {at} was neither processed nor parked")
    keys = {t.encode() for t in tenants}
    for at, record in parked.items():
        if at not in poison_at and record.key in keys:
            verdict.add("parked", f"record of {record.key!r} parked from {at}: {record.headers.get('dlq.reason')!r}")
    verdict.figures["produced"] = len(valid) + len(poison)
    verdict.figures["processed"] = processed_n
    verdict.figures["parked"] = parked_n


# --- everything -----------------------------------------------------------------------------------------


async def verify(
    scope: Scope,
    triggers: Sequence[SentTrigger],
    *,
    last_fault_at: LastFault,
    terminal_bound_s: float,
    poison: Sequence[Produced] = (),
    quiet_timeout_s: float = 60.0,
) -> Verdict:
    """Wait for the test's sagas to finish and the system to go quiet, then check all properties.
    `triggers` are the valid triggers the test produced (repeats included); `poison` the records
    it produced that must be parked."""
    verdict = Verdict()
    terminal = await wait_terminal(scope, triggers, bound_s=terminal_bound_s, since=last_fault_at)
    verdict.figures.update(
        sagas=terminal.sagas, statuses=terminal.statuses, time_to_terminal_s=terminal.after_last_fault_s
    )
    if terminal.after_last_fault_s is None:
        verdict.add(
            "terminal",
            f"{len(terminal.not_terminal)} saga(s) not terminal and {terminal.unaccounted_triggers} trigger(s) "
            f"without a saga {terminal_bound_s} s after the last fault; e.g. {terminal.not_terminal[:5]}",
        )
    verdict.figures["quiet_after_s"] = round(await wait_quiet(scope, timeout_s=quiet_timeout_s), 1)
    records = await kafka_state.read_since(scope.settings, scope.marks)
    on_topics = event_ids_by_topic(records)
    await check_lost(scope, triggers, on_topics, verdict)
    await check_duplicates(scope, verdict)
    await check_compensation(scope, verdict)
    processed = {str(r.trigger_event_id) for r in await saga_rows(scope)}
    processed |= await _consumed(scope, [p.event_id for p in poison if p.event_id is not None])
    verdict.parked = parked_records(records)
    check_parked([t.record for t in triggers], processed, poison, verdict.parked, scope.tenants, verdict)
    return verdict


async def _consumed(scope: Scope, event_ids: Sequence[UUID]) -> set[str]:
    """Which of `event_ids` any component claimed in its inbox (i.e. processed)."""
    if not event_ids:
        return set()
    found: set[str] = set()
    async with scope.engine.connect() as conn:
        for inbox in INBOXES.values():
            found |= {
                str(e)
                for e in (await conn.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_(event_ids)))).scalars()
            }
    return found


def write_report(test: str, summary: dict[str, Any]) -> None:
    """`$BAKEPLAN_FAULTS_REPORT_DIR/<test>.json` when that variable is set (docs/reliability.md is
    built from these)."""
    directory = os.environ.get("BAKEPLAN_FAULTS_REPORT_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{test}.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
