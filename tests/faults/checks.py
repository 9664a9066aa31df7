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

`verify` returns a `Verdict` (verdict.py) rather than asserting, so the mutation test can assert that a
property FAILS. `Verdict.assert_clean()` is what the other tests call. Properties 3 and 4, about the
components' effects, are checked in effect_checks.py; the others, about messages, here.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

import orjson
from sqlalchemy import Table, select

from contracts.topics import Topic
from orchestrator import tables as orchestrator_tables
from tests.faults import kafka_state
from tests.faults.effect_checks import check_compensation, check_duplicates
from tests.faults.kafka_state import Record
from tests.faults.load import Produced, SentTrigger
from tests.faults.verdict import Verdict
from tests.faults.waits import OUTBOXES, LastFault, Scope, repeated_triggers, saga_rows, wait_quiet, wait_terminal
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.production import tables as production_tables

INBOXES: dict[str, Table] = {
    "orchestrator": orchestrator_tables.inbox,
    "forecasting": forecasting_tables.inbox,
    "production": production_tables.inbox,
    "procurement": procurement_tables.inbox,
}


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
