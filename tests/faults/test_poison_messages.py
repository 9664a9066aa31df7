"""Poison mixed into valid load, on the triggers topic and on a worker's command topic: invalid
JSON, wrong types, an unknown schema_version, an oversize record and a payload tenant differing
from the record key. Each is parked at once with its reason and origin; no consumer crashes; every
record produced is either processed or parked — never both, never neither."""

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import orjson
import pytest

from contracts.topics import Topic
from tests.e2e.support import TODAY
from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.load import KafkaWriter, Produced, SentTrigger, daily_requests

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 2
MAX_MESSAGE_BYTES = 200_000
TERMINAL_BOUND_S = 60.0

# what the parking reason says, per kind of poison
EXPECTED_REASON = {
    "invalid_json": b"not valid JSON",
    "wrong_types": b"failed validation",
    "unknown_schema_version": b"unsupported schema_version",
    "oversize": b"exceeds the limit",
    "tenant_differs_from_key": b"differs from the payload's tenant_id",
}
CONSUMER = {Topic.TRIGGERS: b"orchestrator", Topic.PRODUCTION_COMMANDS: b"production"}


def _envelope(event_type: str, tenant: str, event_id: uuid.UUID, **fields: object) -> dict[str, object]:
    return {
        "event_id": str(event_id),
        "event_type": event_type,
        "tenant_id": tenant,
        "occurred_at": "2026-11-28T04:30:00+00:00",
        **fields,
    }


def _trigger(tenant: str, event_id: uuid.UUID, **fields: object) -> dict[str, object]:
    # a date no valid trigger of the test uses: processed by mistake, it would start its own saga
    return _envelope(
        "planning.requested", tenant, event_id, **{"business_date": str(TODAY + timedelta(days=90)), **fields}
    )


def _cancel(tenant: str, event_id: uuid.UUID, **fields: object) -> dict[str, object]:
    return _envelope("production.cancel_batches", tenant, event_id, saga_id=str(uuid.uuid4()), **fields)


# kind → topic → body(tenant, event_id)
POISON: dict[str, dict[Topic, Callable[[str, uuid.UUID], dict[str, object] | bytes]]] = {
    "invalid_json": {
        Topic.TRIGGERS: lambda t, e: f'{{"event_id": "{e}", "tenant_id": "{t}", '.encode(),
        Topic.PRODUCTION_COMMANDS: lambda t, e: (
            f'{{"event_type": "production.cancel_batches", "tenant_id": "{t}'.encode()
        ),
    },
    "wrong_types": {
        Topic.TRIGGERS: lambda t, e: _trigger(t, e, business_date=20261128, horizon_days="fourteen"),
        Topic.PRODUCTION_COMMANDS: lambda t, e: _cancel(t, e, attempt="two"),
    },
    "unknown_schema_version": {
        Topic.TRIGGERS: lambda t, e: _trigger(t, e, schema_version=99),
        Topic.PRODUCTION_COMMANDS: lambda t, e: _cancel(t, e, schema_version=7),
    },
    "oversize": {
        Topic.TRIGGERS: lambda t, e: _trigger(t, e, requested_by="x" * (MAX_MESSAGE_BYTES + 50_000)),
        Topic.PRODUCTION_COMMANDS: lambda t, e: _cancel(t, e, padding="x" * (MAX_MESSAGE_BYTES + 50_000)),
    },
    "tenant_differs_from_key": {  # well-formed and valid: only the key gives it away
        Topic.TRIGGERS: lambda t, e: _trigger(t, e),
        Topic.PRODUCTION_COMMANDS: lambda t, e: _cancel(t, e),
    },
}


async def test_poison_is_parked_and_valid_load_completes(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2, MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES))
    await run.start(fleet)
    scope = await run.scope()
    pids = {name: fleet.pid(name) for name in fleet.names()}
    # the valid triggers and the poison, interleaved in a seeded order
    plan: list[tuple[str, date] | tuple[str, Topic]] = [
        *daily_requests(run.tenants, days=DAYS, rng=run.rng),
        *((kind, topic) for kind in POISON for topic in POISON[kind]),
    ]
    run.rng.shuffle(plan)

    triggers: list[SentTrigger] = []
    poison: dict[Produced, tuple[str, bytes]] = {}
    async with KafkaWriter(run.settings) as writer:
        for item in plan:
            if isinstance(item[1], date):
                triggers.append(await writer.trigger(item[0], item[1]))
                continue
            kind, topic = item[0], item[1]
            tenant, other = run.rng.sample(run.tenants, 2)
            event_id = uuid.UUID(int=run.rng.getrandbits(128), version=4)
            body = POISON[kind][topic](tenant, event_id)
            value = body if isinstance(body, bytes) else orjson.dumps(body)
            key = other if kind == "tenant_differs_from_key" else tenant
            produced = await writer.send(topic, value, key=key.encode(), event_id=event_id)
            poison[produced] = (kind, value)

    last_poison_at = time.monotonic()
    verdict = await verify(
        scope, triggers, last_fault_at=last_poison_at, terminal_bound_s=TERMINAL_BOUND_S, poison=list(poison)
    )
    run.report(verdict, faults={"poison_records": len(poison), "kinds": sorted(EXPECTED_REASON)})

    # the fault happened: every poison record is in the dead-letter topic, with the right reason,
    # the consumer that refused it, where it came from, and its original bytes
    for produced, (kind, value) in poison.items():
        record = verdict.parked.get((produced.topic, produced.partition, produced.offset))
        assert record is not None, f"{kind} on {produced.topic} was not parked"
        headers = record.headers
        assert EXPECTED_REASON[kind] in headers["dlq.reason"], (kind, headers["dlq.reason"])
        assert headers["dlq.consumer"] == CONSUMER[Topic(produced.topic)]
        assert headers["dlq.exception"] == b"InvalidMessageError"
        assert headers["dlq.attempts"] == b"1"
        assert record.value == value
    # no consumer crashed or was restarted
    assert all(fleet.running(name) for name in fleet.names())
    assert {name: fleet.pid(name) for name in fleet.names()} == pids
    assert verdict.figures["parked"] == len(poison) == len(POISON) * 2
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()
