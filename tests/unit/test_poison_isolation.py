"""One bad thing must not stop everything, the pure parts: the relay's batches by bytes, the size
guard's message, the quarantine's counting, and a deadline scan that goes on past a saga that raises
(docs/resilience.md). The same on the real broker and database: tests/faults/test_poison_isolation.py."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra.db import server_settings
from infra.messaging.outbox import Outgoing, PayloadLimits, PayloadTooLargeError, batch_by_bytes, check_size
from infra.settings import Settings
from orchestrator.engine import SagaStatus, StartSaga, decide, new_saga
from orchestrator.ports import SagaKind, SagaRecord
from orchestrator.quarantine import MemoryQuarantine, Scan
from orchestrator.saga import daily_plan_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.memory import MemoryStores

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=60),
    limit=st.integers(min_value=1, max_value=20_000),
)
def test_a_batch_is_the_longest_prefix_within_the_bytes_and_never_empty(sizes: list[int], limit: int) -> None:
    rows = list(enumerate(sizes))
    ids = batch_by_bytes(rows, limit)
    assert ids == list(range(len(ids)))  # a prefix, in id order
    assert len(ids) >= 1  # a row larger than the limit still leaves, alone
    taken = sum(sizes[: len(ids)])
    assert len(ids) == 1 or taken <= limit
    if len(ids) < len(sizes):
        assert taken + sizes[len(ids)] > limit  # the longest such prefix


def _alert(reason: str) -> Outgoing:
    message = SagaFailedAlert(
        event_id=uuid.uuid4(), tenant_id="bakery-7", saga_id=uuid.uuid4(), occurred_at=NOW, reason=reason
    )
    return Outgoing(Topic.ALERTS, message)


def test_a_payload_past_the_limit_is_refused_naming_the_message_the_size_and_the_setting() -> None:
    item = _alert("x" * 3000)
    check_size(item, PayloadLimits(max_bytes=len(item.payload)))  # at the limit: fine
    with pytest.raises(PayloadTooLargeError) as refused:
        check_size(item, PayloadLimits(max_bytes=len(item.payload) - 1))
    text = str(refused.value)
    assert "planning.saga_failed_alert" in text
    assert str(item.message.event_id) in text
    assert "tenant bakery-7" in text
    assert f"is {len(item.payload)} bytes" in text
    assert "BAKEPLAN_MAX_MESSAGE_BYTES" in text


async def test_the_quarantine_holds_an_item_after_the_threshold_and_alerts_once() -> None:
    quarantine = MemoryQuarantine(threshold=3)
    error = RuntimeError("boom")
    assert [await quarantine.failed(Scan.LOW_STOCK, "t1", tenant_id="t1", error=error, at=NOW) for _ in range(4)] == [
        False,
        False,
        True,
        False,
    ]
    assert (await quarantine.failing(Scan.LOW_STOCK))["t1"].quarantined
    assert len(quarantine.alerts) == 1
    await quarantine.failed(Scan.LOW_STOCK, "t2", tenant_id="t2", error=error, at=NOW)
    await quarantine.cleared(Scan.LOW_STOCK, "t2")  # a success in between starts the count again
    assert "t2" not in await quarantine.failing(Scan.LOW_STOCK)
    assert await quarantine.failing(Scan.SCHEDULES) == {}


async def test_the_deadline_scan_goes_on_past_a_saga_that_raises_and_quarantines_it() -> None:
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    stores = MemoryStores()
    state = decide(definition, new_saga(definition), StartSaga(NOW)).state
    good = [uuid.uuid4() for _ in range(5)]
    poison = uuid.uuid4()
    async with stores() as uow:
        for i, saga_id in enumerate([*good[:2], poison, *good[2:]]):
            # the orchestrator knows no low-stock saga here: applying a deadline to it raises KeyError
            kind = SagaKind.LOW_STOCK if saga_id == poison else SagaKind.DAILY
            record = SagaRecord(saga_id, f"bakery-{i}", NOW.date(), kind, state, uuid.uuid4(), "")
            assert await uow.sagas.add(record, at=NOW)
    clock = [NOW + timedelta(minutes=5)]
    quarantine = MemoryQuarantine(threshold=2)
    orchestrator = Orchestrator(
        stores, {SagaKind.DAILY: definition}, lambda: clock[0], lambda: None, quarantine=quarantine
    )
    assert await orchestrator.tick() == 6
    for saga_id in good:
        stored = stores.saga(saga_id)
        assert stored is not None
        assert stored.state.status is SagaStatus.COMPENSATING
    assert (await quarantine.failing(Scan.DEADLINES))[str(poison)].failures == 1
    await orchestrator.tick()
    assert (await quarantine.failing(Scan.DEADLINES))[str(poison)].quarantined
    assert [(scan, item) for scan, item, _ in quarantine.alerts] == [(Scan.DEADLINES, str(poison))]
    assert "KeyError" in quarantine.alerts[0][2]
    assert await orchestrator.tick() == 0  # quarantined: no longer due for the scan


def test_every_connection_starts_with_the_configured_timeouts() -> None:
    settings = Settings(statement_timeout_ms=1234, lock_timeout_ms=56, idle_in_transaction_timeout_ms=0)
    assert server_settings(settings) == {
        "statement_timeout": "1234",
        "lock_timeout": "56",
        "idle_in_transaction_session_timeout": "0",
    }


async def test_deadlines_are_held_while_the_broker_is_unreachable_and_moved_by_the_outage() -> None:
    step_timeout = timedelta(seconds=60)
    definition = daily_plan_definition(
        step_timeout=step_timeout, compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    stores = MemoryStores()
    state = decide(definition, new_saga(definition), StartSaga(NOW)).state
    saga_id = uuid.uuid4()
    async with stores() as uow:
        assert await uow.sagas.add(
            SagaRecord(saga_id, "bakery-1", NOW.date(), SagaKind.DAILY, state, uuid.uuid4(), ""), at=NOW
        )
    clock = [NOW]
    broker = {"up": True}

    async def reachable() -> bool:
        return broker["up"]

    orchestrator = Orchestrator(
        stores, {SagaKind.DAILY: definition}, lambda: clock[0], lambda: None, broker_reachable=reachable
    )

    def status() -> SagaStatus:
        stored = stores.saga(saga_id)
        assert stored is not None
        return stored.state.status

    broker["up"] = False
    clock[0] = NOW + timedelta(seconds=30)  # the outage starts
    assert await orchestrator.tick() == 0
    clock[0] = NOW + timedelta(seconds=200)  # far past the step's deadline, still down
    assert await orchestrator.tick() == 0
    assert status() is SagaStatus.RUNNING
    broker["up"] = True
    clock[0] = NOW + timedelta(seconds=230)  # back after 200 s: the deadline moves from +60 s to +260 s
    assert await orchestrator.tick() == 0
    assert status() is SagaStatus.RUNNING
    assert [line.kind for line in stores.timeline(saga_id)][-1] == "deadlines_held"
    clock[0] = NOW + timedelta(seconds=259)
    assert await orchestrator.tick() == 0
    clock[0] = NOW + timedelta(seconds=261)  # a step that still does not answer times out as usual
    assert await orchestrator.tick() == 1
    assert status() is SagaStatus.COMPENSATING
